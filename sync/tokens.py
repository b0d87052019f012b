"""A connection's tokens: obtained and renewed at the provider's token endpoint, kept encrypted.

Token requests are built and read by oauthlib's web-application client (the library under requests-oauthlib)
and sent over a guarded egress session. Plain http is decided here, per request, by
``sync_settings.ALLOW_HTTP`` (demos, internal networks) -- never by oauthlib's process-wide
``OAUTHLIB_INSECURE_TRANSPORT`` switch, which would hold for every thread of a worker at once.

Errors are oauthlib's (``InvalidGrantError`` …) for refusals from the endpoint, ``egress.Refused`` for a
destination the guard will not reach, ``requests.RequestException`` for transport failures and
``InsecureTransportError`` for an http URL that settings do not allow; callers decide what each means.
"""

from datetime import timedelta

from django.db.models import F
from django.utils import timezone
from oauthlib.oauth2 import InsecureTransportError, WebApplicationClient

from integrations import egress
from sync import crypto
from sync.conf import sync_settings
from sync.models import Connection, SyncSpec

USER_AGENT = "PartnerPortal-Sync/1.0"


class TokensChanged(Exception):
    """Another writer stored a newer token pair first (compare-and-set lost)."""


def plain_http_allowed(url: str) -> bool:
    return url.startswith("https://") or (url.startswith("http://") and sync_settings.ALLOW_HTTP)


def client_secret_of(connection: Connection) -> str:
    """The client secret the connection's token requests authenticate with."""
    if connection.kind == Connection.Kind.EXTERNAL:
        return crypto.decrypt(connection.client_secret_encrypted)
    spec = SyncSpec.objects.filter(app_id=connection.app_id).first()
    return crypto.decrypt(spec.client_secret_encrypted) if spec else ""


def _token_request(token_url: str, *, client_id: str, allow, body: str) -> dict:
    if not plain_http_allowed(token_url):
        raise InsecureTransportError()
    session = egress.session(purpose="sync token endpoint", allow=allow)
    try:
        response = session.post(token_url, data=body, timeout=sync_settings.HTTP_TIMEOUT_SECONDS, headers={
            "User-Agent": USER_AGENT, "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
    finally:
        session.close()
    # Raises oauthlib's error for an OAuth error body, and MissingTokenError for an answer without a token.
    return WebApplicationClient(client_id).parse_request_body_response(response.text)


def exchange_code(*, token_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str,
                  allow=()) -> dict:
    """The authorization-code grant: the token response as a dict."""
    body = WebApplicationClient(client_id).prepare_request_body(
        code=code, redirect_uri=redirect_uri, include_client_id=True, client_secret=client_secret)
    return _token_request(token_url, client_id=client_id, allow=allow, body=body)


def refresh(*, connection: Connection, refresh_token: str, allow=()) -> dict:
    """The refresh-token grant for ``connection``: the token response as a dict."""
    body = WebApplicationClient(connection.client_id).prepare_refresh_body(
        refresh_token=refresh_token, client_id=connection.client_id, client_secret=client_secret_of(connection))
    return _token_request(connection.token_url, client_id=connection.client_id, allow=allow, body=body)


def store_tokens(*, connection: Connection, token: dict, expected_version: int | None) -> int:
    """Write a token response into the connection, compare-and-set on ``token_version`` (None: any).
    Returns the new version. Raises TokensChanged if another writer got there first."""
    expires_in = token.get("expires_in")
    expires_at = timezone.now() + timedelta(seconds=int(expires_in)) if expires_in else None
    rows = Connection.objects.filter(pk=connection.pk)
    if expected_version is not None:
        rows = rows.filter(token_version=expected_version)
    updated = rows.update(
        access_token_encrypted=crypto.encrypt(token["access_token"]),
        refresh_token_encrypted=crypto.encrypt(token.get("refresh_token") or ""),
        token_expires_at=expires_at, token_version=F("token_version") + 1, updated_at=timezone.now(),
    )
    if not updated:
        raise TokensChanged("the connection's tokens changed while refreshing")
    connection.refresh_from_db(fields=["access_token_encrypted", "refresh_token_encrypted", "token_expires_at",
                                       "token_version"])
    return connection.token_version

