"""Which handler answers a platform API path, and under which ``Message-Type``.

Paths are matched after :func:`clean_path`: empty segments collapse (real clients send
``/public-api/acme//product-service/product-price//1-200``) and a trailing slash names the collection
(``tax-code/`` = ``tax-code``, all of it). A path that no route matches is a 404 ``CMNC-404``; a method a
matched path does not take is a 405."""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern
    methods: dict[str, tuple[str, str]]  # HTTP method → (handler name in api_views, Message-Type)


def clean_path(rest: str) -> str:
    """``"/product-service//product/1-3/"`` → ``"product-service/product/1-3"``."""
    return "/".join(segment for segment in rest.split("/") if segment)


_ROUTES: list[Route] = []


def route(pattern: str, **methods: tuple[str, str]) -> None:
    _ROUTES.append(Route(re.compile(pattern), methods))


IDS = r"(?P<ids>[^/]+)"
ONE = r"(?P<record_id>[^/]+)"

# Searches (the specs are in integrations.resources.SEARCHES) and their column descriptions.
route(r"(?P<service>[a-z-]+-service)/(?P<search_path>(?:[a-z-]+/)?[a-z-]+-search)", GET=("search", "bulk-data-search"))
route(r"(?P<service>[a-z-]+-service)/(?P<search_path>(?:[a-z-]+/)?[a-z-]+-search)/meta-data",
      GET=("search_meta_data", "get-search-meta-data"))

# Several writes in one request (documented; counts as one call).
route(r"multi-message", POST=("multi_message", "multi-message"))

# Webhooks (integration-service), kept per account and per registering installation or private app.
route(r"integration-service/webhook", POST=("webhook_create", "post-webhook"), GET=("webhooks", "webhook-get"))
route(
    rf"integration-service/webhook/{IDS}", GET=("webhooks", "webhook-get"), DELETE=("webhook_delete", "webhook-delete")
)

# Custom fields of one record, and their definitions.
for _kind in ("product", "order", "contact"):
    route(
        rf"{_kind}-service/(?P<record_kind>{_kind})/{ONE}/custom-field",
        GET=("custom_fields", "get-custom-fields"),
        PATCH=("custom_fields_patch", "patch-custom-fields"),
    )

# Products, prices, availability.
route(r"product-service/product/custom-field-meta-data", GET=("custom_field_metadata", "get-custom-fields-metadata"))
route(r"product-service/product", POST=("product_create", "post-product"), OPTIONS=("options", "product-options"))
route(
    rf"product-service/product/{IDS}",
    GET=("products", "product-get"),
    PUT=("product_update", "put-product"),
    DELETE=("product_delete", "delete-product"),
    OPTIONS=("options", "product-options"),
)
route(rf"product-service/product/{IDS}/supplier", GET=("product_suppliers", "get-product-supplier"))
route(rf"product-service/option/(?P<options>[^/]+)/value(?:/{IDS})?", GET=("option_values", "get-option-value"))
route(rf"product-service/price-list(?:/{IDS})?", GET=("price_lists", "get-price-list"))
route(r"product-service/product-price", OPTIONS=("options", "options-product-price"))
route(
    rf"product-service/product-price/{IDS}",
    GET=("product_prices", "get-product-price"),
    OPTIONS=("options", "options-product-price"),
)
route(
    rf"product-service/product-price/{IDS}/price-list(?:/(?P<lists>[^/]+))?",
    GET=("product_prices", "get-product-price"),
    PUT=("product_prices_set", "put-product-price"),
)
route(rf"warehouse-service/product-availability/{IDS}", GET=("availability", "get-product-availability"))
route(rf"warehouse-service/warehouse/(?P<warehouse>[^/]+)/location(?:/{IDS})?", GET=("locations", "get-location"))
route(
    r"warehouse-service/order/(?P<orders>[^/]+)/goods-note/goods-out(?:/(?P<notes>[^/]+))?",
    GET=("goods_out", "get-goods-out-note"),
)

# Orders.
route(
    r"order-service/(?:sale|purchase)/custom-field-meta-data",
    GET=("custom_field_metadata", "get-custom-fields-metadata"),
)
route(r"order-service/order", POST=("order_create", "post-order"), OPTIONS=("options", "options-order"))
route(
    rf"order-service/order/{IDS}",
    GET=("orders", "get-order"),
    PATCH=("order_patch", "patch-order"),
    OPTIONS=("options", "options-order"),
)
route(rf"order-service/order/{ONE}/row", POST=("order_row_create", "post-order-row"))
route(
    rf"order-service/order/{ONE}/row/(?P<row_id>[^/]+)",
    PATCH=("order_row_patch", "patch-order-row"),
    DELETE=("order_row_delete", "delete-order-row"),
)
route(
    r"(?P<service>order-service)/(?P<resource>order-status)",
    POST=("order_status_create", "post-order-status"),
    GET=("lookup", "get-order-status"),
)
route(
    rf"(?P<service>order-service)/(?P<resource>order-status)/{IDS}",
    PUT=("order_status_update", "put-order-status"),
    GET=("lookup", "get-order-status"),
)
route(rf"order-service/order/{ONE}/status", PUT=("order_status_set", "put-order-status"))
route(r"order-service/(?P<view>sales-order|sales-credit)", OPTIONS=("options", "options-sales-order"))
route(
    rf"order-service/(?P<view>sales-order|sales-credit)/{IDS}",
    GET=("sales_orders", "get-sales-order"),
    OPTIONS=("options", "options-sales-order"),
)

# Contacts.
route(
    r"contact-service/(?:customer|supplier|contact)/custom-field-meta-data",
    GET=("custom_field_metadata", "get-custom-fields-metadata"),
)
route(r"contact-service/contact", POST=("contact_create", "post-contact"), OPTIONS=("options", "options-contact"))
route(
    rf"contact-service/contact/{IDS}",
    GET=("contacts", "get-contact"),
    PATCH=("contact_patch", "patch-contact"),
    OPTIONS=("options", "options-contact"),
)
route(r"contact-service/postal-address", POST=("postal_address_create", "post-postal-address"))

# Accounting: customer payments.
route(r"accounting-service/customer-payment", POST=("customer_payment_create", "post-customer-payment"))
route(rf"accounting-service/customer-payment/{ONE}", DELETE=("customer_payment_delete", "delete-customer-payment"))
route(rf"contact-service/postal-address/{IDS}", GET=("postal_addresses", "get-postal-address"))

# Lookup lists: all of a list, or the entries of an ID set.
for _service, _resource in (
    ("product-service", "brand"),
    ("product-service", "brightpearl-category"),
    ("product-service", "channel"),
    ("product-service", "product-type"),
    ("warehouse-service", "warehouse"),
    ("warehouse-service", "shipping-method"),
    ("accounting-service", "tax-code"),
    ("order-service", "order-status"),
    ("order-service", "order-type"),
    ("order-service", "order-stock-status"),
    ("order-service", "order-shipping-status"),
    ("order-service", "order-allocation-status"),
    ("order-service", "order-payment-status"),
    ("contact-service", "contact-group"),
    ("contact-service", "tag"),
    ("contact-service", "lead-source"),
    ("accounting-service", "currency"),
    ("accounting-service", "exchange-rate"),
    ("accounting-service", "nominal-code"),
    ("accounting-service", "payment-method"),
    ("accounting-service", "accounting-period"),
    ("product-service", "option"),
    ("product-service", "option-value"),
    ("product-service", "season"),
    ("product-service", "collection"),
    ("product-service", "channel-brand"),
):
    route(rf"(?P<service>{_service})/(?P<resource>{_resource})(?:/{IDS})?", GET=("lookup", f"get-{_resource}"))


@dataclass(frozen=True)
class Match:
    handler: str | None  # None: the path exists but not for this method
    message_type: str
    kwargs: dict
    allowed: tuple[str, ...] = ()


def resolve(method: str, path: str) -> Match | None:
    """The route of a cleaned path, or None when no resource lives there."""
    for candidate in _ROUTES:
        match = candidate.pattern.fullmatch(path)
        if match is None:
            continue
        kwargs = {key: value for key, value in match.groupdict().items() if value is not None}
        if method in candidate.methods:
            handler, message_type = candidate.methods[method]
            return Match(handler, message_type, kwargs)
        return Match(None, "api-proxy", kwargs, allowed=tuple(candidate.methods))
    return None
