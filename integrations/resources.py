"""The readable resources of the platform API, always scoped to one account: the searches
(:data:`SEARCHES`), GET by ID set, OPTIONS ``getUris`` and the lookup lists, each in Brightpearl's
shape (``integrations.shapes``). Writes are in ``integrations.writes``; routing in ``integrations.api_routes``.

:data:`RESOURCES` names the three resources the sync engine mirrors (product, order, contact): each with
its ``service``, ``name`` and ``id_column`` (``productId``, ``orderId``, ``contactId``); its search takes
``updatedOn=<from>/`` and ``sort=updatedOn.ASC``.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Case, IntegerField, Prefetch, Value, When

from integrations import api_defaults as defaults, idsets, search as search_module, shapes
from integrations.errors import cannot_parse, not_found
from integrations.models import (
    ApiLookup,
    Contact,
    GoodsOutNote,
    Order,
    OrderRow,
    PostalAddress,
    PriceList,
    Product,
    ProductPrice,
    ProductStock,
)
from integrations.search import Column, DataType as T, SearchSpec


def _code_to_id(field: str, table: dict, *, names: bool = False) -> Case:
    whens = [When(**{field: (value if names else value[0])}, then=Value(key)) for key, value in table.items()]
    return Case(*whens, default=Value(0), output_field=IntegerField())


def _blank_as_null(value):
    return value or None


# --- Searches ------------------------------------------------------------------------------------------

def _product_reference(account, rows: list[dict]) -> dict:
    return {"productCategoryMembership": {str(row["productId"]): row["_"]["category_ids"] or [] for row in rows}}


def _names(table: dict, ids) -> dict:
    return {str(key): table[key] for key in sorted(set(ids)) if key in table}


def _order_reference(account, rows: list[dict]) -> dict:
    statuses = order_status_names(account)
    return {
        "orderTypeNames": _names({k: v[1] for k, v in defaults.ORDER_TYPES.items()}, [r["orderTypeId"] for r in rows]),
        "orderStatusNames": _names(statuses, [r["orderStatusId"] for r in rows]),
        "orderStockStatusNames": _names({k: v[1] for k, v in defaults.STOCK_STATUSES.items()},
                                        [r["orderStockStatusId"] for r in rows]),
        "orderPaymentStatusNames": _names(defaults.PAYMENT_STATUSES, [r["orderPaymentStatusId"] for r in rows]),
        "orderShippingStatusNames": _names({k: v[1] for k, v in defaults.SHIPPING_STATUSES.items()},
                                           [r["orderShippingStatusId"] for r in rows]),
    }


def _orders(account, *types: str):
    queryset = Order.objects.filter(account=account).annotate(
        order_type_id=_code_to_id("order_type_code", defaults.ORDER_TYPES),
        stock_status_id=_code_to_id("stock_status_code", defaults.STOCK_STATUSES),
        payment_status_id=_code_to_id("payment_status", defaults.PAYMENT_STATUSES, names=True),
        shipping_status_id=_code_to_id("shipping_status_code", defaults.SHIPPING_STATUSES),
    )
    return queryset.filter(order_type_code__in=types) if types else queryset


def _doc(key: str, default=None):
    return lambda values: (values["document"] or {}).get(key, default)


def _status(key: str):
    return lambda values: bool(((values["document"] or {}).get("status") or {}).get(key, values["shipped"]))


PRODUCT_SEARCH = SearchSpec(
    name="product",
    columns=(
        Column("productId", T.IDSET, "id", reference_data=("productCategoryMembership",)),
        Column("productName", T.SEARCH_STRING, "name", free_text=True),
        Column("SKU", T.STRING, "sku", free_text=True),
        Column("barcode", T.STRING, "barcode"),
        Column("EAN", T.STRING, "ean", convert=_blank_as_null),
        Column("UPC", T.STRING, "upc", convert=_blank_as_null),
        Column("ISBN", T.STRING, "isbn", convert=_blank_as_null),
        Column("MPN", T.STRING, "mpn", convert=_blank_as_null),
        Column("stockTracked", T.BOOLEAN, "stock_tracked"),
        Column("salesChannelName", T.STRING, None, filterable=False, constant="Brightpearl"),
        Column("createdOn", T.PERIOD, "created_on"),
        Column("updatedOn", T.PERIOD, "updated_on"),
        Column("brightpearlCategoryCode", T.IDSET, "primary_category_id", sortable=False),
        Column("productGroupId", T.INTEGER, "product_group_id", convert=lambda value: value or 0),
        Column("brandId", T.IDSET, "brand_id"),
        Column("productTypeId", T.IDSET, "product_type_id"),
        Column("productStatus", T.STRING, "status"),
        Column("primarySupplierId", T.IDSET, "primary_supplier_id"),
    ),
    queryset=lambda account: Product.objects.filter(account=account),
    reference=_product_reference,
    extra_fields=("category_ids",),
)

ORDER_SEARCH = SearchSpec(
    name="order",
    columns=(
        Column("orderId", T.IDSET, "id"),
        Column("orderTypeId", T.IDSET, "order_type_id", reference_data=("orderTypeNames",)),
        Column("contactId", T.INTEGER, "contact_id"),
        Column("orderStatusId", T.INTEGER, "order_status_id", reference_data=("orderStatusNames",)),
        Column("orderStockStatusId", T.INTEGER, "stock_status_id", reference_data=("orderStockStatusNames",)),
        Column("createdOn", T.PERIOD, "created_on"),
        Column("createdById", T.INTEGER, "created_by_id"),
        Column("customerRef", T.STRING, "reference"),
        Column("orderPaymentStatusId", T.INTEGER, "payment_status_id", reference_data=("orderPaymentStatusNames",)),
        Column("updatedOn", T.PERIOD, "updated_on"),
        Column("parentOrderId", T.IDSET, "parent_order_id"),
        Column("orderShippingStatusId", T.INTEGER, "shipping_status_id", reference_data=("orderShippingStatusNames",)),
        Column("externalRef", T.STRING, "external_ref"),
        Column("installedIntegrationInstanceId", T.INTEGER, "installed_integration_instance_id"),
        Column("warehouseId", T.IDSET, "warehouse_id"),
        Column("staffOwnerContactId", T.INTEGER, "staff_owner_id"),
        Column("taxDate", T.PERIOD, "tax_date"),
        Column("departmentId", T.INTEGER, "department_id"),
        Column("deliveryDate", T.PERIOD, "delivery_date"),
    ),
    queryset=lambda account: _orders(account),
    reference=_order_reference,
)

SALES_ORDER_SEARCH = SearchSpec(
    name="sales-order",
    columns=(
        Column("salesOrderId", T.IDSET, "id"),
        Column("customerId", T.INTEGER, "contact_id"),
        Column("orderStatusId", T.INTEGER, "order_status_id", reference_data=("orderStatusNames",)),
        Column("customerRef", T.STRING, "reference"),
        Column("externalRef", T.STRING, "external_ref"),
        Column("warehouseId", T.IDSET, "warehouse_id"),
        Column("channelId", T.INTEGER, "channel_id"),
        Column("staffOwnerContactId", T.INTEGER, "staff_owner_id"),
        Column("placedOn", T.PERIOD, "placed_on"),
        Column("createdOn", T.PERIOD, "created_on"),
        Column("updatedOn", T.PERIOD, "updated_on"),
        Column("taxDate", T.PERIOD, "tax_date"),
        Column("deliveryDate", T.PERIOD, "delivery_date"),
    ),
    queryset=lambda account: _orders(account, "SO"),
    reference=lambda account, rows: {"orderStatusNames": _names(order_status_names(account),
                                                                 [r["orderStatusId"] for r in rows])},
)

CONTACT_SEARCH = SearchSpec(
    name="contact",
    columns=(
        Column("contactId", T.IDSET, "id"),
        Column("primaryEmail", T.SEARCH_STRING, "email", free_text=True),
        Column("secondaryEmail", T.SEARCH_STRING, "secondary_email"),
        Column("tertiaryEmail", T.SEARCH_STRING, "tertiary_email"),
        Column("firstName", T.SEARCH_STRING, "first_name", free_text=True),
        Column("lastName", T.SEARCH_STRING, "last_name", free_text=True),
        Column("isSupplier", T.BOOLEAN, "is_supplier", sortable=False),
        Column("companyName", T.SEARCH_STRING, "company", free_text=True),
        Column("isStaff", T.BOOLEAN, "is_staff"),
        Column("isCustomer", T.BOOLEAN, "is_customer", sortable=False),
        Column("createdOn", T.PERIOD, "created_on"),
        Column("updatedOn", T.PERIOD, "updated_on"),
        Column("lastContactedOn", T.PERIOD, "last_contacted_on"),
        Column("lastOrderedOn", T.PERIOD, "last_ordered_on"),
        Column("nominalCode", T.INTEGER, "nominal_code"),
        Column("isPrimary", T.BOOLEAN, "is_primary_contact"),
        Column("pri", T.STRING, "telephone", sortable=False, convert=_blank_as_null),
        Column("sec", T.STRING, "secondary_telephone", sortable=False, convert=_blank_as_null),
        Column("mob", T.STRING, "mobile", sortable=False, convert=_blank_as_null),
        Column("exactCompanyName", T.STRING, "company", convert=_blank_as_null),
        Column("title", T.STRING, "salutation", convert=_blank_as_null),
    ),
    queryset=lambda account: Contact.objects.filter(account=account),
)

GOODS_OUT_SEARCH = SearchSpec(
    name="goods-out",
    columns=(
        Column("goodsOutNoteId", T.IDSET, "id"),
        Column("printed", T.BOOLEAN, None, filterable=False, sortable=False, compute=_status("printed")),
        Column("picked", T.BOOLEAN, None, filterable=False, sortable=False, compute=_status("picked")),
        Column("packed", T.BOOLEAN, None, filterable=False, sortable=False, compute=_status("packed")),
        Column("shipped", T.BOOLEAN, "shipped"),
        Column("shippedOn", T.PERIOD, None, filterable=False, sortable=False,
               compute=lambda v: ((v["document"] or {}).get("status") or {}).get("shippedOn")),
        Column("orderId", T.IDSET, "order__id"),
        Column("shippingMethodId", T.INTEGER, None, filterable=False, sortable=False,
               compute=_doc("shippingMethodId", 0)),
        Column("warehouseId", T.IDSET, "warehouse_id"),
        Column("priority", T.BOOLEAN, None, filterable=False, sortable=False, compute=_doc("priority", False)),
        Column("createdOn", T.PERIOD, "created_on"),
        Column("releaseDate", T.PERIOD, None, filterable=False, sortable=False, compute=_doc("releaseDate")),
        Column("createdBy", T.INTEGER, None, filterable=False, sortable=False, compute=_doc("createdBy", 4)),
        Column("labelUri", T.STRING, None, filterable=False, sortable=False, compute=_doc("labelUri")),
        Column("channelId", T.INTEGER, None, filterable=False, sortable=False, compute=_doc("channelId")),
        Column("transfer", T.BOOLEAN, None, filterable=False, sortable=False, compute=_doc("transfer", False)),
    ),
    queryset=lambda account: GoodsOutNote.objects.filter(account=account),
    extra_fields=("document",),
)


def _lookup_search(name: str, kind: str, *extra: Column) -> SearchSpec:
    return SearchSpec(name=name, columns=(Column("id", T.IDSET, "ref_id"), Column("name", T.SEARCH_STRING, "name"),
                                          *extra),
                      queryset=lambda account: ApiLookup.objects.filter(account=account, kind=kind))


WAREHOUSE_SEARCH = _lookup_search(
    "warehouse", ApiLookup.Kind.WAREHOUSE,
    Column("typeDescription", T.STRING, None, filterable=False, sortable=False,
           compute=_doc("typeDescription", "Warehouse")),
    Column("addressId", T.INTEGER, None, filterable=False, sortable=False, compute=_doc("addressId", 0)),
)
LOOKUP_SEARCH_EXTRA = ("document",)

# (service, search path) → spec
SEARCHES: dict[tuple[str, str], SearchSpec] = {
    ("product-service", "product-search"): PRODUCT_SEARCH,
    ("order-service", "order-search"): ORDER_SEARCH,
    ("order-service", "sales-order-search"): SALES_ORDER_SEARCH,
    ("contact-service", "contact-search"): CONTACT_SEARCH,
    ("warehouse-service", "goods-note/goods-out-search"): GOODS_OUT_SEARCH,
    ("warehouse-service", "warehouse-search"): SearchSpec(
        name="warehouse", columns=WAREHOUSE_SEARCH.columns, queryset=WAREHOUSE_SEARCH.queryset,
        extra_fields=LOOKUP_SEARCH_EXTRA),
    ("product-service", "brand-search"): _lookup_search("brand", ApiLookup.Kind.BRAND),
    ("product-service", "channel-search"): _lookup_search("channel", ApiLookup.Kind.CHANNEL),
    ("product-service", "brightpearl-category-search"): _lookup_search("brightpearl-category", ApiLookup.Kind.CATEGORY),
    ("product-service", "product-type-search"): _lookup_search("product-type", ApiLookup.Kind.PRODUCT_TYPE),
}


def search(spec: SearchSpec, *, account, params) -> tuple[dict, dict]:
    """A search (``integrations.search.search``): ``(response, reference)``."""
    return search_module.search(spec, account=account, params=params)


@dataclass(frozen=True)
class Resource:
    """A resource the sync engine mirrors: where its search is and its id column."""

    name: str
    service: str
    search: SearchSpec

    @property
    def id_column(self) -> Column:
        return self.search.id_column


RESOURCES: dict[str, Resource] = {
    "product": Resource("product", "product-service", PRODUCT_SEARCH),
    "order": Resource("order", "order-service", ORDER_SEARCH),
    "contact": Resource("contact", "contact-service", CONTACT_SEARCH),
}


# --- GET by ID set -------------------------------------------------------------------------------------

def _custom_fields(include_optional: str) -> bool:
    return "customFields" in include_optional.split(",")


def order_status_names(account) -> dict[int, str]:
    return dict(ApiLookup.objects.filter(account=account, kind=ApiLookup.Kind.ORDER_STATUS)
                .values_list("ref_id", "name"))


def _tax_codes(account) -> dict[int, str]:
    return dict(ApiLookup.objects.filter(account=account, kind=ApiLookup.Kind.TAX_CODE).values_list("ref_id", "code"))


def products(*, account, id_set: str, include_optional: str = "") -> list[dict]:
    """Products by ID set; 404 CMNC-404 when none exists (unrecorded; the safe answer, §6)."""
    ranges = idsets.parse_for_get(id_set)
    rows = Product.objects.filter(account=account).filter(idsets.q("id", ranges)).order_by("id")
    tax_codes = _tax_codes(account)
    records = [shapes.product_record(product, tax_codes=tax_codes, custom_fields=_custom_fields(include_optional))
               for product in rows]
    if not records:
        raise not_found("No products found")
    return records


def _order_queryset(account, ranges, *types: str):
    rows = Prefetch("rows", queryset=OrderRow.objects.order_by("sequence", "id"))
    queryset = Order.objects.filter(account=account).filter(idsets.q("id", ranges)).prefetch_related(rows)
    return (queryset.filter(order_type_code__in=types) if types else queryset).order_by("id")


def orders(*, account, id_set: str, include_optional: str = "") -> list[dict]:
    """Orders by ID set; ``[]`` when none exists (as recorded)."""
    ranges = idsets.parse_for_get(id_set)
    statuses = order_status_names(account)
    return [shapes.order_record(order, rows=list(order.rows.all()), statuses=statuses,
                                custom_fields=_custom_fields(include_optional))
            for order in _order_queryset(account, ranges)]


def sales_orders(*, account, id_set: str, order_type: str = "SO") -> list[dict]:
    """The sales-order (or sales-credit) view by ID set; ``[]`` when none exists, like orders."""
    ranges = idsets.parse_for_get(id_set)
    return [shapes.sales_order_record(order, rows=list(order.rows.all()))
            for order in _order_queryset(account, ranges, order_type)]


def _address_ids(contacts: list[Contact]) -> dict[int, dict[str, int]]:
    result: dict[int, dict[str, int]] = defaultdict(dict)
    for address in PostalAddress.objects.filter(contact__in=contacts).order_by("id"):
        for role in filter(None, address.roles.split(",")):
            result[address.contact_id].setdefault(role, address.pk)
    return result


def contacts(*, account, id_set: str, include_optional: str = "") -> list[dict]:
    """Contacts by ID set; 404 CMNC-404 "No Contact Found" when none exists (as recorded)."""
    ranges = idsets.parse_for_get(id_set)
    rows = list(Contact.objects.filter(account=account).filter(idsets.q("id", ranges)).order_by("id"))
    if not rows:
        raise not_found("No Contact Found")
    addresses = _address_ids(rows)
    return [shapes.contact_record(contact, address_ids=addresses.get(contact.pk, {}),
                                  custom_fields=_custom_fields(include_optional)) for contact in rows]


def contact_siblings(records: list[dict]) -> dict:
    """The ``pagination`` and ``sorting`` siblings of a contact GET (as recorded)."""
    return {"pagination": {"morePagesAvailable": False, "resultsReturned": len(records), "firstResult": 1,
                           "lastResult": len(records)},
            "sorting": [{"field": "contactId", "direction": "ASC"}]}


def postal_addresses(*, account, id_set: str) -> list[dict]:
    ranges = idsets.parse_for_get(id_set)
    rows = PostalAddress.objects.filter(account=account).filter(idsets.q("id", ranges)).order_by("id")
    records = [shapes.postal_address_record(address) for address in rows]
    if not records:
        raise not_found("No Postal Address Found")
    return records


def price_lists(*, account, id_set: str | None) -> list[dict]:
    """All price lists (no ID set, or a trailing slash), or those in the ID set (404 CMNC-404 if none)."""
    rows = PriceList.objects.filter(account=account).order_by("id")
    if id_set:
        rows = rows.filter(idsets.q("id", idsets.parse_for_get(id_set)))
    records = [shapes.price_list_record(price_list) for price_list in rows]
    if id_set and not records:
        raise not_found("No Price Lists Found")
    return records


def product_prices(*, account, id_set: str, price_list_ids: str | None = None) -> list[dict]:
    """Prices of the products in the ID set (``*`` = all), optionally only in some price lists; 404
    CMNC-404 "No Product Prices Found" when no product of the set exists (as recorded)."""
    ranges = idsets.parse_for_get(id_set, allow_all=True)
    product_ids = list(Product.objects.filter(account=account).filter(idsets.q("id", ranges))
                       .order_by("id").values_list("id", flat=True))
    prices = ProductPrice.objects.filter(product_id__in=product_ids).select_related("price_list")
    if price_list_ids:
        prices = prices.filter(idsets.q("price_list__id", idsets.parse(price_list_ids, name="price-list")))
    by_product = defaultdict(list)
    for price in prices.order_by("product_id", "price_list_id"):
        by_product[price.product_id].append(price)
    if not product_ids:
        raise not_found("No Product Prices Found")
    return [shapes.product_price_record(product_id, by_product[product_id]) for product_id in product_ids]


def availability(*, account, id_set: str) -> dict:
    """Stock per product and warehouse, an object keyed by product id; 404 CMNC-404 when no product of the
    set exists (unrecorded; the safe answer)."""
    ranges = idsets.parse_for_get(id_set)
    product_ids = list(Product.objects.filter(account=account).filter(idsets.q("id", ranges))
                       .order_by("id").values_list("id", flat=True))
    if not product_ids:
        raise not_found("No Products Found")
    levels = defaultdict(list)
    for level in ProductStock.objects.filter(product_id__in=product_ids).order_by("product_id", "warehouse_id"):
        levels[level.product_id].append(level)
    return {str(product_id): shapes.availability_record(levels[product_id]) for product_id in product_ids}


def goods_out_notes(*, account, order_ids: str, note_ids: str | None) -> dict:
    """Goods-out notes of the orders (``*`` = any order), optionally only some notes; keyed by note id."""
    order_ranges = idsets.parse_for_get(order_ids, name="order ID set", allow_all=True)
    notes = GoodsOutNote.objects.filter(account=account).filter(idsets.q("order__id", order_ranges))
    if note_ids:
        notes = notes.filter(idsets.q("id", idsets.parse_for_get(note_ids, name="goods-out note ID set")))
    return {str(note.pk): shapes.goods_out_note_record(note) for note in notes.order_by("id")}


# --- Lookups -------------------------------------------------------------------------------------------

LOOKUP_KINDS = {  # (service, resource) → lookup kind
    ("product-service", "brand"): ApiLookup.Kind.BRAND,
    ("product-service", "brightpearl-category"): ApiLookup.Kind.CATEGORY,
    ("product-service", "channel"): ApiLookup.Kind.CHANNEL,
    ("product-service", "product-type"): ApiLookup.Kind.PRODUCT_TYPE,
    ("warehouse-service", "warehouse"): ApiLookup.Kind.WAREHOUSE,
    ("warehouse-service", "shipping-method"): ApiLookup.Kind.SHIPPING_METHOD,
    ("accounting-service", "tax-code"): ApiLookup.Kind.TAX_CODE,
    ("order-service", "order-status"): ApiLookup.Kind.ORDER_STATUS,
}

FIXED_LOOKUPS = {  # (service, resource) → records (the same in every account)
    ("order-service", "order-type"): [{"id": key, "code": code, "name": name, "description": name}
                                      for key, (code, name) in defaults.ORDER_TYPES.items()],
    ("order-service", "order-stock-status"): [{"id": key, "code": code, "name": name, "description": name}
                                              for key, (code, name) in defaults.STOCK_STATUSES.items()],
    ("order-service", "order-shipping-status"): [{"id": key, "code": code, "description": name}
                                                 for key, (code, name) in defaults.SHIPPING_STATUSES.items()],
    ("order-service", "order-allocation-status"): [{"id": key, "code": code, "description": name}
                                                   for key, (code, name) in defaults.ALLOCATION_STATUSES.items()],
    ("order-service", "order-payment-status"): [{"id": key, "name": name}
                                                for key, name in defaults.PAYMENT_STATUSES.items()],
}


def lookup(*, account, service: str, resource: str, id_set: str | None) -> list[dict]:
    """A lookup list, all of it or the entries in the ID set (``[]`` when none matches)."""
    ranges = idsets.parse_for_get(id_set, allow_all=True) if id_set else idsets.ALL
    if (service, resource) in FIXED_LOOKUPS:
        records = FIXED_LOOKUPS[(service, resource)]
        if ranges is idsets.ALL:
            return records
        return [record for record in records if any(low <= record["id"] <= high for low, high in ranges)]
    kind = LOOKUP_KINDS[(service, resource)]
    rows = ApiLookup.objects.filter(account=account, kind=kind).filter(idsets.q("ref_id", ranges)).order_by("ref_id")
    build = shapes.order_status_record if kind == ApiLookup.Kind.ORDER_STATUS else shapes.lookup_record
    return [build(entry) for entry in rows]


# --- OPTIONS -------------------------------------------------------------------------------------------

OPTIONS_QUERYSETS = {  # resource → (account) -> queryset of its records
    "product": lambda account: Product.objects.filter(account=account),
    "order": lambda account: Order.objects.filter(account=account),
    "sales-order": lambda account: Order.objects.filter(account=account, order_type_code="SO"),
    "sales-credit": lambda account: Order.objects.filter(account=account, order_type_code="SC"),
    "contact": lambda account: Contact.objects.filter(account=account),
    "product-price": lambda account: Product.objects.filter(account=account),
}


def get_uris(*, account, resource: str, id_set: str | None) -> dict:
    """OPTIONS: ``{"getUris": [...]}`` covering the existing records of the ID set (all without one)."""
    ranges = idsets.parse(id_set, allow_all=True) if id_set else idsets.ALL
    ids = list(OPTIONS_QUERYSETS[resource](account).filter(idsets.q("id", ranges)).values_list("id", flat=True))
    return {"getUris": idsets.get_uris(resource, ids)}


def include_optional(params) -> str:
    value = params.get("includeOptional", "")
    known = {"customFields", "nullCustomFields", "breakDownByLocation", "allocatedOrders", "allocatedTransfers",
             "onOrder"}
    unknown = [item for item in value.split(",") if item and item not in known]
    if unknown:
        raise cannot_parse("includeOptional", value, "STRING_SET", hint=f"known values: {', '.join(sorted(known))}")
    return value
