"""django-oauth-toolkit customised for accounts: every code and token belongs to one installation.

The views put the account code of the URL into the request as ``PORTAL_ACCOUNT_CODE`` (a META key a
client cannot set, since client headers arrive prefixed with HTTP_). The validator checks that a code
or refresh token is used at its own account's token endpoint, that the installation is still on
and the app not suspended, and shapes the token response like the reference platform's.

Storage: access and refresh tokens are kept only as SHA-256 checksums (the toolkit's hashed token
storage), and so are authorization codes: the backend hands the toolkit the checksum of the code a
client sends, and the grant row stores the checksum of the code it issued. A redeemed grant is kept
(``redeemed_at``) until it expires, so that a replayed code can revoke what it issued. See docs/oauth.md.
"""

import base64
import binascii
import hashlib
import logging
import re
import uuid
from urllib.parse import unquote_plus

import redis
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.oauth2_backends import OAuthLibCore, get_oauthlib_core
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request as OauthlibRequest
from oauthlib.oauth2.rfc6749 import errors

from integrations.conf import integrations_settings
from integrations.models import AccessToken, Grant, RefreshToken
from integrations.ratelimit import SlidingLogLimiter
from integrations.redis_client import api_redis
from portal.models import App, Installation

logger = logging.getLogger(__name__)

ACCOUNT_HEADER = "PORTAL_ACCOUNT_CODE"

# The reference platform's error descriptions (recorded), which some clients show to their users.
UNKNOWN_CODE = "The auth token has either expired or does not exist"
REDIRECT_MISMATCH = "Redirect uri does not match that used to request auth token"
UNKNOWN_REFRESH_TOKEN = "The refresh token has either expired, been revoked or does not exist"
# RFC 7636 §4.1-4.2: 43-128 characters of ALPHA / DIGIT / "-" / "." / "_" / "~".
CODE_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def token_checksum(raw: str) -> str:
    """How every token, code and secret-like value is stored and looked up: SHA-256, hex."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_domain() -> str:
    """Host (no scheme) where accounts' APIs live, as returned in token responses."""
    return integrations_settings.API_DOMAIN


def _installation_usable(installation: Installation | None, account_code: str | None) -> bool:
    return bool(
        installation is not None
        and installation.is_enabled
        and installation.app.suspended_at is None
        and installation.account.code == account_code
    )


def revoke_grant_descendants(grant: Grant) -> None:
    """RFC 6749 §10.5: a code used twice revokes the tokens issued from it (the whole refresh-token
    family that its exchange started, and every access token of that family)."""
    if grant.token_family:
        RefreshToken.revoke_family(grant.token_family)


class PortalOAuthLibCore(OAuthLibCore):
    """The toolkit's bridge to oauthlib, with the portal's input rules."""

    def extract_body(self, request):
        # The grant row holds only the checksum of its code, so that is what the toolkit looks up.
        body = super().extract_body(request)
        if request.POST.get("grant_type") != "authorization_code":
            return body
        return [(key, token_checksum(value) if key == "code" and value else value) for key, value in body]

    def validate_authorization_request(self, request):
        """The toolkit's checks, then ours, before the consent page is shown or approved: PKCE only
        with S256 and a well-formed challenge (RFC 7636), no resource indicators (RFC 8707; the
        platform is one resource server)."""
        scopes, credentials = super().validate_authorization_request(request)
        params, state = request.GET, request.GET.get("state") or None
        problem = None
        if "resource" in params:
            problem = errors.CustomOAuth2Error(
                error="invalid_target", state=state,
                description="Resource indicators are not supported; omit the resource parameter.")
        elif "code_challenge" in params or "code_challenge_method" in params:
            if params.get("code_challenge_method") != "S256":
                problem = errors.InvalidRequestError(
                    state=state, description="code_challenge_method must be S256 (plain is not accepted).")
            elif not CODE_CHALLENGE.fullmatch(params.get("code_challenge", "")):
                problem = errors.InvalidRequestError(
                    state=state, description="code_challenge must be 43-128 characters of A-Z a-z 0-9 - . _ ~.")
        if problem is not None:
            raise OAuthToolkitError(error=problem)
        return scopes, credentials


class PortalOAuth2Validator(OAuth2Validator):
    def _account_code(self, request) -> str | None:
        return request.headers.get(ACCOUNT_HEADER)

    # --- client authentication ---------------------------------------------------------------------

    def _refresh_without_secret(self, request) -> bool:
        return bool(
            integrations_settings.OAUTH_REFRESH_WITHOUT_SECRET
            and request.grant_type == "refresh_token"
            and not self._extract_basic_auth(request)
            and not getattr(request, "client_secret", None)
        )

    def client_authentication_required(self, request, *args, **kwargs):
        # Compatibility: the reference answers a refresh that names the client without its secret.
        if self._refresh_without_secret(request):
            return False
        return super().client_authentication_required(request, *args, **kwargs)

    def authenticate_client_id(self, client_id, request, *args, **kwargs):
        if self._refresh_without_secret(request):
            return self._load_application(client_id, request) is not None
        return super().authenticate_client_id(client_id, request, *args, **kwargs)

    def authenticate_client(self, request, *args, **kwargs):
        if super().authenticate_client(request, *args, **kwargs):
            return True
        # During a secret rotation's overlap the previous secret still authenticates the client.
        client_id, secret = self._presented_credentials(request)
        if not client_id or secret is None:
            return False
        client = self._load_application(client_id, request)
        return bool(client is not None and client.previous_secret_matches(secret))

    def _presented_credentials(self, request) -> tuple[str | None, str | None]:
        """(client id, secret) from HTTP Basic, else from the body (RFC 6749 §2.3.1)."""
        basic = self._extract_basic_auth(request)
        if basic:
            return decode_basic(basic) or (None, None)
        return getattr(request, "client_id", None), getattr(request, "client_secret", None)

    # --- authorization codes -----------------------------------------------------------------------

    def _create_authorization_code(self, request, code, expires=None):
        stored = {**code, "code": token_checksum(code["code"])}
        grant = super()._create_authorization_code(request, stored, expires)
        installation = Installation.objects.get(pk=request.installation_id)
        Grant.objects.filter(pk=grant.pk).update(installation=installation, account_id=installation.account_id)
        return grant

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        # The row lock makes concurrent redemptions of one code wait for the first to commit; they
        # then see it redeemed. (SQLite serialises write transactions, which gives the same order.)
        # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the outer join to the installation.
        grant = (Grant.objects.select_for_update(of=("self",))
                 .select_related("installation__app", "installation__account")
                 .filter(code=code, application=client).first())
        if grant is None:
            raise errors.InvalidGrantError(description=UNKNOWN_CODE, request=request)
        if grant.redeemed_at is not None:
            revoke_grant_descendants(grant)
            raise errors.InvalidGrantError(description=UNKNOWN_CODE, request=request)
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            raise errors.InvalidGrantError(description=UNKNOWN_CODE, request=request)
        if not _installation_usable(grant.installation, self._account_code(request)):
            raise errors.InvalidGrantError(description=UNKNOWN_CODE, request=request)
        request.installation = grant.installation
        request.portal_grant = grant
        return True

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs):
        # The protocol answers a redirect URI that differs from the authorize-time one with
        # invalid_grant (oauthlib's default would be invalid_request).
        if not super().confirm_redirect_uri(client_id, code, redirect_uri, client, *args, **kwargs):
            raise errors.InvalidGrantError(description=REDIRECT_MISMATCH,
                                           request=kwargs.get("request") or (args[0] if args else None))
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        """Mark the grant redeemed (kept until it expires, for replay detection) instead of deleting it."""
        redeemed = Grant.objects.filter(code=code, application=request.client, redeemed_at__isnull=True).update(
            redeemed_at=timezone.now())
        if not redeemed:
            # Only reachable if the row lock was bypassed: issue nothing rather than two token pairs.
            transaction.set_rollback(True)
            raise errors.InvalidGrantError(description=UNKNOWN_CODE, request=request)

    # --- refresh tokens ----------------------------------------------------------------------------

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            raise errors.InvalidGrantError(description=UNKNOWN_REFRESH_TOKEN, request=request)
        # The toolkit accepted it: unrevoked, or replaced a moment ago and replayed within the grace period.
        row = (RefreshToken.objects.select_related("installation__app", "installation__account")
               .filter(token_checksum=token_checksum(refresh_token))
               .order_by(F("revoked").desc(nulls_first=True)).first())
        if row is None or not _installation_usable(row.installation, self._account_code(request)):
            raise errors.InvalidGrantError(description=UNKNOWN_REFRESH_TOKEN, request=request)
        request.installation = row.installation
        return True

    def _save_bearer_token(self, token, request, *args, **kwargs):
        replaced = getattr(request, "refresh_token_instance", None)
        if request.grant_type == "refresh_token" and replaced is not None and replaced.revoked is not None:
            self._retire_unreceived_successor(replaced)
        return super()._save_bearer_token(token, request, *args, **kwargs)

    @staticmethod
    def _retire_unreceived_successor(replaced: RefreshToken) -> None:
        """A refresh token replayed within the grace period: its client did not receive the pair that
        replaced it. Only checksums are stored, so that pair cannot be sent again; it is retired
        instead (its access token deleted, its refresh token revoked as never used, so that presenting
        it later revokes the whole family) and the toolkit issues a fresh pair in the same family."""
        RefreshToken.objects.select_for_update().filter(pk=replaced.pk).first()
        successor = AccessToken.objects.filter(source_refresh_token=replaced).first()
        if successor is None:
            return
        successor_refresh = RefreshToken.objects.filter(access_token=successor).first()
        if successor_refresh is not None:
            successor_refresh.revoke()
        else:
            successor.revoke()

    # --- issuing -----------------------------------------------------------------------------------

    # The toolkit's two token constructors, with the installation written in the same INSERT (one query
    # each instead of an INSERT and an UPDATE: the token endpoint's floor is its lookups and its writes).

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        id_token = token.get("id_token", None)
        access = AccessToken(
            user=request.user, scope=token["scope"], expires=expires,
            id_token=self._load_id_token(id_token) if id_token else None, application=request.client,
            source_refresh_token=source_refresh_token, resource=getattr(request, "resource", []),
            installation=request.installation,
        )
        self._set_token_value(access, token["access_token"])
        access.save()
        return access

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh = RefreshToken(
            user=request.user, application=request.client, access_token=access_token,
            token_family=previous_refresh_token.token_family if previous_refresh_token else uuid.uuid4(),
            resource=getattr(request, "resource", []), installation=request.installation,
        )
        self._set_token_value(refresh, refresh_token_code)
        refresh.save()
        grant = getattr(request, "portal_grant", None)
        if previous_refresh_token is None and grant is not None:
            # The family this code started, so that a replay of the code can revoke it.
            Grant.objects.filter(pk=grant.pk).update(token_family=refresh.token_family)
        return refresh

    def save_bearer_token(self, token, request, *args, **kwargs):
        super().save_bearer_token(token, request, *args, **kwargs)
        # Shaped like the reference platform's answer: its keys in its order, no scope; the
        # installation instance only in the answer to a code exchange.
        shaped = {"access_token": token["access_token"], "refresh_token": token.get("refresh_token")}
        if request.grant_type == "authorization_code":
            shaped["installation_instance_id"] = str(request.installation.pk)
        shaped.update(api_domain=api_domain(), token_type=token["token_type"], expires_in=token["expires_in"])
        token.clear()
        token.update({key: value for key, value in shaped.items() if value is not None})


# --- Introspection (RFC 7662) ------------------------------------------------------------------------


def authenticated_client(request) -> App | None:
    """The confidential client a request authenticates as (HTTP Basic or body credentials), if any."""
    core = get_oauthlib_core()
    body = [(key, value) for key, value in request.POST.items() if key in ("client_id", "client_secret")]
    oauth_request = OauthlibRequest(request.build_absolute_uri(), http_method="POST", body=body,
                                    headers=core.extract_headers(request))
    if not core.server.request_validator.authenticate_client(oauth_request):
        return None
    client = oauth_request.client
    return client if client is not None and client.client_type == App.CLIENT_CONFIDENTIAL else None


def token_introspection(*, caller: App, raw_token: str) -> dict:
    """What an introspecting client may learn about an access token: everything when the token is its
    own (or the caller is a configured resource server), otherwise only that it is not active."""
    token = (AccessToken.objects.select_related("application", "installation__app", "installation__account")
             .filter(token_checksum=token_checksum(raw_token)).first())
    if token is None or token.is_expired() or token.installation is None:
        return {"active": False}
    if token.application_id != caller.pk and caller.client_id not in integrations_settings.OAUTH_INTROSPECTION_CLIENTS:
        return {"active": False}
    installation = token.installation
    if not _installation_usable(installation, installation.account.code):
        return {"active": False}
    return {
        "active": True, "client_id": token.application.client_id, "token_type": "Bearer",
        "exp": int(token.expires.timestamp()), "iat": int(token.created.timestamp()),
        "installation_instance_id": str(installation.pk), "account_code": installation.account.code,
    }


# --- Token-endpoint rate limits ----------------------------------------------------------------------

_limiter: tuple[redis.Redis, SlidingLogLimiter] | None = None


def _token_limiter() -> SlidingLogLimiter:
    global _limiter
    client = api_redis()
    if _limiter is None or _limiter[0] is not client:
        _limiter = (client, SlidingLogLimiter(client))
    return _limiter[1]


def token_request_retry_after(*, client_id: str, address: str) -> int | None:
    """Admit one token-endpoint request, counted per client address and per client id from that address
    (the pools of the project's Redis limiter): client ids are not secret, so a pool of a client id alone
    could be spent by anyone naming it, locking the app out of its own refreshes. Returns None when
    admitted, else the seconds to wait. When Redis cannot be reached the request is admitted (the endpoint
    still authenticates every request)."""
    window = integrations_settings.OAUTH_TOKEN_LIMIT_WINDOW_SECONDS
    pools = [(f"oauth-token:address:{address}", integrations_settings.OAUTH_TOKEN_LIMIT_PER_ADDRESS)]
    if client_id:
        pools.append((f"oauth-token:client:{client_id}:{address}", integrations_settings.OAUTH_TOKEN_LIMIT_PER_CLIENT))
    try:
        for pool, limit in pools:
            if limit <= 0:
                continue
            decision = _token_limiter().hit(pool, limit=limit, window_s=window)
            if not decision.allowed:
                return decision.retry_after_s
    except (redis.RedisError, OSError) as error:
        logger.error("token endpoint rate limiter unreachable (%s); admitting the request", type(error).__name__)
    return None


def decode_basic(credentials: str) -> tuple[str, str] | None:
    """(client id, secret) of an HTTP Basic credentials string (base64 of form-encoded id:secret)."""
    try:
        client_id, secret = base64.b64decode(credentials, validate=True).decode("utf-8").split(":", 1)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def presented_client_id(request) -> str:
    """The client id a token request names (HTTP Basic first, then the body), not yet authenticated."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Basic "):
        return (decode_basic(header[6:].strip()) or ("", ""))[0]
    return request.POST.get("client_id", "")
