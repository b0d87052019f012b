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


class Product(models.Model):
    """A product of one platform account (built-in API resource)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    brand = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    stock = models.IntegerField(default=0)
    status = models.CharField(max_length=20, default="LIVE")
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["account", "sku"], name="product_sku_per_account")]
        indexes = [models.Index(fields=["account", "updated_on"])]


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    company = models.CharField(max_length=200, blank=True)
    is_supplier = models.BooleanField(default=False)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "updated_on"])]


class Order(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    reference = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=30, default="NEW")
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="GBP")
    placed_on = models.DateTimeField()
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "updated_on"])]
