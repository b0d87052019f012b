"""django-oauth-toolkit's token models, swapped in so that every grant and token is bound to the
installation (one app in one account) it was issued for. A token of account A therefore cannot be
used on account B's API, and turning an app off can revoke exactly that installation's tokens."""

from django.db import models
from oauth2_provider.models import AbstractAccessToken, AbstractGrant, AbstractIDToken, AbstractRefreshToken

from accounts.models import Account
from portal.models import Installation


class Grant(AbstractGrant):
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    installation = models.ForeignKey(
        Installation, null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )


class AccessToken(AbstractAccessToken):
    installation = models.ForeignKey(
        Installation, null=True, blank=True, on_delete=models.CASCADE, related_name="access_tokens"
    )


class RefreshToken(AbstractRefreshToken):
    installation = models.ForeignKey(
        Installation, null=True, blank=True, on_delete=models.CASCADE, related_name="refresh_tokens"
    )


class IDToken(AbstractIDToken):
    pass
