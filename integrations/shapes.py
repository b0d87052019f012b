"""The records of the platform API in Brightpearl's shapes (BRIGHTPEARL-API.md §4): key names, nesting,
key order and value types as the real service answers. Unset values are left out of records (search rows
carry ``null`` instead). Timestamps have milliseconds and an offset; money in orders is a string."""

from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

from integrations import api_defaults as defaults


def timestamp(value: datetime | None) -> str | None:
    """``2026-01-26T10:39:46.000+00:00`` (the account's offset; accounts here keep UTC)."""
    if value is None:
        return None
    return value.astimezone(dt_timezone.utc).isoformat(timespec="milliseconds")


def money(value, places: int = 2) -> str:
    return str(Decimal(value or 0).quantize(Decimal(1).scaleb(-places)))


def version(value: datetime | None) -> int:
    return int(value.timestamp() * 1000) if value else 0


def _drop_none(record: dict) -> dict:
    return {key: value for key, value in record.items() if value is not None}


# --- Products ------------------------------------------------------------------------------------------

def _identity(product) -> dict:
    identity = {"sku": product.sku, "barcode": product.barcode}
    for key, value in (("isbn", product.isbn), ("ean", product.ean), ("upc", product.upc), ("mpn", product.mpn)):
        if value:
            identity[key] = value
    return identity


def _text(value, fmt: str = "HTML_FRAGMENT") -> dict:
    if isinstance(value, dict):
        return {"languageCode": value.get("languageCode", "en"), "text": value.get("text", ""),
                "format": value.get("format", fmt)}
    return {"languageCode": "en", "text": value or "", "format": fmt}


def sales_channels(product) -> list[dict]:
    """The Brightpearl channel first (its name and categories are the product's), then any others."""
    doc = product.document or {}
    stored = doc.get("salesChannels") or [{}]
    channels = []
    for index, channel in enumerate(stored):
        main = index == 0
        categories = product.category_ids if main else channel.get("categoryIds", [])
        channels.append({
            "salesChannelName": "Brightpearl" if main else channel.get("salesChannelName", ""),
            "productName": product.name if main else channel.get("productName", product.name),
            "productCondition": channel.get("productCondition", "new"),
            "categories": [{"categoryCode": str(code)} for code in categories],
            "description": _text(channel.get("description")),
            "shortDescription": _text(channel.get("shortDescription")),
        })
    return channels


def product_record(product, *, tax_codes: dict[int, str], custom_fields: bool = False) -> dict:
    """GET product-service/product/{id set}: one product (§4.1a)."""
    doc = product.document or {}
    dimensions = doc.get("dimensions") or {}
    tax_code_id = doc.get("taxCodeId", 1)
    record = {
        "id": product.pk,
        "brandId": product.brand_id or defaults.NO_BRAND_ID,
        "productTypeId": product.product_type_id or 1,
        "identity": _identity(product),
        "productGroupId": product.product_group_id,
        "featured": bool(doc.get("featured", False)),
        "stock": {"stockTracked": product.stock_tracked, "weight": {"magnitude": float(doc.get("weight", 0))},
                  "dimensions": {key: float(dimensions.get(key, 0))
                                 for key in ("length", "height", "width", "volume")}},
        "financialDetails": {"taxable": bool(doc.get("taxable", True)),
                             "taxCode": {"id": tax_code_id, "code": tax_codes.get(tax_code_id, "T")}},
        "salesChannels": sales_channels(product),
        "composition": {"bundle": bool(doc.get("bundle", False))},
        "customFields": (doc.get("customFields") or {}) if custom_fields else None,
        "createdOn": timestamp(product.created_on),
        "updatedOn": timestamp(product.updated_on),
        "warehouses": doc.get("warehouses") or {},
        "nominalCodeStock": doc.get("nominalCodeStock", "1000"),
        "nominalCodePurchases": doc.get("nominalCodePurchases", "5000"),
        "nominalCodeSales": doc.get("nominalCodeSales", "4000"),
        "seasonIds": doc.get("seasonIds", []),
        "reporting": doc.get("reporting", {}),
        "status": product.status,
        "salesPopupMessage": doc.get("salesPopupMessage", ""),
        "warehousePopupMessage": doc.get("warehousePopupMessage", ""),
        "version": version(product.updated_on),
    }
    return _drop_none(record)


def price_list_record(price_list) -> dict:
    return {"id": price_list.pk, "name": {"languageCode": "en", "text": price_list.name, "format": "PLAINTEXT"},
            "code": price_list.code, "currencyCode": price_list.currency_code,
            "currencySymbol": {"GBP": "£", "EUR": "€", "USD": "$"}.get(price_list.currency_code, ""),
            "currencyId": price_list.currency_id, "priceListTypeCode": price_list.price_list_type,
            "gross": price_list.gross}


def product_price_record(product_id: int, prices: list) -> dict:
    """``prices``: the product's ProductPrice rows (with ``price_list`` loaded)."""
    return {"productId": product_id, "priceLists": [
        {"priceListId": price.price_list_id, "currencyCode": price.price_list.currency_code,
         "currencyId": price.price_list.currency_id, "quantityPrice": dict(price.quantity_prices or {})}
        for price in prices]}


def _stock_figures(on_hand: int, allocated: int, in_transit: int) -> dict:
    return {"inStock": on_hand - allocated, "onHand": on_hand, "allocated": allocated, "inTransit": in_transit}


def availability_record(levels: list, *, locations: dict | None = None) -> dict:
    """``levels``: one product's ProductStock rows; ``locations`` (warehouse id → location id) adds each
    warehouse's ``byLocation`` breakdown."""
    total = [sum(getattr(level, name) for level in levels) for name in ("on_hand", "allocated", "in_transit")]
    warehouses = {}
    for level in levels:
        figures = _stock_figures(level.on_hand, level.allocated, level.in_transit)
        if locations is not None:
            figures["byLocation"] = {str(locations.get(level.warehouse_id, 0)): dict(figures)}
        warehouses[str(level.warehouse_id)] = figures
    return {"total": _stock_figures(*total), "warehouses": warehouses}


# --- Orders --------------------------------------------------------------------------------------------

PARTY_KEYS = ("addressFullName", "companyName", "addressLine1", "addressLine2", "addressLine3", "addressLine4",
              "postalCode", "country", "telephone", "mobileTelephone", "fax", "email", "countryId", "countryIsoCode",
              "countryIsoCode3")


COUNTRIES = {"GBR": (222, "GB", "United Kingdom"), "IRL": (103, "IE", "Ireland"), "FRA": (73, "FR", "France"),
             "USA": (224, "US", "United States"), "DEU": (80, "DE", "Germany")}  # ISO-3 → (id, ISO-2, name)
COUNTRY_KEYS = ("countryId", "countryIsoCode", "countryIsoCode3")


def party(values: dict, *, contact_id: int | None) -> dict:
    """An order party with every address key ("" when unknown); the country id and codes only when the
    country is known (Brightpearl leaves them out when ``countryId`` is 0)."""
    values = dict(values)
    known = COUNTRIES.get(str(values.get("countryIsoCode3") or values.get("countryIsoCode") or "").upper())
    if known:
        values.update(countryId=known[0], countryIsoCode=known[1], countryIsoCode3=values.get("countryIsoCode3")
                      or values.get("countryIsoCode"), country=values.get("country") or known[2])
    record = {} if contact_id is None else {"contactId": contact_id}
    for key in PARTY_KEYS:
        if key in COUNTRY_KEYS and not known:
            continue
        record[key] = values.get(key, "")
    return record


def order_row_record(row, currency: str) -> dict:
    return {
        "orderRowSequence": str(row.sequence), "productId": row.product_id or 0, "productName": row.product_name,
        "productSku": row.product_sku, "quantity": {"magnitude": money(row.quantity, 4)},
        "itemCost": {"currencyCode": currency, "value": money(row.item_cost, 4)},
        "productPrice": {"currencyCode": currency, "value": money(row.unit_price, 4)},
        "discountPercentage": "0.00",
        "rowValue": {"taxRate": money(row.tax_rate, 4), "taxCode": row.tax_code, "taxCalculator": "brightpearl",
                     "rowNet": {"currencyCode": currency, "value": money(row.net)},
                     "rowTax": {"currencyCode": currency, "value": money(row.tax)}, "taxClassId": 1},
        "nominalCode": row.nominal_code,
        "composition": {"bundleParent": False, "bundleChild": False, "parentOrderRowId": 0},
        "clonedFromId": 0,
    }


def order_status_name(statuses: dict[int, str], status_id: int) -> str:
    return statuses.get(status_id, "")


def order_record(order, *, rows: list, statuses: dict[int, str], custom_fields: bool = False) -> dict:
    """GET order-service/order/{id set}: one order (§4.2a)."""
    doc = order.document or {}
    parties = doc.get("parties") or {}
    purchase = order.order_type_code in ("PO", "PC")
    contact_id = order.contact_id or 0
    currency = order.currency
    record = {
        "id": order.pk,
        "parentOrderId": order.parent_order_id,
        "orderTypeCode": order.order_type_code,
        "reference": order.reference,
        "version": version(order.updated_on),
        "state": {"tax": "INVOICED" if doc.get("invoiced") else "READY"},
        "orderStatus": {"orderStatusId": order.order_status_id,
                        "name": order_status_name(statuses, order.order_status_id)},
        "tax": {"errors": []},
        "orderPaymentStatus": order.payment_status,
        "stockStatusCode": order.stock_status_code,
        "allocationStatusCode": order.allocation_status_code,
        "shippingStatusCode": order.shipping_status_code,
        "placedOn": timestamp(order.placed_on),
        "createdOn": timestamp(order.created_on),
        "updatedOn": timestamp(order.updated_on) if order.updated_on and order.updated_on > order.created_on else None,
        "closedOn": doc.get("closedOn"),
        "createdById": order.created_by_id,
        "priceListId": order.price_list_id or 0,
        "priceModeCode": doc.get("priceModeCode", "EXC"),
        "delivery": _drop_none({"deliveryDate": timestamp(order.delivery_date),
                                "shippingMethodId": doc.get("shippingMethodId", 0)}),
        "invoices": [_drop_none({"invoiceReference": doc.get("invoiceReference", ""),
                                 "taxDate": timestamp(order.tax_date), "dueDate": doc.get("dueDate")})],
        "currency": {"accountingCurrencyCode": "GBP", "orderCurrencyCode": currency,
                     "exchangeRate": money(doc.get("exchangeRate", 1), 6), "fixedExchangeRate": True},
        "totalValue": {"net": money(order.net), "taxAmount": money(order.tax), "baseNet": money(order.net),
                       "baseTaxAmount": money(order.tax), "baseTotal": money(order.total), "total": money(order.total)},
        "assignment": {"current": {"staffOwnerContactId": order.staff_owner_id or 0, "projectId": 0,
                                   "channelId": order.channel_id or 0, "leadSourceId": doc.get("leadSourceId", 0),
                                   "teamId": order.department_id or 0}},
        "parties": {
            ("supplier" if purchase else "customer"): party(parties.get("customer", {}), contact_id=contact_id),
            "delivery": party(parties.get("delivery", {}), contact_id=None),
            "billing": party(parties.get("billing", {}), contact_id=contact_id),
        },
        "orderRows": {str(row.pk): order_row_record(row, currency) for row in rows},
        "warehouseId": order.warehouse_id or 0,
        "customFields": (doc.get("customFields") or {}) if custom_fields else None,
        "acknowledged": int(doc.get("acknowledged", 0)),
        "costPriceListId": doc.get("costPriceListId", 0),
        "historicalOrder": False,
        "orderWeighting": 100,
    }
    return _drop_none(record)


def sales_order_record(order, *, rows: list) -> dict:
    """GET order-service/sales-order/{id set} (and sales-credit): the flatter view (§4.2)."""
    doc = order.document or {}
    parties = doc.get("parties") or {}
    currency = order.currency

    def address(values: dict) -> dict:
        return _drop_none({"addressFullName": values.get("addressFullName"), "companyName": values.get("companyName"),
                           "addressLine1": values.get("addressLine1"), "addressLine2": values.get("addressLine2"),
                           "addressLine3": values.get("addressLine3"), "addressLine4": values.get("addressLine4"),
                           "postalCode": values.get("postalCode"), "countryIsoCode": values.get("countryIsoCode"),
                           "telephone": values.get("telephone"), "email": values.get("email")})

    return _drop_none({
        "id": order.pk, "customer": {"id": order.contact_id or 0, "address": address(parties.get("customer", {}))},
        "customerId": order.contact_id or 0,
        "billing": {"contactId": order.contact_id or 0, "address": address(parties.get("billing", {}))},
        "ref": order.reference, "externalRef": order.external_ref or None,
        "placedOn": timestamp(order.placed_on), "taxDate": timestamp(order.tax_date),
        "parentId": order.parent_order_id, "statusId": order.order_status_id, "warehouseId": order.warehouse_id or 0,
        "channelId": order.channel_id or 0, "staffOwnerId": order.staff_owner_id or 0,
        "priceListId": order.price_list_id or 0, "priceModeCode": doc.get("priceModeCode", "EXC"),
        "currency": {"code": currency, "fixedExchangeRate": True, "exchangeRate": money(doc.get("exchangeRate", 1), 6)},
        "delivery": _drop_none({"date": timestamp(order.delivery_date), "address": address(parties.get("delivery", {})),
                                "shippingMethodId": doc.get("shippingMethodId", 0)}),
        "rows": [_drop_none({"id": row.pk, "productId": row.product_id or 0, "name": row.product_name,
                             "sku": row.product_sku or None, "quantity": money(row.quantity, 4),
                             "taxCode": row.tax_code,
                             "net": money(row.net), "tax": money(row.tax), "nominalCode": row.nominal_code})
                 for row in rows],
        "total": {"net": money(order.net), "tax": money(order.tax), "gross": money(order.total),
                  "baseNet": money(order.net), "baseTax": money(order.tax), "baseGross": money(order.total)},
        "createdBy": order.created_by_id, "createdOn": timestamp(order.created_on),
        "updatedOn": timestamp(order.updated_on),
        "stockStatusCode": order.stock_status_code, "allocationStatusCode": order.allocation_status_code,
        "shippingStatusCode": order.shipping_status_code, "orderPaymentStatus": order.payment_status,
    })


def goods_out_note_record(note) -> dict:
    doc = note.document or {}
    status = doc.get("status") or {}
    return {
        "orderId": note.order_id, "warehouseId": note.warehouse_id, "transfer": bool(doc.get("transfer", False)),
        "priority": bool(doc.get("priority", False)),
        "status": {"shipped": note.shipped, "packed": bool(status.get("packed", note.shipped)),
                   "picked": bool(status.get("picked", note.shipped)), "printed": bool(status.get("printed", False)),
                   "pickedOn": status.get("pickedOn"), "packedOn": status.get("packedOn"),
                   "shippedOn": status.get("shippedOn"), "printedOn": status.get("printedOn"),
                   "pickedById": status.get("pickedById", 0), "packedById": status.get("packedById", 0),
                   "shippedById": status.get("shippedById", 0), "printedById": status.get("printedById", 0)},
        "shipping": {"reference": doc.get("shippingReference", ""), "shippingMethodId": doc.get("shippingMethodId", 0)},
        "releaseDate": doc.get("releaseDate") or timestamp(note.created_on),
        "createdOn": timestamp(note.created_on),
        "createdBy": doc.get("createdBy", 4),
        "orderRows": doc.get("orderRows") or {},
        "sequence": doc.get("sequence", 1),
        "events": doc.get("events") or [],
        "lastEventVersion": len(doc.get("events") or []),
    }


# --- Contacts ------------------------------------------------------------------------------------------

def contact_record(contact, *, address_ids: dict[str, int], custom_fields: bool = False) -> dict:
    """GET contact-service/contact/{id set}: one contact (§4.3a)."""
    doc = contact.document or {}
    emails = {}
    for key, value in (("PRI", contact.email), ("SEC", contact.secondary_email), ("TER", contact.tertiary_email)):
        if value:
            emails[key] = {"email": value}
    telephones = {key: value for key, value in (("PRI", contact.telephone), ("SEC", contact.secondary_telephone),
                                                ("MOB", contact.mobile)) if value}
    financial = doc.get("financialDetails") or {}
    record = {
        "contactId": contact.pk,
        "isPrimaryContact": contact.is_primary_contact,
        "salutation": contact.salutation or None,
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "postAddressIds": address_ids,
        "communication": {"emails": emails, "telephones": telephones, "messagingVoips": doc.get("messagingVoips", {}),
                          "websites": doc.get("websites", {})},
        "contactStatus": {"current": {"contactStatusId": doc.get("contactStatusId", 1)}},
        "relationshipToAccount": {"isSupplier": contact.is_supplier, "isStaff": contact.is_staff},
        "marketingDetails": {"isReceiveEmailNewsletter": bool(doc.get("isReceiveEmailNewsletter", False))},
        "financialDetails": {"priceListId": financial.get("priceListId", 0),
                             "nominalCode": str(contact.nominal_code or 0),
                             "creditLimit": financial.get("creditLimit", 0),
                             "creditTermDays": financial.get("creditTermDays", 0),
                             "currencyId": financial.get("currencyId", 1),
                             "discountPercentage": financial.get("discountPercentage", 0.0),
                             "creditTermTypeId": financial.get("creditTermTypeId", 1)},
        "assignment": {"current": doc.get("assignment", {})},
        "organisation": _drop_none({"organisationId": doc.get("organisationId", 0),
                                    "name": contact.company or None, "jobTitle": contact.job_title or None}),
        "tradeStatus": doc.get("tradeStatus", "UNKNOWN"),
        "createdByid": contact.created_by_id,
        "createdOn": timestamp(contact.created_on),
        "updatedOn": timestamp(contact.updated_on),
        "contactTags": doc.get("contactTags", ""),
        "customFields": (doc.get("customFields") or {}) if custom_fields else None,
        "aliases": doc.get("aliases", {}),
        "companyId": doc.get("organisationId", 0),
    }
    return _drop_none(record)


def postal_address_record(address) -> dict:
    return {"addressId": address.pk, "addressLine1": address.address_line1, "addressLine2": address.address_line2,
            "addressLine3": address.address_line3, "addressLine4": address.address_line4,
            "postalCode": address.postal_code, "countryIsoCode": address.country_iso_code,
            "countryIsoCode2": address.country_iso_code[:2]}


# --- Lookups -------------------------------------------------------------------------------------------

def order_status_record(entry) -> dict:
    doc = entry.document or {}
    return {"statusId": entry.ref_id, "name": entry.name, "orderTypeCode": doc.get("orderTypeCode", "SO"),
            "sortOrder": doc.get("sortOrder", entry.ref_id), "disabled": False, "visible": True,
            "color": doc.get("color", "#cccccc"), "remindAfterDays": 0, "alertEmails": "", "emailContent": "",
            "batchProcess": False, "state": doc.get("state", "OPEN")}


def lookup_record(entry) -> dict:
    """warehouse, brand, channel, category, product-type, shipping-method, tax-code: ``{id, name, …}``; the
    other lookup kinds in :data:`LOOKUP_SHAPES`."""
    doc = entry.document or {}
    if entry.kind in LOOKUP_SHAPES:
        return LOOKUP_SHAPES[entry.kind](entry, doc)
    if entry.kind == "tax_code":
        return _drop_none({"id": entry.ref_id, "code": entry.code, "description": entry.name, "rate": doc.get("rate")})
    record = {"id": entry.ref_id, "name": entry.name}
    if entry.kind == "warehouse":
        record.update(typeDescription=doc.get("typeDescription", "Warehouse"), addressId=doc.get("addressId", 0))
    elif entry.kind == "category":
        record.update(parentId=doc.get("parentId", 0))
    elif entry.kind == "shipping_method":
        record.update(code=entry.code)
    elif entry.kind == "channel":
        record.update(channelTypeId=doc.get("channelTypeId", 1))
    return record


LOOKUP_SHAPES = {
    # kind → (entry, document) -> record
    "contact_group": lambda e, d: {"id": e.ref_id, "name": e.name, "description": d.get("description", "")},
    "lead_source": lambda e, d: {
        "id": e.ref_id,
        "name": e.name,
        "parentId": d.get("parentId", 0),
        "isActive": bool(d.get("isActive", True)),
    },
    "company": lambda e, d: {"id": e.ref_id, "name": e.name},
    "currency": lambda e, d: {
        "id": e.ref_id,
        "title": e.name,
        "code": e.code,
        "symbol": d.get("symbol", ""),
        "exchangeRate": d.get("exchangeRate", "1.000000"),
        "isDefault": bool(d.get("isDefault")),
        "exchangeRateVarianceNominalCode": d.get("exchangeRateVarianceNominalCode", "4906"),
    },
    "nominal_code": lambda e, d: {
        "id": e.ref_id,
        "code": e.code,
        "name": e.name,
        "type": d.get("type", "ASSET"),
        "bank": bool(d.get("bank")),
        "expense": bool(d.get("expense")),
        "discount": False,
        "editable": True,
        "active": True,
    },
    "payment_method": lambda e, d: {
        "id": e.ref_id,
        "code": e.code,
        "name": e.name,
        "bankAccountNominalCode": d.get("bankAccountNominalCode", "1200"),
        "isActive": bool(d.get("isActive", True)),
        "installedIntegrationInstanceId": 0,
    },
    "accounting_period": lambda e, d: {
        "id": e.ref_id,
        "startDate": d.get("startDate"),
        "endDate": d.get("endDate"),
        "closed": bool(d.get("closed")),
    },
    "option": lambda e, d: {"id": e.ref_id, "name": e.name},
    "option_value": lambda e, d: {
        "optionValueId": e.ref_id,
        "optionValueName": e.name,
        "optionId": d.get("optionId", 0),
        "sortOrder": d.get("sortOrder", 0),
    },
    "season": lambda e, d: {"id": e.ref_id, "name": e.name, "code": e.code, "description": d.get("description", "")},
    "collection": lambda e, d: {"id": e.ref_id, "name": e.name, "description": d.get("description", "")},
    "channel_brand": lambda e, d: {"id": e.ref_id, "name": e.name},
    "location": lambda e, d: {
        "id": e.ref_id,
        "warehouseId": d.get("warehouseId", 0),
        "groupingA": d.get("groupingA", ""),
        "groupingB": d.get("groupingB", ""),
        "groupingC": d.get("groupingC", ""),
        "groupingD": d.get("groupingD", ""),
        "zoneId": d.get("zoneId", 0),
    },
    "zone": lambda e, d: {"id": e.ref_id, "name": e.name, "warehouseId": d.get("warehouseId", 0)},
}


def tag_record(entry) -> dict:
    doc = entry.document or {}
    return {
        "tagId": entry.ref_id,
        "tagName": entry.name,
        "tagParentId": doc.get("tagParentId", 0),
        "tagColor": doc.get("tagColor", "#cccccc"),
    }


def exchange_rate_record(entry, base: str) -> dict:
    doc = entry.document or {}
    return {
        "currencyId": entry.ref_id,
        "currencyCode": entry.code,
        "baseCurrencyCode": base,
        "rate": doc.get("exchangeRate", "1.000000"),
    }


def custom_field_meta_record(entry) -> dict:
    """One custom-field definition (§4.5): SELECT fields list their options keyed by option id."""
    doc = entry.document or {}
    record = {
        "id": entry.ref_id,
        "code": entry.code,
        "name": entry.name,
        "customFieldType": doc.get("customFieldType", "TEXT"),
        "required": bool(doc.get("required", False)),
    }
    if record["customFieldType"] == "SELECT":
        record["options"] = {key: {"id": int(key), "value": value} for key, value in (doc.get("options") or {}).items()}
    return record


def customer_payment_row(payment) -> dict:
    return {
        "paymentId": payment.pk,
        "transactionRef": payment.transaction_ref,
        "transactionCode": payment.transaction_code,
        "paymentMethodCode": payment.payment_method_code,
        "paymentType": payment.payment_type,
        "orderId": payment.order_id,
    }


def webhook_record(hook) -> dict:
    return _drop_none(
        {
            "id": hook.pk,
            "subscribeTo": hook.subscribe_to,
            "httpMethod": hook.http_method,
            "uriTemplate": hook.uri_template,
            "bodyTemplate": hook.body_template or None,
            "contentType": hook.content_type or None,
            "idSetAccepted": hook.id_set_accepted,
            "qualityOfService": hook.quality_of_service,
        }
    )


def order_note_record(note) -> dict:
    return _drop_none(
        {
            "id": note.pk,
            "orderId": note.order_id,
            "text": note.text,
            "isPublic": note.is_public,
            "contactId": note.contact_id,
            "fileId": note.file_id,
            "addedOn": timestamp(note.added_on),
        }
    )
