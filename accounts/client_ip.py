"""The address of the client that sent a request, as far as the deployment can vouch for it.

Behind N trusted reverse proxies (``ALLAUTH_TRUSTED_PROXY_COUNT``, from the ``TRUSTED_PROXY_COUNT``
environment variable) the client is the N-th address from the right of ``X-Forwarded-For``: the
entries further left were written by the client and prove nothing. Without trusted proxies it is
``REMOTE_ADDR``. allauth reads the same setting, so sign-in limits and the API gateway agree on who
the client is.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address ('' when there is none to read)."""
    trusted = int(getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", 0) or 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if trusted > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        if len(hops) >= trusted:
            return _clean(hops[-trusted])
    return _clean(request.META.get("REMOTE_ADDR", ""))


def _clean(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return ""
