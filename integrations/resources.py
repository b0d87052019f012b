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
    CustomerPayment,
    GoodsOutNote,
    Order,
    OrderNote,
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


def _lookup_search(name: str, kind: str, *extra: Column, id_name: str = "id", name_name: str = "name") -> SearchSpec:
    return SearchSpec(
        name=name,
        columns=(Column(id_name, T.IDSET, "ref_id"), Column(name_name, T.SEARCH_STRING, "name"), *extra),
        queryset=lambda account: ApiLookup.objects.filter(account=account, kind=kind),
        extra_fields=("document", "code"),
    )


def _computed(name: str, data_type: str, compute) -> Column:
    return Column(name, data_type, None, filterable=False, sortable=False, compute=compute)


def _code(values):
    return values["code"]


def _money_or_none(value):
    return None if value is None else shapes.money(value)


CUSTOMER_PAYMENT_SEARCH = SearchSpec(
    name="customer-payment",
    columns=(
        Column("paymentId", T.IDSET, "id"),
        Column("transactionRef", T.STRING, "transaction_ref"),
        Column("transactionCode", T.STRING, "transaction_code"),
        Column("paymentMethodCode", T.STRING, "payment_method_code"),
        Column("paymentType", T.STRING, "payment_type"),
        Column("orderId", T.IDSET, "order_id"),
        Column("currencyId", T.INTEGER, "currency_id"),
        Column("currencyCode", T.STRING, "currency_code"),
        Column("amountAuthorized", T.STRING, "amount_authorized", filterable=False, convert=_money_or_none),
        Column("amountPaid", T.STRING, "amount_paid", filterable=False, convert=_money_or_none),
        Column("expires", T.PERIOD, "expires"),
        Column("paymentDate", T.PERIOD, "payment_date"),
        Column("createdOn", T.PERIOD, "created_on"),
        Column("journalId", T.INTEGER, "journal_id"),
    ),
    queryset=lambda account: CustomerPayment.objects.filter(account=account),
)

ORDER_NOTE_SEARCH = SearchSpec(
    name="order-note",
    columns=(
        Column("orderNoteId", T.IDSET, "id"),
        Column("orderId", T.IDSET, "order__id"),
        Column("contactId", T.INTEGER, "contact_id"),
        Column("text", T.SEARCH_STRING, "text", free_text=True),
        Column("isPublic", T.BOOLEAN, "is_public"),
        Column("fileId", T.INTEGER, "file_id"),
        Column("addedOn", T.PERIOD, "added_on"),
    ),
    queryset=lambda account: OrderNote.objects.filter(account=account),
)

COMPANY_SEARCH = _lookup_search("company", ApiLookup.Kind.COMPANY, id_name="companyId", name_name="companyName")

CURRENCY_SEARCH = _lookup_search(
    "currency",
    ApiLookup.Kind.CURRENCY,
    _computed("code", T.STRING, _code),
    _computed("symbol", T.STRING, _doc("symbol", "")),
    _computed("exchangeRate", T.STRING, _doc("exchangeRate", "1.000000")),
    _computed("isDefault", T.BOOLEAN, lambda values: bool((values["document"] or {}).get("isDefault"))),
    _computed("exchangeRateVarianceNominalCode", T.STRING, _doc("exchangeRateVarianceNominalCode", "4906")),
    name_name="title",
)

GOODS_IN_SEARCH = _lookup_search(
    "goods-in",
    ApiLookup.Kind.GOODS_IN_NOTE,
    _computed("purchaseOrderId", T.INTEGER, _doc("purchaseOrderId", 0)),
    _computed("warehouseId", T.INTEGER, _doc("warehouseId", 1)),
    _computed("receivedOn", T.PERIOD, _doc("receivedOn")),
    _computed("receivedById", T.INTEGER, _doc("receivedById", 4)),
    _computed("transfer", T.BOOLEAN, _doc("transfer", False)),
    id_name="goodsInNoteId",
    name_name="reference",
)

GOODS_MOVEMENT_SEARCH = _lookup_search(
    "goods-movement",
    ApiLookup.Kind.GOODS_MOVEMENT,
    _computed("productId", T.INTEGER, _doc("productId", 0)),
    _computed("quantity", T.INTEGER, _doc("quantity", 0)),
    _computed("warehouseId", T.INTEGER, _doc("warehouseId", 1)),
    _computed("locationId", T.INTEGER, _doc("locationId", 1)),
    _computed("goodsNoteId", T.INTEGER, _doc("goodsNoteId", 0)),
    _computed("goodsNoteTypeCode", T.STRING, _doc("goodsNoteTypeCode", "GI")),
    _computed("createdOn", T.PERIOD, _doc("createdOn")),
    id_name="goodsMovementId",
    name_name="reference",
)

LOCATION_SEARCH = _lookup_search(
    "location",
    ApiLookup.Kind.LOCATION,
    _computed("warehouseId", T.INTEGER, _doc("warehouseId", 0)),
    _computed("zoneId", T.INTEGER, _doc("zoneId", 0)),
    name_name="barcode",
)

ZONE_SEARCH = _lookup_search("zone", ApiLookup.Kind.ZONE, _computed("warehouseId", T.INTEGER, _doc("warehouseId", 0)))


def _empty(account):
    return ApiLookup.objects.none()


JOURNAL_SEARCH = SearchSpec(
    name="journal",
    columns=(
        Column("journalId", T.IDSET, "ref_id"),
        Column("journalType", T.STRING, "code"),
        Column("description", T.SEARCH_STRING, "name"),
        _computed("contactId", T.INTEGER, _doc("contactId", 0)),
        _computed("taxDate", T.PERIOD, _doc("taxDate")),
        _computed("createdOn", T.PERIOD, _doc("createdOn")),
    ),
    queryset=_empty,
    extra_fields=("document",),
)

SUPPLIER_PAYMENT_SEARCH = SearchSpec(
    name="supplier-payment",
    columns=tuple(column for column in CUSTOMER_PAYMENT_SEARCH.columns),
    queryset=lambda account: CustomerPayment.objects.none(),
)

PURCHASE_ORDER_LC_SEARCH = SearchSpec(
    name="purchase-order-lc",
    columns=(
        Column("purchaseOrderId", T.IDSET, "id"),
        Column("landedCostStatus", T.STRING, "reference"),
        Column("updatedOn", T.PERIOD, "updated_on"),
    ),
    queryset=lambda account: Order.objects.none(),
)


WAREHOUSE_SEARCH = _lookup_search(
    "warehouse",
    ApiLookup.Kind.WAREHOUSE,
    Column(
        "typeDescription",
        T.STRING,
        None,
        filterable=False,
        sortable=False,
        compute=_doc("typeDescription", "Warehouse"),
    ),
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
        name="warehouse",
        columns=WAREHOUSE_SEARCH.columns,
        queryset=WAREHOUSE_SEARCH.queryset,
        extra_fields=LOOKUP_SEARCH_EXTRA,
    ),
    ("product-service", "brand-search"): _lookup_search("brand", ApiLookup.Kind.BRAND),
    ("product-service", "channel-search"): _lookup_search("channel", ApiLookup.Kind.CHANNEL),
    ("product-service", "brightpearl-category-search"): _lookup_search("brightpearl-category", ApiLookup.Kind.CATEGORY),
    ("product-service", "product-type-search"): _lookup_search("product-type", ApiLookup.Kind.PRODUCT_TYPE),
    ("product-service", "option-search"): _lookup_search("option", ApiLookup.Kind.OPTION),
    ("product-service", "option-value-search"): _lookup_search(
        "option-value",
        ApiLookup.Kind.OPTION_VALUE,
        _computed("optionId", T.INTEGER, _doc("optionId", 0)),
        id_name="optionValueId",
        name_name="optionValueName",
    ),
    ("product-service", "season-search"): _lookup_search("season", ApiLookup.Kind.SEASON),
    ("product-service", "collection-search"): _lookup_search("collection", ApiLookup.Kind.COLLECTION),
    ("product-service", "channel-brand-search"): _lookup_search("channel-brand", ApiLookup.Kind.CHANNEL_BRAND),
    ("contact-service", "company-search"): COMPANY_SEARCH,
    ("contact-service", "contact-group-search"): _lookup_search("contact-group", ApiLookup.Kind.CONTACT_GROUP),
    ("contact-service", "lead-source-search"): _lookup_search("lead-source", ApiLookup.Kind.LEAD_SOURCE),
    ("contact-service", "tag-search"): _lookup_search("tag", ApiLookup.Kind.TAG, id_name="tagId", name_name="tagName"),
    ("accounting-service", "currency-search"): CURRENCY_SEARCH,
    ("accounting-service", "nominal-code-search"): _lookup_search(
        "nominal-code", ApiLookup.Kind.NOMINAL_CODE, _computed("code", T.STRING, _code)
    ),
    ("accounting-service", "payment-method-search"): _lookup_search(
        "payment-method", ApiLookup.Kind.PAYMENT_METHOD, _computed("code", T.STRING, _code)
    ),
    ("accounting-service", "customer-payment-search"): CUSTOMER_PAYMENT_SEARCH,
    ("accounting-service", "supplier-payment-search"): SUPPLIER_PAYMENT_SEARCH,
    ("accounting-service", "journal-search"): JOURNAL_SEARCH,
    ("order-service", "order-note-search"): ORDER_NOTE_SEARCH,
    ("order-service", "purchase-order-lc-search"): PURCHASE_ORDER_LC_SEARCH,
    ("warehouse-service", "goods-note/goods-in-search"): GOODS_IN_SEARCH,
    ("warehouse-service", "goods-movement-search"): GOODS_MOVEMENT_SEARCH,
    ("warehouse-service", "location-search"): LOCATION_SEARCH,
    ("warehouse-service", "zone-search"): ZONE_SEARCH,
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


def _null_custom_fields(include_optional: str) -> bool:
    return "nullCustomFields" in include_optional.split(",")


def _with_custom_fields(
    records: list[dict], rows: list, *, account, record_kind: str, include_optional: str, key: str = "customFields"
) -> list[dict]:
    """Put each record's custom fields in (after the fact, keeping key order where the record had them)."""
    if not _custom_fields(include_optional):
        return records
    with_nulls = _null_custom_fields(include_optional)
    definitions = custom_field_definitions(account, CUSTOM_FIELD_SCOPES) if with_nulls else []
    for record, row in zip(records, rows):
        scoped = [entry for entry in definitions if (entry.document or {}).get("scope") in scopes_of(record_kind, row)]
        record[key] = custom_field_values(row, scoped, with_nulls=with_nulls)
    return records


def order_status_names(account) -> dict[int, str]:
    return dict(
        ApiLookup.objects.filter(account=account, kind=ApiLookup.Kind.ORDER_STATUS).values_list("ref_id", "name")
    )


def _tax_codes(account) -> dict[int, str]:
    return dict(ApiLookup.objects.filter(account=account, kind=ApiLookup.Kind.TAX_CODE).values_list("ref_id", "code"))


def products(*, account, id_set: str, include_optional: str = "") -> list[dict]:
    """Products by ID set; 404 CMNC-404 when none exists (unrecorded; the safe answer, §6)."""
    ranges = idsets.parse_for_get(id_set)
    rows = list(Product.objects.filter(account=account).filter(idsets.q("id", ranges)).order_by("id"))
    tax_codes = _tax_codes(account)
    records = [
        shapes.product_record(product, tax_codes=tax_codes, custom_fields=_custom_fields(include_optional))
        for product in rows
    ]
    if not records:
        raise not_found("No products found")
    return _with_custom_fields(records, rows, account=account, record_kind="product", include_optional=include_optional)


def _order_queryset(account, ranges, *types: str):
    rows = Prefetch("rows", queryset=OrderRow.objects.order_by("sequence", "id"))
    queryset = Order.objects.filter(account=account).filter(idsets.q("id", ranges)).prefetch_related(rows)
    return (queryset.filter(order_type_code__in=types) if types else queryset).order_by("id")


def orders(*, account, id_set: str, include_optional: str = "") -> list[dict]:
    """Orders by ID set; ``[]`` when none exists (as recorded)."""
    ranges = idsets.parse_for_get(id_set)
    statuses = order_status_names(account)
    rows = list(_order_queryset(account, ranges))
    records = [
        shapes.order_record(
            order, rows=list(order.rows.all()), statuses=statuses, custom_fields=_custom_fields(include_optional)
        )
        for order in rows
    ]
    return _with_custom_fields(records, rows, account=account, record_kind="order", include_optional=include_optional)


def sales_orders(*, account, id_set: str, order_type: str = "SO") -> list[dict]:
    """The sales-order (or sales-credit) view by ID set; ``[]`` when none exists, like orders."""
    ranges = idsets.parse_for_get(id_set)
    return [
        shapes.sales_order_record(order, rows=list(order.rows.all()))
        for order in _order_queryset(account, ranges, order_type)
    ]


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
    records = [
        shapes.contact_record(
            contact, address_ids=addresses.get(contact.pk, {}), custom_fields=_custom_fields(include_optional)
        )
        for contact in rows
    ]
    return _with_custom_fields(records, rows, account=account, record_kind="contact", include_optional=include_optional)


def contact_siblings(records: list[dict]) -> dict:
    """The ``pagination`` and ``sorting`` siblings of a contact GET (as recorded)."""
    return {
        "pagination": {
            "morePagesAvailable": False,
            "resultsReturned": len(records),
            "firstResult": 1,
            "lastResult": len(records),
        },
        "sorting": [{"field": "contactId", "direction": "ASC"}],
    }


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
    product_ids = list(
        Product.objects.filter(account=account)
        .filter(idsets.q("id", ranges))
        .order_by("id")
        .values_list("id", flat=True)
    )
    prices = ProductPrice.objects.filter(product_id__in=product_ids).select_related("price_list")
    if price_list_ids:
        prices = prices.filter(idsets.q("price_list__id", idsets.parse(price_list_ids, name="price-list")))
    by_product = defaultdict(list)
    for price in prices.order_by("product_id", "price_list_id"):
        by_product[price.product_id].append(price)
    if not product_ids:
        raise not_found("No Product Prices Found")
    return [shapes.product_price_record(product_id, by_product[product_id]) for product_id in product_ids]


def availability(*, account, id_set: str, by_location: bool = False) -> dict:
    """Stock per product and warehouse, an object keyed by product id; 404 CMNC-404 when no product of the
    set exists (unrecorded; the safe answer). ``by_location`` (``includeOptional=breakDownByLocation``) adds
    each warehouse's ``byLocation``: the stock sits in the product's default location there."""
    ranges = idsets.parse_for_get(id_set)
    products = {
        pk: doc
        for pk, doc in Product.objects.filter(account=account)
        .filter(idsets.q("id", ranges))
        .order_by("id")
        .values_list("id", "document")
    }
    if not products:
        raise not_found("No Products Found")
    levels = defaultdict(list)
    for level in ProductStock.objects.filter(product_id__in=list(products)).order_by("product_id", "warehouse_id"):
        levels[level.product_id].append(level)
    first_location = {}
    if by_location:
        for entry in ApiLookup.objects.filter(account=account, kind=ApiLookup.Kind.LOCATION).order_by("ref_id"):
            first_location.setdefault((entry.document or {}).get("warehouseId"), entry.ref_id)
    result = {}
    for product_id, doc in products.items():
        locations = None
        if by_location:
            warehouses = (doc or {}).get("warehouses") or {}
            locations = {
                level.warehouse_id: (warehouses.get(str(level.warehouse_id)) or {}).get("defaultLocationId")
                or first_location.get(level.warehouse_id, 0)
                for level in levels[product_id]
            }
        result[str(product_id)] = shapes.availability_record(levels[product_id], locations=locations)
    return result


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
    ("contact-service", "contact-group"): ApiLookup.Kind.CONTACT_GROUP,
    ("contact-service", "tag"): ApiLookup.Kind.TAG,
    ("contact-service", "lead-source"): ApiLookup.Kind.LEAD_SOURCE,
    ("accounting-service", "currency"): ApiLookup.Kind.CURRENCY,
    ("accounting-service", "exchange-rate"): ApiLookup.Kind.CURRENCY,
    ("accounting-service", "nominal-code"): ApiLookup.Kind.NOMINAL_CODE,
    ("accounting-service", "payment-method"): ApiLookup.Kind.PAYMENT_METHOD,
    ("accounting-service", "accounting-period"): ApiLookup.Kind.ACCOUNTING_PERIOD,
    ("product-service", "option"): ApiLookup.Kind.OPTION,
    ("product-service", "option-value"): ApiLookup.Kind.OPTION_VALUE,
    ("product-service", "season"): ApiLookup.Kind.SEASON,
    ("product-service", "collection"): ApiLookup.Kind.COLLECTION,
    ("product-service", "channel-brand"): ApiLookup.Kind.CHANNEL_BRAND,
}

FIXED_LOOKUPS = {  # (service, resource) → records (the same in every account)
    ("order-service", "order-type"): [
        {"id": key, "code": code, "name": name, "description": name}
        for key, (code, name) in defaults.ORDER_TYPES.items()
    ],
    ("order-service", "order-stock-status"): [
        {"id": key, "code": code, "name": name, "description": name}
        for key, (code, name) in defaults.STOCK_STATUSES.items()
    ],
    ("order-service", "order-shipping-status"): [
        {"id": key, "code": code, "description": name} for key, (code, name) in defaults.SHIPPING_STATUSES.items()
    ],
    ("order-service", "order-allocation-status"): [
        {"id": key, "code": code, "description": name} for key, (code, name) in defaults.ALLOCATION_STATUSES.items()
    ],
    ("order-service", "order-payment-status"): [
        {"id": key, "name": name} for key, name in defaults.PAYMENT_STATUSES.items()
    ],
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
    if kind == ApiLookup.Kind.TAG:  # keyed by tag id (as recorded)
        return {str(entry.ref_id): shapes.tag_record(entry) for entry in rows}
    if resource == "exchange-rate":
        base = next((entry.code for entry in rows if (entry.document or {}).get("isDefault")), "GBP")
        return [shapes.exchange_rate_record(entry, base) for entry in rows]
    build = shapes.order_status_record if kind == ApiLookup.Kind.ORDER_STATUS else shapes.lookup_record
    return [build(entry) for entry in rows]


def locations(*, account, warehouse_id: str, id_set: str | None) -> list[dict]:
    """``warehouse-service/warehouse/{id}/location[/{ids}]``: the warehouse's locations."""
    warehouse = idsets.parse_for_get(warehouse_id, name="warehouse ID set")
    wanted = {pk for low, high in warehouse for pk in range(low, min(high, low + 500) + 1)}
    ranges = idsets.parse_for_get(id_set, allow_all=True) if id_set else idsets.ALL
    rows = ApiLookup.objects.filter(account=account, kind=ApiLookup.Kind.LOCATION).filter(idsets.q("ref_id", ranges))
    return [
        shapes.lookup_record(entry)
        for entry in rows.order_by("ref_id")
        if (entry.document or {}).get("warehouseId") in wanted
    ]


def option_values(*, account, option_ids: str, id_set: str | None = None) -> list[dict]:
    """``product-service/option/{ids}/value[/{ids}]``: the values of the options."""
    options = idsets.parse_for_get(option_ids, name="option ID set", allow_all=True)
    ranges = idsets.parse_for_get(id_set, allow_all=True) if id_set else idsets.ALL
    rows = ApiLookup.objects.filter(account=account, kind=ApiLookup.Kind.OPTION_VALUE).filter(
        idsets.q("ref_id", ranges)
    )
    return [
        shapes.lookup_record(entry)
        for entry in rows.order_by("ref_id")
        if options is idsets.ALL
        or any(low <= (entry.document or {}).get("optionId", 0) <= high for low, high in options)
    ]


def product_suppliers(*, account, id_set: str) -> dict:
    """``product-service/product/{ids}/supplier``: supplier contact ids per product, keyed by product id
    (the primary supplier first); 404 CMNC-404 when no product of the set exists."""
    ranges = idsets.parse_for_get(id_set)
    rows = Product.objects.filter(account=account).filter(idsets.q("id", ranges)).order_by("id")
    result = {}
    for product in rows:
        suppliers = [product.primary_supplier_id] if product.primary_supplier_id else []
        suppliers += [pk for pk in (product.document or {}).get("supplierIds", []) if pk not in suppliers]
        result[str(product.pk)] = suppliers
    if not result:
        raise not_found("No products found")
    return result


# --- Custom fields -------------------------------------------------------------------------------------

CUSTOM_FIELD_SCOPES = {"product", "sale", "purchase", "customer", "supplier"}


def custom_field_definitions(account, scopes) -> list:
    """The account's custom-field definitions of these scopes (ApiLookup entries), in id order."""
    return [
        entry
        for entry in ApiLookup.objects.filter(account=account, kind=ApiLookup.Kind.CUSTOM_FIELD).order_by("ref_id")
        if (entry.document or {}).get("scope") in scopes
    ]


def custom_field_metadata(*, account, scope: str) -> list[dict]:
    """``…/custom-field-meta-data``: the definitions of one scope (§4.5)."""
    return [shapes.custom_field_meta_record(entry) for entry in custom_field_definitions(account, {scope})]


def scopes_of(record_kind: str, record) -> set[str]:
    """The custom-field scopes that apply to a product, order or contact."""
    if record_kind == "product":
        return {"product"}
    if record_kind == "order":
        return {"purchase"} if record.order_type_code in ("PO", "PC") else {"sale"}
    return {"supplier"} if record.is_supplier else {"customer"}


def custom_field_values(record, definitions: list, *, with_nulls: bool) -> dict:
    """A record's custom fields, code → value; every defined field (null where unset) ``with_nulls``."""
    stored = dict((record.document or {}).get("customFields") or {})
    if with_nulls:
        for entry in definitions:
            stored.setdefault(entry.code, None)
    return stored


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
    known = {
        "customFields",
        "nullCustomFields",
        "breakDownByLocation",
        "allocatedOrders",
        "allocatedTransfers",
        "onOrder",
    }
    unknown = [item for item in value.split(",") if item and item not in known]
    if unknown:
        raise cannot_parse("includeOptional", value, "STRING_SET", hint=f"known values: {', '.join(sorted(known))}")
    return value
