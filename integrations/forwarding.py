"""Forwarding mode: the gateway in front of another Brightpearl-style API.

When ``integrations_settings.UPSTREAM_API_URL`` (env ``UPSTREAM_API_URL``) is set, every authorised and admitted
API request is sent on to ``<upstream>/<path after /public-api/>?<query>`` with its method and body,
and the upstream's status and body come back to the client (the gateway adds its throttle headers).
The caller's credentials are not passed on; the upstream learns who called from headers it can
trust because only the gateway sets them:

- ``X-Portal-Account``: the account code;
- ``X-Portal-App-Ref``: the app reference (OAuth) or private app identifier (staff token);
- ``X-Portal-Caller``: ``installation`` or ``staff``;
- ``X-Portal-Installation``: the installation id (OAuth), or ``X-Portal-Staff-Token``: the staff
  token's id.

An unreachable or timed-out upstream is answered with 502 and an ``UPSTREAM_UNAVAILABLE`` envelope.

Requests go out through ``integrations.egress`` with the upstream's origin as an explicit allowance:
the operator's own service may be on a private network; no other destination is reachable from here.
"""

import logging
import threading

import requests
from django.http import HttpRequest, HttpResponse, JsonResponse

from integrations import egress
from integrations.conf import integrations_settings

logger = logging.getLogger(__name__)

API_PREFIX = "/public-api/"
PASSED_REQUEST_HEADERS = ("Content-Type", "Accept", "Accept-Language")
PASSED_RESPONSE_HEADERS = ("Content-Type", "Content-Language", "Location", "Cache-Control")
MAX_RESPONSE_BYTES = 32 * 1024 * 1024

_sessions = threading.local()


def upstream_url() -> str:
    """The configured upstream base URL without a trailing slash ("" when forwarding is off)."""
    return integrations_settings.UPSTREAM_API_URL


def is_enabled() -> bool:
    return bool(upstream_url())


def _session() -> requests.Session:
    # One keep-alive session per thread (requests.Session is not documented as thread-safe), allowed to
    # reach the configured upstream (a new one if the setting changed).
    base = upstream_url()
    held = getattr(_sessions, "held", None)
    if held is None or held[0] != base:
        if held is not None:
            held[1].close()
        timeout = integrations_settings.UPSTREAM_TIMEOUT_SECONDS
        session = egress.session(purpose="upstream API", allow=(base,), trust_env=True,
                                 max_bytes=MAX_RESPONSE_BYTES, max_seconds=3 * timeout)
        held = _sessions.held = (base, session)
    return held[1]


def forward(request: HttpRequest, *, caller) -> HttpResponse:
    """Send the request upstream on behalf of ``caller`` (a gateway Caller) and return the
    upstream's answer. Raises nothing for network failures: they become a 502 envelope."""
    path = request.path_info
    rest = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path.lstrip("/")
    url = f"{upstream_url()}/{rest}"
    query = request.META.get("QUERY_STRING", "")
    if query:
        url = f"{url}?{query}"
    headers = {name: request.headers[name] for name in PASSED_REQUEST_HEADERS if name in request.headers}
    headers.update({
        "X-Portal-Account": caller.account.code,
        "X-Portal-App-Ref": caller.app_ref,
        "X-Portal-Caller": caller.kind,
        "X-Forwarded-For": request.META.get("REMOTE_ADDR", ""),
    })
    if caller.installation is not None:
        headers["X-Portal-Installation"] = str(caller.installation.pk)
    else:
        headers["X-Portal-Staff-Token"] = str(caller.staff_token.pk)
    timeout = integrations_settings.UPSTREAM_TIMEOUT_SECONDS
    try:
        upstream = _session().request(
            request.method, url, data=request.body or None, headers=headers,
            timeout=(min(timeout, 5.0), timeout), allow_redirects=False,
        )
    except requests.RequestException as error:
        logger.warning("upstream API %s unreachable for %s %s: %s", upstream_url(), request.method, rest, error)
        return JsonResponse({"errors": [{"code": "UPSTREAM_UNAVAILABLE",
                                         "message": "The upstream API did not answer. Please retry shortly."}]},
                            status=502)
    response = HttpResponse(upstream.content, status=upstream.status_code)
    for name in PASSED_RESPONSE_HEADERS:
        if name in upstream.headers:
            response[name] = upstream.headers[name]
    return response
