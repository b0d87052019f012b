"""Writes of the platform API in Brightpearl's body shapes (BRIGHTPEARL-API.md §4.1c, §4.2c, §4.3, §4.4):
product POST/PUT, product-price PUT, order POST, order-row POST, order-status PUT, contact POST and
PATCH, postal-address POST. Answers as Brightpearl: POST → the new id, PUT → ``{}``, PATCH → the object.

A body is read whole before anything is written: every problem is listed in one 400 whose messages start
with the field path (``salesChannels[0].productName: must be a string``), with the reference's code
where it records one (``PRDC-014``, ``ORDC-005``, ``ORDC-006``, ``ORDC-022``) and ``CMNC-010`` for any
other wrong shape. Keys the portal does not know are ignored (clients send whole records back)."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations import api_defaults as defaults, resources
from integrations.errors import BAD_PATCH, NO_JSON_BODY, body_error, not_found
from integrations.gateway import ApiError
from integrations.models import ApiLookup, Contact, Order, OrderRow, PostalAddress, PriceList, Product, ProductPrice

MISSING = object()
MAX_TEXT = 10_000


class Body:
    """Reads a JSON body, collecting problems as ``(code, path, message)``."""

    def __init__(self, payload, *, kind: str = "object"):
        self.problems: list[tuple[str, str, str]] = []
        if kind == "object" and not isinstance(payload, dict):
            raise body_error([(NO_JSON_BODY, "", "You must supply a JSON formatted body with your request "
                                                 "(a JSON object)")])
        self.payload = payload

    def problem(self, path: str, message: str, code: str = NO_JSON_BODY) -> None:
        self.problems.append((code, path, message))

    def value(self, obj: dict, key: str, path: str, kind: str, *, required: bool = False, max_length: int = 200,
              code: str = NO_JSON_BODY, nullable: bool = False):
        """``obj[key]`` checked against ``kind`` (string, int, bool, number, object, array, datetime); MISSING
        when absent (a problem too when required) or wrong."""
        full = f"{path}.{key}" if path else key
        if not isinstance(obj, dict) or key not in obj:
            if required:
                self.problem(full, "is required", code)
            return MISSING
        value = obj[key]
        if value is None:
            if nullable:
                return None
            self.problem(full, "must not be null", code)
            return MISSING
        ok = {
            "string": isinstance(value, str) and len(value) <= max_length and "\x00" not in value,
            "int": isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31
            or isinstance(value, str) and value.isdigit() and len(value) < 10,
            "bool": isinstance(value, bool),
            "number": _number(value) is not None,
            "object": isinstance(value, dict),
            "array": isinstance(value, list),
            "datetime": isinstance(value, str) and _moment(value) is not None,
        }[kind]
        if not ok:
            what = {"string": f"a string of at most {max_length} characters", "int": "a whole number",
                    "bool": "true or false", "number": "a number", "object": "a JSON object", "array": "a JSON array",
                    "datetime": "an ISO 8601 date-time"}[kind]
            self.problem(full, f"must be {what}", code)
            return MISSING
        if kind == "int":
            return int(value)
        if kind == "number":
            return _number(value)
        if kind == "datetime":
            return _moment(value)
        return value.strip() if kind == "string" else value

    def raise_if_any(self) -> None:
        if self.problems:
            raise body_error(self.problems)


def _number(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() and abs(number) < Decimal(10) ** 10 else None


def _moment(text: str):
    try:
        moment = parse_datetime(text.strip())
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.get_current_timezone())
    return moment


def _lookup_exists(account, kind: str, ref_id: int) -> bool:
    return ApiLookup.objects.filter(account=account, kind=kind, ref_id=ref_id).exists()


def _record_id(text: str, what: str) -> int:
    if not text.isdigit() or not 1 <= int(text) < 2**63:
        raise body_error([("CMNC-018", what, f"The ID {text[:40]} cannot be parsed as: INTEGER")])
    return int(text)


# --- Products ------------------------------------------------------------------------------------------

def _read_product(account, body: Body, *, creating: bool) -> tuple[dict, dict]:
    """(model fields, document changes) from a product body."""
    data, fields, doc = body.payload, {}, {}
    if creating or "brandId" in data:
        brand = body.value(data, "brandId", "", "int", nullable=True)
        if brand is None or brand is MISSING and "brandId" not in data:
            body.problem("brandId", "You must supply a brand ID.", "PRDC-014")
        elif brand is not MISSING:
            if not _lookup_exists(account, ApiLookup.Kind.BRAND, brand):
                body.problem("brandId", f"no brand {brand} in this account", "PRDC-014")
            fields["brand_id"] = brand
    for key, attr in (("productTypeId", "product_type_id"), ("productGroupId", "product_group_id"),
                      ("primarySupplierId", "primary_supplier_id")):
        value = body.value(data, key, "", "int", nullable=True)
        if value is not MISSING:
            fields[attr] = value or None
    identity = body.value(data, "identity", "", "object")
    if identity is not MISSING:
        for key, attr in (("sku", "sku"), ("barcode", "barcode"), ("ean", "ean"), ("upc", "upc"), ("isbn", "isbn"),
                          ("mpn", "mpn")):
            value = body.value(identity, key, "identity", "string", max_length=64, nullable=True)
            if value is not MISSING:
                fields[attr] = value or ""
    stock = body.value(data, "stock", "", "object")
    if stock is not MISSING:
        tracked = body.value(stock, "stockTracked", "stock", "bool")
        if tracked is not MISSING:
            fields["stock_tracked"] = tracked
        weight = body.value(stock, "weight", "stock", "object")
        if weight is not MISSING:
            magnitude = body.value(weight, "magnitude", "stock.weight", "number")
            if magnitude is not MISSING:
                doc["weight"] = float(magnitude)
        dimensions = body.value(stock, "dimensions", "stock", "object")
        if dimensions is not MISSING:
            doc["dimensions"] = {}
            for key in ("length", "height", "width", "volume"):
                value = body.value(dimensions, key, "stock.dimensions", "number")
                if value is not MISSING:
                    doc["dimensions"][key] = float(value)
    financial = body.value(data, "financialDetails", "", "object")
    if financial is not MISSING:
        taxable = body.value(financial, "taxable", "financialDetails", "bool")
        if taxable is not MISSING:
            doc["taxable"] = taxable
        tax_code = body.value(financial, "taxCode", "financialDetails", "object")
        if tax_code is not MISSING:
            tax_id = body.value(tax_code, "id", "financialDetails.taxCode", "int")
            if tax_id is not MISSING:
                if not _lookup_exists(account, ApiLookup.Kind.TAX_CODE, tax_id):
                    body.problem("financialDetails.taxCode.id", f"no tax code {tax_id} in this account")
                doc["taxCodeId"] = tax_id
    channels = body.value(data, "salesChannels", "", "array")
    if channels is not MISSING:
        stored = []
        for index, channel in enumerate(channels):
            path = f"salesChannels[{index}]"
            if not isinstance(channel, dict):
                body.problem(path, "must be a JSON object")
                continue
            entry = {}
            name = body.value(channel, "salesChannelName", path, "string", max_length=100)
            entry["salesChannelName"] = name if name is not MISSING else "Brightpearl"
            product_name = body.value(channel, "productName", path, "string", required=creating and index == 0)
            if product_name is not MISSING:
                if index == 0 and not product_name:
                    body.problem(f"{path}.productName", "must not be blank")
                entry["productName"] = product_name
            condition = body.value(channel, "productCondition", path, "string", max_length=20)
            if condition is not MISSING:
                entry["productCondition"] = condition
            categories = body.value(channel, "categories", path, "array")
            if categories is not MISSING:
                ids = []
                for at, category in enumerate(categories):
                    code = body.value(category, "categoryCode", f"{path}.categories[{at}]", "int", required=True)
                    if code is not MISSING:
                        ids.append(code)
                entry["categoryIds"] = ids
            for key in ("description", "shortDescription"):
                text = channel.get(key)
                if key in channel and isinstance(text, dict):
                    value = body.value(text, "text", f"{path}.{key}", "string", max_length=MAX_TEXT)
                    if value is not MISSING:
                        entry[key] = {"languageCode": str(text.get("languageCode", "en"))[:5], "text": value,
                                      "format": str(text.get("format", "HTML_FRAGMENT"))[:20]}
                elif key in channel:
                    body.problem(f"{path}.{key}", "must be a JSON object")
            stored.append(entry)
        if stored:
            main = stored[0]
            if "productName" in main:
                fields["name"] = main["productName"]
            if "categoryIds" in main:
                fields["category_ids"] = main["categoryIds"]
                fields["primary_category_id"] = main["categoryIds"][0] if main["categoryIds"] else None
            doc["salesChannels"] = stored
    for key in ("featured",):
        value = body.value(data, key, "", "bool")
        if value is not MISSING:
            doc[key] = value
    composition = body.value(data, "composition", "", "object")
    if composition is not MISSING:
        bundle = body.value(composition, "bundle", "composition", "bool")
        if bundle is not MISSING:
            doc["bundle"] = bundle
    status = body.value(data, "status", "", "string", max_length=20)
    if status is not MISSING:
        if status.upper() not in ("LIVE", "DISCONTINUED", "ARCHIVED"):
            body.problem("status", "must be LIVE, DISCONTINUED or ARCHIVED")
        fields["status"] = status.upper()
    for key in ("salesPopupMessage", "warehousePopupMessage", "nominalCodeStock", "nominalCodePurchases",
                "nominalCodeSales"):
        value = body.value(data, key, "", "string", max_length=1000)
        if value is not MISSING:
            doc[key] = value
    custom = body.value(data, "customFields", "", "object")
    if custom is not MISSING:
        doc["customFields"] = custom
    body.raise_if_any()
    return fields, doc


def _merge_channels(old: list, new: list) -> list:
    merged = [dict(channel) for channel in old] or []
    for index, channel in enumerate(new):
        if index < len(merged):
            merged[index].update(channel)
        else:
            merged.append(channel)
    return merged


def _save_product(product: Product, fields: dict, doc: dict) -> Product:
    document = dict(product.document or {})
    if "salesChannels" in doc:
        doc = {**doc, "salesChannels": _merge_channels(document.get("salesChannels") or [], doc["salesChannels"])}
    document.update(doc)
    for attr, value in fields.items():
        setattr(product, attr, value)
    product.document = document
    if product.sku and Product.objects.filter(account_id=product.account_id, sku=product.sku) \
            .exclude(pk=product.pk).exists():
        raise body_error([("PRDC-009", "identity.sku", f"another product already has the SKU {product.sku}")])
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:
        raise body_error([("PRDC-009", "identity.sku", "another product already has this SKU")]) from None
    return product


def product_create(*, account, payload) -> int:
    """POST product-service/product → the new product's id."""
    fields, doc = _read_product(account, Body(payload), creating=True)
    fields.setdefault("product_type_id", 1)
    return _save_product(Product(account=account, sku=fields.pop("sku", ""), name=fields.pop("name", "")),
                         fields, doc).pk


def product_update(*, account, product_id: str, payload) -> dict:
    """PUT product-service/product/{id}: change the fields present (an ``id`` in the body is ignored)."""
    record_id = _record_id(product_id, "product ID")
    fields, doc = _read_product(account, Body(payload), creating=False)
    with transaction.atomic():
        product = Product.objects.select_for_update().filter(account=account, pk=record_id).first()
        if product is None:
            raise not_found(f"Cannot find product {record_id}")
        _save_product(product, fields, doc)
    return {}


def product_prices_set(*, account, product_id: str, payload) -> dict:
    """PUT product-service/product-price/{id}/price-list ``{"priceLists":[{"priceListId", "quantityPrice"}]}``."""
    record_id = _record_id(product_id, "product ID")
    body = Body(payload)
    entries = body.value(payload, "priceLists", "", "array", required=True)
    changes = {}
    if entries is not MISSING:
        lists = set(PriceList.objects.filter(account=account).values_list("id", flat=True))
        for index, entry in enumerate(entries):
            path = f"priceLists[{index}]"
            list_id = body.value(entry, "priceListId", path, "int", required=True)
            prices = body.value(entry, "quantityPrice", path, "object", required=True)
            if list_id is MISSING or prices is MISSING:
                continue
            if list_id not in lists:
                body.problem(f"{path}.priceListId", f"no price list {list_id} in this account")
            clean = {}
            for quantity, price in prices.items():
                number = _number(price)
                if not str(quantity).isdigit() or number is None or number < 0:
                    body.problem(f"{path}.quantityPrice.{quantity}"[:80], "must map a quantity to a price ≥ 0")
                    continue
                clean[str(int(quantity))] = str(number.quantize(Decimal("0.0001")))
            changes[list_id] = clean
    body.raise_if_any()
    with transaction.atomic():
        product = Product.objects.select_for_update().filter(account=account, pk=record_id).first()
        if product is None:
            raise not_found("No Product Prices Found")
        for list_id, prices in changes.items():
            ProductPrice.objects.update_or_create(product=product, price_list_id=list_id,
                                                  defaults={"quantity_prices": prices})
        product.save(update_fields=["updated_on"])
    return {}


# --- Orders --------------------------------------------------------------------------------------------

PARTY_FIELDS = ("addressFullName", "companyName", "addressLine1", "addressLine2", "addressLine3", "addressLine4",
                "postalCode", "country", "telephone", "mobileTelephone", "fax", "email", "countryIsoCode")


def _read_party(body: Body, party, path: str) -> dict:
    values = {}
    for key in PARTY_FIELDS:
        value = body.value(party, key, path, "string", nullable=True)
        if value not in (MISSING, None):
            values[key] = value
    return values


def order_create(*, account, payload) -> int:
    """POST order-service/order → the new order's id (§4.2c)."""
    body = Body(payload)
    type_code = body.value(payload, "orderTypeCode", "", "string", max_length=10, code="ORDC-005")
    if type_code is MISSING and "orderTypeCode" not in payload:
        body.problem("orderTypeCode", "You have not supplied an order type code", "ORDC-005")
    elif type_code is not MISSING and type_code not in defaults.ORDER_TYPE_IDS:
        body.problem("orderTypeCode", "You have supplied an invalid order type code", "ORDC-006")
    purchase = type_code in ("PO", "PC")
    parties = body.value(payload, "parties", "", "object")
    parties = parties if parties is not MISSING else {}
    party_key = "supplier" if purchase else "customer"
    main = body.value(parties, party_key, "parties", "object")
    contact = None
    contact_id = body.value(main, "contactId", f"parties.{party_key}", "int") if main is not MISSING else MISSING
    if contact_id is MISSING:
        if purchase:
            body.problem(f"parties.{party_key}.contactId", "Suppllier ID Required.", "ORDC-022")
        elif type_code in ("SO", "SC"):
            body.problem(f"parties.{party_key}.contactId", "a customer contact ID is required", "ORDC-023")
    else:
        contact = Contact.objects.filter(account=account, pk=contact_id).first()
        if contact is None:
            body.problem(f"parties.{party_key}.contactId", f"no contact {contact_id} in this account")
    stored_parties = {}
    for key, source in (("customer", main), ("delivery", parties.get("delivery")),
                        ("billing", parties.get("billing"))):
        if source not in (MISSING, None):
            if not isinstance(source, dict):
                body.problem(f"parties.{key}", "must be a JSON object")
                continue
            stored_parties[key] = _read_party(body, source, f"parties.{key if key != 'customer' else party_key}")
    fields = {}
    for key, attr, kind in (("reference", "reference", "string"), ("externalRef", "external_ref", "string"),
                            ("priceListId", "price_list_id", "int"), ("warehouseId", "warehouse_id", "int"),
                            ("channelId", "channel_id", "int"), ("placedOn", "placed_on", "datetime"),
                            ("installedIntegrationInstanceId", "installed_integration_instance_id", "int"),
                            ("parentId", "parent_order_id", "int")):
        value = body.value(payload, key, "", kind, max_length=64)
        if value is not MISSING:
            fields[attr] = value
    status = body.value(payload, "orderStatus", "", "object")
    status_id = body.value(status, "orderStatusId", "orderStatus", "int") if status is not MISSING else MISSING
    if status_id is MISSING:
        status_id = body.value(payload, "statusId", "", "int")
    if status_id is not MISSING:
        if not _lookup_exists(account, ApiLookup.Kind.ORDER_STATUS, status_id):
            body.problem("orderStatus.orderStatusId", f"no order status {status_id} in this account")
        fields["order_status_id"] = status_id
    currency = body.value(payload, "currency", "", "object")
    if currency is not MISSING:
        code = body.value(currency, "orderCurrencyCode", "currency", "string", max_length=3)
        if code is not MISSING:
            fields["currency"] = code.upper()
    delivery = body.value(payload, "delivery", "", "object")
    doc = {"parties": stored_parties}
    if delivery is not MISSING:
        date = body.value(delivery, "deliveryDate", "delivery", "datetime")
        if date is not MISSING:
            fields["delivery_date"] = date
        method = body.value(delivery, "shippingMethodId", "delivery", "int")
        if method is not MISSING:
            doc["shippingMethodId"] = method
    invoices = body.value(payload, "invoices", "", "array")
    if invoices is not MISSING and invoices:
        tax_date = body.value(invoices[0], "taxDate", "invoices[0]", "datetime")
        if tax_date is not MISSING:
            fields["tax_date"] = tax_date
    body.raise_if_any()
    now = timezone.now()
    fields.setdefault("placed_on", now)
    fields.setdefault("tax_date", fields["placed_on"])
    fields.setdefault("order_status_id", 7 if purchase else 2)
    order = Order.objects.create(
        account=account, contact=contact, order_type_code=type_code, document=doc,
        stock_status_code="PON" if purchase else "SON", allocation_status_code="ANR" if purchase else "ANA",
        shipping_status_code="NST" if purchase else "SNS", payment_status="NOT_APPLICABLE" if purchase else "UNPAID",
        **fields,
    )
    return order.pk


def order_row_create(*, account, order_id: str, payload) -> int:
    """POST order-service/order/{id}/row → the new row's id; the order's totals follow."""
    record_id = _record_id(order_id, "order ID")
    body = Body(payload)
    product_id = body.value(payload, "productId", "", "int", nullable=True)
    name = body.value(payload, "productName", "", "string", required=product_id in (MISSING, None))
    quantity = body.value(payload, "quantity", "", "object", required=True)
    magnitude = body.value(quantity, "magnitude", "quantity", "number", required=True) \
        if quantity is not MISSING else MISSING
    row_value = body.value(payload, "rowValue", "", "object", required=True)
    net = tax = MISSING
    tax_code = "T"
    if row_value is not MISSING:
        for key in ("rowNet", "rowTax"):
            part = body.value(row_value, key, "rowValue", "object", required=True)
            if part is not MISSING:
                value = body.value(part, "value", f"rowValue.{key}", "number", required=True)
                if key == "rowNet":
                    net = value
                else:
                    tax = value
        code = body.value(row_value, "taxCode", "rowValue", "string", max_length=10)
        tax_code = code if code is not MISSING else tax_code
    nominal = body.value(payload, "nominalCode", "", "string", max_length=10)
    product = None
    if product_id not in (MISSING, None):
        product = Product.objects.filter(account=account, pk=product_id).first()
        if product is None:
            body.problem("productId", f"no product {product_id} in this account")
    body.raise_if_any()
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(account=account, pk=record_id).first()
        if order is None:
            raise not_found(f"Cannot find order {record_id}")
        net, tax = (net if net is not MISSING else Decimal(0)), (tax if tax is not MISSING else Decimal(0))
        sequence = (order.rows.count() + 1) * 10
        row = OrderRow.objects.create(
            order=order, sequence=sequence, product_id=product.pk if product else None,
            product_name=name if name is not MISSING else product.name, product_sku=product.sku if product else "",
            quantity=magnitude, unit_price=(net / magnitude if magnitude else net).quantize(Decimal("0.0001")),
            tax_rate=(tax / net * 100 if net else Decimal(0)).quantize(Decimal("0.0001")), tax_code=tax_code,
            net=net.quantize(Decimal("0.01")), tax=tax.quantize(Decimal("0.01")),
            nominal_code=nominal if nominal is not MISSING else "4000",
        )
        order.net += row.net
        order.tax += row.tax
        order.total = order.net + order.tax
        order.save()
    return row.pk


def order_status_set(*, account, order_id: str, payload) -> dict:
    """PUT order-service/order/{id}/status ``{"orderStatusId": 2}`` → ``{}``."""
    record_id = _record_id(order_id, "order ID")
    body = Body(payload)
    status_id = body.value(payload, "orderStatusId", "", "int", required=True)
    if status_id is not MISSING and not _lookup_exists(account, ApiLookup.Kind.ORDER_STATUS, status_id):
        body.problem("orderStatusId", f"no order status {status_id} in this account")
    body.raise_if_any()
    order = Order.objects.filter(account=account, pk=record_id).first()
    if order is None:
        raise not_found(f"Cannot find order {record_id}")
    order.order_status_id = status_id
    order.save(update_fields=["order_status_id", "updated_on"])
    return {}


# --- Contacts ------------------------------------------------------------------------------------------

def _read_contact(body: Body, *, creating: bool) -> dict:
    data, fields = body.payload, {}
    for key, attr, length in (("salutation", "salutation", 20), ("firstName", "first_name", 100),
                              ("lastName", "last_name", 100)):
        value = body.value(data, key, "", "string", max_length=length, nullable=True)
        if value is not MISSING:
            fields[attr] = value or ""
    if creating and not (fields.get("first_name") or fields.get("last_name")):
        body.problem("firstName", "a contact needs a firstName or a lastName")
    communication = body.value(data, "communication", "", "object")
    if communication is not MISSING:
        emails = body.value(communication, "emails", "communication", "object")
        if emails is not MISSING:
            for key, attr in (("PRI", "email"), ("SEC", "secondary_email"), ("TER", "tertiary_email")):
                entry = body.value(emails, key, "communication.emails", "object")
                if entry is not MISSING:
                    email = body.value(entry, "email", f"communication.emails.{key}", "string", max_length=254)
                    if email is not MISSING:
                        try:
                            if email:
                                validate_email(email)
                            fields[attr] = email
                        except ValidationError:
                            body.problem(f"communication.emails.{key}.email", "must be an email address")
        phones = body.value(communication, "telephones", "communication", "object")
        if phones is not MISSING:
            for key, attr in (("PRI", "telephone"), ("SEC", "secondary_telephone"), ("MOB", "mobile")):
                value = body.value(phones, key, "communication.telephones", "string", max_length=40)
                if value is not MISSING:
                    fields[attr] = value
    relationship = body.value(data, "relationshipToAccount", "", "object")
    if relationship is not MISSING:
        for key, attr in (("isSupplier", "is_supplier"), ("isStaff", "is_staff")):
            value = body.value(relationship, key, "relationshipToAccount", "bool")
            if value is not MISSING:
                fields[attr] = value
    organisation = body.value(data, "organisation", "", "object")
    if organisation is not MISSING:
        for key, attr in (("name", "company"), ("jobTitle", "job_title")):
            value = body.value(organisation, key, "organisation", "string", nullable=True)
            if value is not MISSING:
                fields[attr] = value or ""
    addresses = body.value(data, "postAddressIds", "", "object")
    if addresses is not MISSING:
        fields["_addresses"] = {}
        for key in ("DEF", "BIL", "DEL"):
            value = body.value(addresses, key, "postAddressIds", "int")
            if value is not MISSING:
                fields["_addresses"][key] = value
    body.raise_if_any()
    return fields


def _link_addresses(contact: Contact, address_ids: dict[str, int], body_path: str = "postAddressIds") -> None:
    found = {address.pk: address for address in PostalAddress.objects.filter(
        account_id=contact.account_id, pk__in=set(address_ids.values()))}
    missing = [(NO_JSON_BODY, f"{body_path}.{role}", f"no postal address {pk} in this account")
               for role, pk in address_ids.items() if pk not in found]
    if missing:
        raise body_error(missing)
    roles: dict[int, set] = {}
    for role, pk in address_ids.items():
        roles.setdefault(pk, set()).add(role)
    for pk, address in found.items():
        address.contact = contact
        address.roles = ",".join(sorted(roles[pk] | set(filter(None, address.roles.split(",")))))
        address.save(update_fields=["contact", "roles"])


def contact_create(*, account, payload) -> int:
    """POST contact-service/contact → the new contact's id."""
    fields = _read_contact(Body(payload), creating=True)
    addresses = fields.pop("_addresses", {})
    with transaction.atomic():
        contact = Contact.objects.create(account=account, is_customer=not fields.get("is_supplier", False), **fields)
        _link_addresses(contact, addresses)
    return contact.pk


PATCHABLE = {"/firstName": "first_name", "/lastName": "last_name", "/salutation": "salutation"}


def contact_patch(*, account, contact_id: str, payload) -> dict:
    """PATCH contact-service/contact/{id} with a JSON Patch (``replace`` of /firstName, /lastName,
    /salutation) → the whole updated contact."""
    record_id = _record_id(contact_id, "contact ID")
    if not isinstance(payload, list) or not payload:
        raise body_error([(NO_JSON_BODY, "", "You must supply a JSON formatted body with your request "
                                             "(a JSON Patch array)")])
    changes = {}
    for index, operation in enumerate(payload):
        path = operation.get("path") if isinstance(operation, dict) else None
        if not isinstance(operation, dict) or operation.get("op") != "replace" or path not in PATCHABLE:
            op = operation.get("op") if isinstance(operation, dict) else None
            raise ApiError(400, BAD_PATCH, f"[{index}]: Invalid patch operation ({op}) for given path ({path})")
        value = operation.get("value")
        if not isinstance(value, str) or len(value) > 100:
            raise body_error([(NO_JSON_BODY, f"[{index}].value", "must be a string of at most 100 characters")])
        changes[PATCHABLE[path]] = value.strip()
    contact = Contact.objects.filter(account=account, pk=record_id).first()
    if contact is None:
        raise not_found("No Contact Found")
    for attr, value in changes.items():
        setattr(contact, attr, value)
    contact.save()
    return resources.contacts(account=account, id_set=str(record_id))[0]


def postal_address_create(*, account, payload) -> int:
    """POST contact-service/postal-address → the new address id."""
    body = Body(payload)
    fields = {}
    for key, attr in (("addressLine1", "address_line1"), ("addressLine2", "address_line2"),
                      ("addressLine3", "address_line3"), ("addressLine4", "address_line4"),
                      ("postalCode", "postal_code"), ("countryIsoCode", "country_iso_code")):
        value = body.value(payload, key, "", "string", max_length=3 if key == "countryIsoCode" else 100,
                           nullable=True, required=key == "addressLine1")
        if value not in (MISSING, None):
            fields[attr] = value
    body.raise_if_any()
    return PostalAddress.objects.create(account=account, **fields).pk
