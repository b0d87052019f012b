"""django-oauth-toolkit customised for accounts: every code and token belongs to one installation.

The views put the account code of the URL into the request as ``PORTAL_ACCOUNT_CODE`` (a META key a
client cannot set, since client headers arrive prefixed with HTTP_). The validator checks that a code
or refresh token is used at its own account's token endpoint, that the installation is still on
and the app not suspended, and adds the Brightpearl fields to the token response.
"""

import hashlib

from django.db.models import F
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from integrations.conf import integrations_settings
from integrations.models import AccessToken, Grant, RefreshToken
from portal.models import Installation

ACCOUNT_HEADER = "PORTAL_ACCOUNT_CODE"


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


class PortalOAuth2Validator(OAuth2Validator):
    def _account_code(self, request) -> str | None:
        return request.headers.get(ACCOUNT_HEADER)

    def _create_authorization_code(self, request, code, expires=None):
        grant = super()._create_authorization_code(request, code, expires)
        installation = Installation.objects.get(pk=request.installation_id)
        Grant.objects.filter(pk=grant.pk).update(installation=installation, account_id=installation.account_id)
        return grant

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        grant = Grant.objects.select_related("installation__app", "installation__account").get(
            code=code, application=client)
        if not _installation_usable(grant.installation, self._account_code(request)):
            return False
        request.installation = grant.installation
        return True

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs):
        # The protocol answers a redirect URI that differs from the authorize-time one with
        # invalid_grant (oauthlib's default would be invalid_request).
        if not super().confirm_redirect_uri(client_id, code, redirect_uri, client, *args, **kwargs):
            raise errors.InvalidGrantError(description="redirect_uri does not match the authorization request.",
                                           request=kwargs.get("request") or (args[0] if args else None))
        return True

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        # The toolkit accepted it: unrevoked, or replaced a moment ago and replayed within the grace period
        # (a client that never received the rotated pair retries; it gets that same pair again).
        checksum = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()
        row = (RefreshToken.objects.select_related("installation__app", "installation__account")
               .filter(token_checksum=checksum).order_by(F("revoked").desc(nulls_first=True)).first())
        if row is None or not _installation_usable(row.installation, self._account_code(request)):
            return False
        request.installation = row.installation
        return True

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access = super()._create_access_token(expires, request, token, source_refresh_token)
        AccessToken.objects.filter(pk=access.pk).update(installation=request.installation)
        access.installation = request.installation
        return access

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        RefreshToken.objects.filter(pk=refresh.pk).update(installation=request.installation)
        return refresh

    def save_bearer_token(self, token, request, *args, **kwargs):
        super().save_bearer_token(token, request, *args, **kwargs)
        # Brightpearl-shaped response: the installation instance and where the account's API is.
        token["installation_instance_id"] = str(request.installation.pk)
        token["api_domain"] = api_domain()
