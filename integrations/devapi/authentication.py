"""Developer API keys as a DRF authentication class."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import DeveloperApiKey
from accounts.tokens import developer_api_key_lookup

# last_used_at is for people ("used 3 minutes ago"), so one write a minute per key is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
REALM = "developer-api"


def raw_key_of(request) -> str:
    """The key from ``Authorization: Bearer <key>`` or, failing that, ``X-Api-Key: <key>``."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-Api-Key", "").strip()


class DeveloperApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates as the user who owns the developer API key; ``request.auth`` is the key row.

    No key → not authenticated (401 from the permission check); an unknown or revoked key, or one of
    an inactive user → 401 at once."""

    def authenticate(self, request):
        raw = raw_key_of(request)
        if not raw:
            return None
        key = developer_api_key_lookup(raw_key=raw)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        _touch(key)
        return key.user, key

    def authenticate_header(self, request):
        # Having a WWW-Authenticate value makes DRF answer 401 (not 403) to unauthenticated requests.
        return f'Bearer realm="{REALM}"'


def _touch(key: DeveloperApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        DeveloperApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now

