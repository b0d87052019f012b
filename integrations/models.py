"""django-oauth-toolkit's token models, swapped in so that every grant and token is bound to the
installation (one app in one account) it was issued for. A token of account A therefore cannot be
used on account B's API, and turning an app off can revoke exactly that installation's tokens."""

from django.db import models
from django.utils import timezone
from oauth2_provider.models import AbstractAccessToken, AbstractGrant, AbstractIDToken, AbstractRefreshToken

from accounts.models import Account
from portal.models import Installation


class Grant(AbstractGrant):
    """An authorization code. ``code`` holds the SHA-256 checksum of the code, never the code itself.
    A redeemed grant is kept until it expires, so that a replay can revoke what it issued."""

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    installation = models.ForeignKey(
        Installation, null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    redeemed_at = models.DateTimeField(null=True, blank=True)
    # The refresh-token family its exchange started.
    token_family = models.UUIDField(null=True, blank=True, editable=False)


class AccessToken(AbstractAccessToken):
    """``token`` is left empty: only ``token_checksum`` (SHA-256) is stored. The same for refresh tokens."""

    installation = models.ForeignKey(
        Installation, null=True, blank=True, on_delete=models.CASCADE, related_name="access_tokens"
    )


class RefreshToken(AbstractRefreshToken):
    installation = models.ForeignKey(
        Installation, null=True, blank=True, on_delete=models.CASCADE, related_name="refresh_tokens"
    )


class IDToken(AbstractIDToken):
    pass


# --- Platform API data ---------------------------------------------------------------------------------
# The records behind the Brightpearl-compatible API of each account. Columns that searches filter or sort
# on are real (indexed) fields; the deep rest of a Brightpearl record (descriptions, dimensions, parties,
# custom fields, ...) is kept in ``document``, a JSON object in the API's own camel-case shape. The record
# shapes are built in ``integrations.shapes``.


class ApiLookup(models.Model):
    """One entry of an account's lookup lists: brands, categories, sales channels, warehouses, product
    types, order statuses, tax codes, shipping methods. ``ref_id`` is the id clients see."""

    class Kind(models.TextChoices):
        BRAND = "brand", "Brand"
        CATEGORY = "category", "Category"
        CHANNEL = "channel", "Sales channel"
        WAREHOUSE = "warehouse", "Warehouse"
        PRODUCT_TYPE = "product_type", "Product type"
        ORDER_STATUS = "order_status", "Order status"
        TAX_CODE = "tax_code", "Tax code"
        SHIPPING_METHOD = "shipping_method", "Shipping method"
        CONTACT_GROUP = "contact_group", "Contact group"
        TAG = "tag", "Contact tag"
        LEAD_SOURCE = "lead_source", "Lead source"
        COMPANY = "company", "Company"
        CURRENCY = "currency", "Currency"
        NOMINAL_CODE = "nominal_code", "Nominal code"
        PAYMENT_METHOD = "payment_method", "Payment method"
        ACCOUNTING_PERIOD = "accounting_period", "Accounting period"
        OPTION = "option", "Product option"
        OPTION_VALUE = "option_value", "Product option value"
        SEASON = "season", "Season"
        COLLECTION = "collection", "Collection"
        CHANNEL_BRAND = "channel_brand", "Channel brand"
        LOCATION = "location", "Warehouse location"
        ZONE = "zone", "Warehouse zone"
        CUSTOM_FIELD = "custom_field", "Custom field definition"
        GOODS_IN_NOTE = "goods_in_note", "Goods-in note"
        GOODS_MOVEMENT = "goods_movement", "Goods movement"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    ref_id = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=50, blank=True)
    document = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["kind", "ref_id"]
        constraints = [models.UniqueConstraint(fields=["account", "kind", "ref_id"], name="api_lookup_ref_per_kind")]

    def __str__(self):
        return f"{self.kind} {self.ref_id} {self.name}"


class PriceList(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=100)
    currency_code = models.CharField(max_length=3, default="GBP")
    currency_id = models.PositiveIntegerField(default=1)
    price_list_type = models.CharField(max_length=4, default="SELL")  # BUY | SELL
    gross = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["account", "code"], name="price_list_code_per_account")]


class Product(models.Model):
    """A product of one platform account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    barcode = models.CharField(max_length=64, blank=True)
    ean = models.CharField(max_length=64, blank=True)
    upc = models.CharField(max_length=64, blank=True)
    isbn = models.CharField(max_length=64, blank=True)
    mpn = models.CharField(max_length=64, blank=True)
    stock_tracked = models.BooleanField(default=True)
    brand_id = models.PositiveIntegerField(null=True, blank=True)
    product_type_id = models.PositiveIntegerField(null=True, blank=True)
    product_group_id = models.PositiveIntegerField(null=True, blank=True)
    primary_supplier_id = models.PositiveIntegerField(null=True, blank=True)
    # Brightpearl category ids, the first one primary (the search's brightpearlCategoryCode).
    category_ids = models.JSONField(default=list, blank=True)
    primary_category_id = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, default="LIVE")
    document = models.JSONField(default=dict, blank=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["id"]
        # Brightpearl allows products without a SKU; a SKU that is given is unique in the account.
        constraints = [models.UniqueConstraint(fields=["account", "sku"], condition=~models.Q(sku=""),
                                               name="product_sku_per_account")]
        indexes = [models.Index(fields=["account", "updated_on"]), models.Index(fields=["account", "sku"])]


class ProductPrice(models.Model):
    """A product's prices in one price list: quantity break ("1", "10", ...) → price string."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="prices")
    quantity_prices = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["product_id", "price_list_id"]
        constraints = [models.UniqueConstraint(fields=["product", "price_list"], name="one_price_row_per_list")]


class ProductStock(models.Model):
    """Stock of a product in one warehouse (``warehouse_id`` is a warehouse lookup's ref_id)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="stock_levels")
    warehouse_id = models.PositiveIntegerField()
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)
    in_transit = models.IntegerField(default=0)

    class Meta:
        ordering = ["product_id", "warehouse_id"]
        constraints = [models.UniqueConstraint(fields=["product", "warehouse_id"], name="one_stock_row_per_warehouse")]


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    salutation = models.CharField(max_length=20, blank=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    secondary_email = models.EmailField(blank=True)
    tertiary_email = models.EmailField(blank=True)
    telephone = models.CharField(max_length=40, blank=True)
    secondary_telephone = models.CharField(max_length=40, blank=True)
    mobile = models.CharField(max_length=40, blank=True)
    company = models.CharField(max_length=200, blank=True)
    job_title = models.CharField(max_length=100, blank=True)
    is_supplier = models.BooleanField(default=False)
    is_customer = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    is_primary_contact = models.BooleanField(default=True)
    nominal_code = models.PositiveIntegerField(null=True, blank=True)
    created_by_id = models.PositiveIntegerField(default=4)
    last_contacted_on = models.DateTimeField(null=True, blank=True)
    last_ordered_on = models.DateTimeField(null=True, blank=True)
    document = models.JSONField(default=dict, blank=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "updated_on"]), models.Index(fields=["account", "email"])]


class PostalAddress(models.Model):
    """An address of a contact; a contact's default, billing and delivery addresses point here."""

    class Role(models.TextChoices):
        DEFAULT = "DEF", "Default"
        BILLING = "BIL", "Billing"
        DELIVERY = "DEL", "Delivery"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="addresses")
    roles = models.CharField(max_length=20, blank=True, help_text="Comma-separated DEF, BIL, DEL.")
    address_line1 = models.CharField(max_length=100, blank=True)
    address_line2 = models.CharField(max_length=100, blank=True)
    address_line3 = models.CharField(max_length=100, blank=True)
    address_line4 = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country_iso_code = models.CharField(max_length=3, blank=True)

    class Meta:
        ordering = ["id"]


class Order(models.Model):
    """An order (sales order, purchase order, sales or purchase credit) of one platform account."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    order_type_code = models.CharField(max_length=2, default="SO")  # SO | PO | SC | PC
    parent_order_id = models.PositiveIntegerField(default=0)
    reference = models.CharField(max_length=64, blank=True)
    external_ref = models.CharField(max_length=64, blank=True)
    order_status_id = models.PositiveIntegerField(default=1)
    stock_status_code = models.CharField(max_length=3, default="SON")
    allocation_status_code = models.CharField(max_length=3, default="ANA")
    shipping_status_code = models.CharField(max_length=3, default="SNS")
    payment_status = models.CharField(max_length=20, default="UNPAID")
    currency = models.CharField(max_length=3, default="GBP")
    net = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    tax = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    price_list_id = models.PositiveIntegerField(null=True, blank=True)
    warehouse_id = models.PositiveIntegerField(null=True, blank=True)
    channel_id = models.PositiveIntegerField(null=True, blank=True)
    staff_owner_id = models.PositiveIntegerField(null=True, blank=True)
    created_by_id = models.PositiveIntegerField(default=4)
    department_id = models.PositiveIntegerField(null=True, blank=True)
    installed_integration_instance_id = models.PositiveIntegerField(null=True, blank=True)
    placed_on = models.DateTimeField()
    tax_date = models.DateTimeField(null=True, blank=True)
    delivery_date = models.DateTimeField(null=True, blank=True)
    document = models.JSONField(default=dict, blank=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "updated_on"]), models.Index(fields=["account", "reference"])]


class OrderRow(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="rows")
    sequence = models.PositiveIntegerField(default=10)
    product_id = models.PositiveIntegerField(null=True, blank=True)
    product_name = models.CharField(max_length=200)
    product_sku = models.CharField(max_length=64, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=4, default=1)
    unit_price = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    item_cost = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    tax_rate = models.DecimalField(max_digits=8, decimal_places=4, default=0)
    tax_code = models.CharField(max_length=10, default="T")
    net = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    tax = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    nominal_code = models.CharField(max_length=10, default="4000")

    class Meta:
        ordering = ["order_id", "sequence", "id"]


class GoodsOutNote(models.Model):
    """A goods-out note of an order: what left which warehouse, and how far picking/packing/shipping got."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="goods_out_notes")
    warehouse_id = models.PositiveIntegerField()
    shipped = models.BooleanField(default=False)
    document = models.JSONField(default=dict, blank=True)
    created_on = models.DateTimeField(auto_now_add=True)
    updated_on = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]


class OrderNote(models.Model):
    """A note on an order (``order-note-search``)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notes")
    text = models.TextField()
    is_public = models.BooleanField(default=False)
    contact_id = models.PositiveIntegerField(default=4)
    file_id = models.PositiveIntegerField(null=True, blank=True)
    added_on = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]


class CustomerPayment(models.Model):
    """A payment received against a sales order (``accounting-service/customer-payment``)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    transaction_ref = models.CharField(max_length=64, blank=True)
    transaction_code = models.CharField(max_length=64, blank=True)
    payment_method_code = models.CharField(max_length=20)
    payment_type = models.CharField(max_length=10, default="RECEIPT")  # RECEIPT | PAYMENT | AUTH | CAPTURE
    order_id = models.PositiveIntegerField(db_index=True)
    currency_id = models.PositiveIntegerField(default=1)
    currency_code = models.CharField(max_length=3, default="GBP")
    exchange_rate = models.DecimalField(max_digits=14, decimal_places=6, default=1)
    amount_authorized = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    amount_paid = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    expires = models.DateTimeField(null=True, blank=True)
    payment_date = models.DateTimeField()
    journal_ref = models.CharField(max_length=200, blank=True)
    journal_id = models.PositiveIntegerField(null=True, blank=True)
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class Webhook(models.Model):
    """A webhook registered through ``integration-service/webhook``: kept per account and per the
    installation (OAuth) or private app (staff/account token) that registered it; each caller sees and
    deletes only its own."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    installation = models.ForeignKey(Installation, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="webhooks")
    app_ref = models.CharField(max_length=200, help_text="The brightpearl-app-ref of the registering caller.")
    subscribe_to = models.CharField(max_length=200)
    http_method = models.CharField(max_length=6)
    uri_template = models.CharField(max_length=2000)
    body_template = models.TextField(blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    id_set_accepted = models.BooleanField(default=False)
    quality_of_service = models.PositiveSmallIntegerField(default=0)
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account", "app_ref"])]


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

    # The badge tone of each status (the CSS modifier the pages draw it with; partials/status_badge.html).
    STATUS_TONES = {Status.PENDING: "pending", Status.DELIVERED: "approved", Status.FAILED: "rejected",
                    Status.CANCELLED: "withdrawn"}

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

    @property
    def status_badge(self) -> tuple[str, str]:
        """(tone, label) of the status, for partials/status_badge.html."""
        return self.STATUS_TONES.get(self.status, "withdrawn"), self.get_status_display()


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
