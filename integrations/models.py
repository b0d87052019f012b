"""django-oauth-toolkit's token models, swapped in so that every grant and token is bound to the
installation (one app in one account) it was issued for. A token of account A therefore cannot be
used on account B's API, and turning an app off can revoke exactly that installation's tokens."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from oauth2_provider.models import AbstractAccessToken, AbstractGrant, AbstractIDToken, AbstractRefreshToken

from accounts.models import Account
from integrations.ratelimit import installation_pool_name
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


# --- Signed outbound deliveries (integrations/deliveries.py sends them) -----------------------------------

class Delivery(models.Model):
    """A signed request the portal owes an app: made once, then tried until the app answers 2xx or the
    delivery gives up. Each concrete kind (install/uninstall callbacks here, webhooks in sync) adds what the
    request is about and an attempt log (``attempt_log``)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting for its next attempt (next_attempt_at)
        DELIVERED = "delivered", "Delivered"  # the app answered 2xx
        FAILED = "failed", "Failed"  # every attempt failed, or the URL may not be called
        CANCELLED = "cancelled", "Cancelled"  # no longer true or wanted: not sent again

    url = models.URLField(max_length=500)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Attempts made before the latest redelivery: each redelivery gets the full number of attempts again.
    attempts_before_redelivery = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class DeliveryAttempt(models.Model):
    """One request of a delivery, with what came back. Concrete kinds add ``delivery`` (related name
    ``attempt_log``)."""

    number = models.PositiveSmallIntegerField()
    url = models.URLField(max_length=500, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The start of the answer.")
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def delivered(self) -> bool:
        """The one rule: a delivery is delivered when the app answers 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


class CallbackDelivery(Delivery):
    """The install or uninstall callback of one turn of an installation on or off."""

    class Kind(models.TextChoices):
        INSTALL = "install", "Install"
        UNINSTALL = "uninstall", "Uninstall"

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="callback_deliveries")
    kind = models.CharField(max_length=10, choices=Kind.choices)

    class Meta(Delivery.Meta):
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="callback_delivery_due")]

    def __str__(self):
        return f"{self.kind} callback of installation {self.installation_id}"


class CallbackAttempt(DeliveryAttempt):
    """One call of an app's install or uninstall callback URL, as the developer sees it. (The table is the
    one the portal app made when it logged callbacks itself.)"""

    delivery = models.ForeignKey(CallbackDelivery, on_delete=models.CASCADE, related_name="attempt_log")

    class Meta(DeliveryAttempt.Meta):
        db_table = "portal_callbackattempt"
