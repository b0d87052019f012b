"""More writes of the platform API (BRIGHTPEARL-API.md §4.2c, §4.3c, §4.5, §9): order PATCH (JSON Patch), order-row
PATCH and DELETE, product DELETE, order-status POST and PUT, custom-field GET and PATCH on products, orders and
contacts, customer payments (POST, DELETE) and webhooks (POST, GET, DELETE).

As in ``integrations.writes``: a body is read whole before anything is written, every problem is listed in one
400 whose messages start with the field path, and nothing is written when a request is refused."""

import re
from decimal import Decimal

from django.db import transaction

from integrations import api_defaults as defaults, idsets, resources, shapes
from integrations.errors import BAD_PATCH, NO_JSON_BODY, body_error, not_found
from integrations.gateway import ApiError
from integrations.models import ApiLookup, Contact, CustomerPayment, Order, OrderRow, Product, Webhook
from integrations.writes import MISSING, Body, _moment, _number, _record_id

# --- JSON Patch ----------------------------------------------------------------------------------------


def _patch_operations(payload) -> list[dict]:
    """The operations of a JSON Patch body (an array of ``{op, path, value}``), or a 400."""
    if not isinstance(payload, list) or not payload:
        raise body_error([(NO_JSON_BODY, "", "You must supply a JSON formatted body with your request "
                                             "(a JSON Patch array)")])
    for index, operation in enumerate(payload):
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str) \
                or not isinstance(operation.get("path"), str):
            raise body_error([(NO_JSON_BODY, f"[{index}]", "must be a JSON Patch operation {op, path, value}")])
    return payload


def _bad_patch(index: int, operation: dict) -> ApiError:
    return ApiError(400, BAD_PATCH, f"[{index}]: Invalid patch operation ({str(operation.get('op'))[:20]}) "
                                    f"for given path ({str(operation.get('path'))[:80]})")


# --- Orders --------------------------------------------------------------------------------------------

# path → (kind, model attribute or document key, where: "field" | "doc")
ORDER_PATCHABLE = {
    "/reference": ("string", "reference", "field"),
    "/externalRef": ("string", "external_ref", "field"),
    "/delivery/deliveryDate": ("datetime", "delivery_date", "field"),
    "/delivery/shippingMethodId": ("int", "shippingMethodId", "doc"),
    "/placedOn": ("datetime", "placed_on", "field"),
    "/invoices/0/taxDate": ("datetime", "tax_date", "field"),
    "/invoices/0/dueDate": ("datetime", "dueDate", "doc"),
    "/warehouseId": ("int", "warehouse_id", "field"),
    "/priceListId": ("int", "price_list_id", "field"),
    "/assignment/current/staffOwnerContactId": ("int", "staff_owner_id", "field"),
    "/assignment/current/channelId": ("int", "channel_id", "field"),
    "/assignment/current/leadSourceId": ("int", "leadSourceId", "doc"),
    "/assignment/current/teamId": ("int", "department_id", "field"),
}


def _patch_value(body: Body, index: int, kind: str, value):
    checked = body.value({"value": value}, "value", f"[{index}]", kind, max_length=64)
    return checked


def order_patch(*, account, order_id: str, payload) -> dict:
    """PATCH order-service/order/{id} with ``replace`` operations → the whole updated order (an object).
    ``add``/``remove`` on these paths, or any other path, is 400 CMNC-044 (Brightpearl answers 500)."""
    record_id = _record_id(order_id, "order ID")
    operations = _patch_operations(payload)
    body = Body({})
    fields, doc_changes = {}, {}
    for index, operation in enumerate(operations):
        target = ORDER_PATCHABLE.get(operation["path"])
        if operation["op"] != "replace" or target is None:
            raise _bad_patch(index, operation)
        kind, attr, where = target
        value = _patch_value(body, index, kind, operation.get("value"))
        if value is MISSING:
            continue
        if where == "doc":
            doc_changes[attr] = value.isoformat(timespec="milliseconds") if kind == "datetime" else value
        else:
            fields[attr] = value
    body.raise_if_any()
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(account=account, pk=record_id).first()
        if order is None:
            raise not_found(f"Cannot find order {record_id}")
        for attr, value in fields.items():
            setattr(order, attr, value)
        if doc_changes:
            order.document = {**(order.document or {}), **doc_changes}
        order.save()
    return resources.orders(account=account, id_set=str(record_id))[0]


def _order_and_row(account, order_id: str, row_id: str):
    order_pk, row_pk = _record_id(order_id, "order ID"), _record_id(row_id, "order row ID")
    order = Order.objects.select_for_update().filter(account=account, pk=order_pk).first()
    if order is None:
        raise not_found(f"Cannot find order {order_pk}")
    row = OrderRow.objects.filter(order=order, pk=row_pk).first()
    if row is None:
        raise not_found(f"Cannot find order row {row_pk} on order {order_pk}")
    return order, row


ROW_PATCHABLE = {
    "/productName": "string", "/quantity/magnitude": "number", "/productPrice/value": "number",
    "/rowValue/rowNet/value": "number", "/rowValue/rowTax/value": "number", "/rowValue/taxCode": "string",
    "/nominalCode": "string", "/itemCost/value": "number",
}


def order_row_patch(*, account, order_id: str, row_id: str, payload) -> dict:
    """PATCH order-service/order/{id}/row/{row id} (JSON Patch ``replace``) → the updated row; the order's
    totals follow."""
    operations = _patch_operations(payload)
    body = Body({})
    changes = {}
    for index, operation in enumerate(operations):
        kind = ROW_PATCHABLE.get(operation["path"])
        if operation["op"] != "replace" or kind is None:
            raise _bad_patch(index, operation)
        value = body.value({"value": operation.get("value")}, "value", f"[{index}]", kind,
                           max_length=200 if operation["path"] == "/productName" else 10)
        if value is not MISSING:
            if kind == "number" and value < 0:
                body.problem(f"[{index}].value", "must not be negative")
                continue
            changes[operation["path"]] = value
    body.raise_if_any()
    with transaction.atomic():
        order, row = _order_and_row(account, order_id, row_id)
        old_net, old_tax = row.net, row.tax
        for path, value in changes.items():
            if path == "/productName":
                row.product_name = value
            elif path == "/quantity/magnitude":
                row.quantity = value
            elif path == "/productPrice/value":
                row.unit_price = value
                row.net = (value * row.quantity).quantize(Decimal("0.01"))
            elif path == "/rowValue/rowNet/value":
                row.net = value.quantize(Decimal("0.01"))
            elif path == "/rowValue/rowTax/value":
                row.tax = value.quantize(Decimal("0.01"))
            elif path == "/rowValue/taxCode":
                row.tax_code = value
            elif path == "/nominalCode":
                row.nominal_code = value
            elif path == "/itemCost/value":
                row.item_cost = value
        if row.quantity:
            row.unit_price = (row.net / row.quantity).quantize(Decimal("0.0001"))
        row.tax_rate = (row.tax / row.net * 100).quantize(Decimal("0.0001")) if row.net else Decimal(0)
        row.save()
        order.net += row.net - old_net
        order.tax += row.tax - old_tax
        order.total = order.net + order.tax
        order.save()
    return shapes.order_row_record(row, order.currency)


def order_row_delete(*, account, order_id: str, row_id: str) -> dict:
    """DELETE order-service/order/{id}/row/{row id} → ``{}``; the order's totals follow."""
    with transaction.atomic():
        order, row = _order_and_row(account, order_id, row_id)
        order.net -= row.net
        order.tax -= row.tax
        order.total = order.net + order.tax
        row.delete()
        order.save()
    return {}


def product_delete(*, account, product_id: str) -> dict:
    """DELETE product-service/product/{id} (undocumented, one client calls it) → ``{}``; its prices and stock
    go with it. Order rows keep their product id, as history."""
    record_id = _record_id(product_id, "product ID")
    deleted, _ = Product.objects.filter(account=account, pk=record_id).delete()
    if not deleted:
        raise not_found(f"Cannot find product {record_id}")
    return {}


# --- Order statuses ------------------------------------------------------------------------------------

HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")


def _read_order_status(account, payload, *, creating: bool, status_id: int | None = None) -> tuple[str, dict]:
    body = Body(payload)
    name = body.value(payload, "name", "", "string", required=creating, max_length=64)
    type_code = body.value(payload, "orderTypeCode", "", "string", required=creating, max_length=2, code="ORDC-006")
    colour = body.value(payload, "color", "", "string", required=creating, max_length=7)
    doc = {}
    if type_code is not MISSING:
        if type_code not in defaults.ORDER_TYPE_IDS:
            body.problem("orderTypeCode", "You have supplied an invalid order type code", "ORDC-006")
        doc["orderTypeCode"] = type_code
    if colour is not MISSING:
        if not HEX_COLOUR.fullmatch(colour):
            body.problem("color", "must be a hex colour such as #E7E6E4")
        doc["color"] = colour
    days = body.value(payload, "remindAfterDays", "", "int")
    if days is not MISSING:
        if days > 9999:
            body.problem("remindAfterDays", "must be at most 9999")
        doc["remindAfterDays"] = days
    emails = body.value(payload, "alertEmails", "", "array")
    if emails is not MISSING:
        if len(emails) > 2 or not all(isinstance(email, str) and 0 < len(email) <= 63 and "@" in email
                                      for email in emails):
            body.problem("alertEmails", "must list at most 2 email addresses of at most 63 characters")
        doc["alertEmails"] = emails
    content = body.value(payload, "emailContent", "", "string", max_length=2000)
    if content is not MISSING:
        doc["emailContent"] = content
    batch = body.value(payload, "batchProcess", "", "bool")
    if batch is not MISSING:
        doc["batchProcess"] = batch
    if name is not MISSING:
        if not name:
            body.problem("name", "must not be blank")
        existing = ApiLookup.objects.filter(account=account, kind=ApiLookup.Kind.ORDER_STATUS, name__iexact=name)
        if status_id is not None:
            existing = existing.exclude(ref_id=status_id)
        wanted_type = doc.get("orderTypeCode")
        if any((entry.document or {}).get("orderTypeCode") == wanted_type or wanted_type is None for entry in existing):
            body.problem("name", f"an order status named {name} already exists for this order type")
    body.raise_if_any()
    return (name if name is not MISSING else ""), doc


def order_status_create(*, account, payload) -> int:
    """POST order-service/order-status ``{name, orderTypeCode, color, …}`` → the new status id."""
    name, doc = _read_order_status(account, payload, creating=True)
    with transaction.atomic():
        entries = ApiLookup.objects.select_for_update().filter(account=account, kind=ApiLookup.Kind.ORDER_STATUS)
        ref_id = max([entry.ref_id for entry in entries] or [0]) + 1
        doc.setdefault("sortOrder", ref_id)
        ApiLookup.objects.create(account=account, kind=ApiLookup.Kind.ORDER_STATUS, ref_id=ref_id, name=name,
                                 document=doc)
    return ref_id


def order_status_update(*, account, status_id: str, payload) -> dict:
    """PUT order-service/order-status/{id}: change the fields present → ``{}``."""
    ref_id = _record_id(status_id, "order status ID")
    name, doc = _read_order_status(account, payload, creating=False, status_id=ref_id)
    with transaction.atomic():
        entry = ApiLookup.objects.select_for_update().filter(account=account, kind=ApiLookup.Kind.ORDER_STATUS,
                                                             ref_id=ref_id).first()
        if entry is None:
            raise not_found(f"Cannot find order status {ref_id}")
        if name:
            entry.name = name
        entry.document = {**(entry.document or {}), **doc}
        entry.save()
    return {}


# --- Custom fields -------------------------------------------------------------------------------------

RECORD_MODELS = {"product": Product, "order": Order, "contact": Contact}


def _custom_field_record(account, record_kind: str, record_id: str, *, lock: bool = False):
    pk = _record_id(record_id, f"{record_kind} ID")
    queryset = RECORD_MODELS[record_kind].objects.filter(account=account, pk=pk)
    record = (queryset.select_for_update() if lock else queryset).first()
    if record is None:
        raise not_found("No Contact Found" if record_kind == "contact" else f"Cannot find {record_kind} {pk}")
    return record


def custom_fields_get(*, account, record_kind: str, record_id: str) -> dict:
    """GET {product|order|contact}/{id}/custom-field → the record's custom fields, code → value."""
    record = _custom_field_record(account, record_kind, record_id)
    return dict((record.document or {}).get("customFields") or {})


def _coerce(definition, value, path: str, body: Body):
    """A custom-field value in its field's type (a string "123" for an INTEGER field becomes 123, a SELECT
    takes an option id or ``{"id": …}`` and becomes ``{"id", "value"}``)."""
    doc = definition.document or {}
    kind = doc.get("customFieldType", "TEXT")
    if value is None:
        return None
    if kind == "SELECT":
        option = value.get("id") if isinstance(value, dict) else value
        options = doc.get("options") or {}
        if str(option) not in options:
            body.problem(path, f"must be one of the options {', '.join(sorted(options))} of {definition.code}")
            return MISSING
        return {"id": int(option), "value": options[str(option)]}
    if kind == "INTEGER":
        number = _number(value)
        if number is None or number != number.to_integral_value() or abs(number) >= 2**31:
            body.problem(path, "must be a whole number")
            return MISSING
        return int(number)
    if kind == "DECIMAL":
        number = _number(value)
        if number is None:
            body.problem(path, "must be a number")
            return MISSING
        return float(number)
    if kind == "BOOLEAN":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        body.problem(path, "must be true or false")
        return MISSING
    if kind == "DATE":
        moment = _moment(value) if isinstance(value, str) else None
        if moment is None and isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            moment = _moment(f"{value}T00:00:00")
        if moment is None:
            body.problem(path, "must be an ISO 8601 date")
            return MISSING
        return shapes.timestamp(moment)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or len(str(value)) > 2000:
        body.problem(path, "must be a string of at most 2000 characters")
        return MISSING
    return str(value)


def custom_fields_patch(*, account, record_kind: str, record_id: str, payload) -> dict:
    """PATCH {product|order|contact}/{id}/custom-field with a JSON Patch (``add``/``replace`` with a value,
    ``remove``) on ``/<field code>`` → the record's whole custom-field map (§4.2c, §4.3c)."""
    operations = _patch_operations(payload)
    record = _custom_field_record(account, record_kind, record_id)
    definitions = {entry.code: entry for entry in resources.custom_field_definitions(
        account, resources.scopes_of(record_kind, record))}
    body = Body({})
    changes = []
    for index, operation in enumerate(operations):
        code = operation["path"][1:] if operation["path"].startswith("/") else None
        if operation["op"] not in ("add", "replace", "remove") or code not in definitions:
            raise _bad_patch(index, operation)
        if operation["op"] == "remove":
            changes.append((code, MISSING))
            continue
        if "value" not in operation:
            body.problem(f"[{index}].value", "is required")
            continue
        value = _coerce(definitions[code], operation["value"], f"[{index}].value", body)
        if value is not MISSING:
            changes.append((code, value))
    body.raise_if_any()
    with transaction.atomic():
        record = _custom_field_record(account, record_kind, record_id, lock=True)
        document = dict(record.document or {})
        values = dict(document.get("customFields") or {})
        for code, value in changes:
            if value is MISSING:
                values.pop(code, None)
            else:
                values[code] = value
        document["customFields"] = values
        record.document = document
        record.save()
    return values


# --- Customer payments ---------------------------------------------------------------------------------

PAYMENT_TYPES = ("RECEIPT", "PAYMENT", "AUTH", "CAPTURE")


def customer_payment_create(*, account, payload) -> int:
    """POST accounting-service/customer-payment → the payment id; the order's payment status follows."""
    body = Body(payload)
    fields = {}
    for key, attr, length in (("transactionRef", "transaction_ref", 64), ("transactionCode", "transaction_code", 64),
                              ("journalRef", "journal_ref", 200)):
        value = body.value(payload, key, "", "string", max_length=length, nullable=True)
        if value not in (MISSING, None):
            fields[attr] = value
    method = body.value(payload, "paymentMethodCode", "", "string", required=True, max_length=20)
    if method is not MISSING:  # any code is taken: accounts name their payment methods freely
        if not method:
            body.problem("paymentMethodCode", "must not be blank")
        fields["payment_method_code"] = method
    payment_type = body.value(payload, "paymentType", "", "string", required=True, max_length=10)
    if payment_type is not MISSING:
        if payment_type not in PAYMENT_TYPES:
            body.problem("paymentType", f"must be one of {', '.join(PAYMENT_TYPES)}")
        fields["payment_type"] = payment_type
    order_id = body.value(payload, "orderId", "", "int", required=True)
    order = None
    if order_id is not MISSING:
        order = Order.objects.filter(account=account, pk=order_id).first()
        if order is None:
            body.problem("orderId", f"no order {order_id} in this account")
        fields["order_id"] = order_id
    currency = body.value(payload, "currencyIsoCode", "", "string", required=True, max_length=3)
    if currency is not MISSING:
        entry = ApiLookup.objects.filter(account=account, kind=ApiLookup.Kind.CURRENCY, code=currency.upper()).first()
        if entry is None:
            body.problem("currencyIsoCode", f"no currency {currency} in this account")
        else:
            fields.update(currency_code=entry.code, currency_id=entry.ref_id)
    for key, attr, required in (("exchangeRate", "exchange_rate", False), ("amountPaid", "amount_paid", True),
                                ("amountAuthorized", "amount_authorized", False)):
        value = body.value(payload, key, "", "number", required=required)
        if value is not MISSING:
            if value < 0 or (key == "exchangeRate" and value == 0):
                body.problem(key, "must be greater than zero" if key == "exchangeRate" else "must not be negative")
            fields[attr] = value
    date = body.value(payload, "paymentDate", "", "string", required=True, max_length=40)
    if date is not MISSING:
        moment = _moment(date) or (_moment(f"{date}T00:00:00") if re.fullmatch(r"\d{4}-\d\d-\d\d", date) else None)
        if moment is None:
            body.problem("paymentDate", "must be an ISO 8601 date or date-time")
        fields["payment_date"] = moment
    expires = body.value(payload, "expires", "", "datetime")
    if expires is not MISSING:
        fields["expires"] = expires
    body.raise_if_any()
    with transaction.atomic():
        payment = CustomerPayment.objects.create(account=account, **fields)
        _update_payment_status(order)
    return payment.pk


def _update_payment_status(order: Order | None) -> None:
    if order is None or order.order_type_code in ("PO", "PC"):
        return
    paid = sum((payment.amount_paid if payment.payment_type in ("RECEIPT", "CAPTURE") else -payment.amount_paid)
               for payment in CustomerPayment.objects.filter(account_id=order.account_id, order_id=order.pk))
    status = "PAID" if paid >= order.total and paid > 0 else "PARTIALLY_PAID" if paid > 0 else "UNPAID"
    if status != order.payment_status:
        order.payment_status = status
        order.save(update_fields=["payment_status", "updated_on"])


def customer_payment_delete(*, account, payment_id: str) -> dict:
    """DELETE accounting-service/customer-payment/{id} → ``{}``."""
    record_id = _record_id(payment_id, "payment ID")
    with transaction.atomic():
        payment = CustomerPayment.objects.filter(account=account, pk=record_id).first()
        if payment is None:
            raise not_found(f"Cannot find customer payment {record_id}")
        order = Order.objects.filter(account=account, pk=payment.order_id).first()
        payment.delete()
        _update_payment_status(order)
    return {}


# --- Webhooks ------------------------------------------------------------------------------------------

WEBHOOK_RESOURCES = {
    "product", "order", "sales-order", "sales-credit", "purchase-order", "contact", "goods-out-note",
    "goods-in-note", "drop-ship-note", "quarantine-release", "stock-correction", "sales-receipt", "customer-payment",
    "supplier-payment", "warehouse", "price-list", "product-price", "brand", "channel",
}
EVENT = re.compile(r"(?P<resource>[a-z][a-z-]*)(?:\.(?P<lifecycle>created|modified|destroyed|deleted)"
                   r"(?:\.(?P<specifier>[a-z][a-z-]*))?)?")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE")
INVALID_EVENT = "INTC-064"


def _webhook_owner(caller) -> dict:
    return {"installation": caller.installation} if caller.installation is not None else \
        {"installation__isnull": True, "app_ref": caller.app_ref}


def webhook_create(*, caller, payload) -> int:
    """POST integration-service/webhook → the new webhook's id (§9). An event that does not exist is 400
    INTC-064 "<event> either does not exist or cannot be subscribed too" (sic, as recorded)."""
    body = Body(payload)
    event = body.value(payload, "subscribeTo", "", "string", required=True, max_length=200)
    if event is not MISSING:
        match = EVENT.fullmatch(event)
        if match is None or match["resource"] not in WEBHOOK_RESOURCES:
            body.problem("subscribeTo", f"{event} either does not exist or cannot be subscribed too", INVALID_EVENT)
    method = body.value(payload, "httpMethod", "", "string", required=True, max_length=6)
    if method is not MISSING and method.upper() not in HTTP_METHODS:
        body.problem("httpMethod", "must be one of GET, POST, PUT or DELETE")
    uri = body.value(payload, "uriTemplate", "", "string", required=True, max_length=2000)
    if uri is not MISSING and not re.match(r"https?://[^/\s]+", uri):
        body.problem("uriTemplate", "must be an absolute http or https URI")
    takes_body = method is not MISSING and method.upper() in ("POST", "PUT")
    template = body.value(payload, "bodyTemplate", "", "string", required=takes_body, max_length=20_000,
                          nullable=True)
    content_type = body.value(payload, "contentType", "", "string", required=takes_body, max_length=200,
                              nullable=True)
    id_set = body.value(payload, "idSetAccepted", "", "bool")
    quality = body.value(payload, "qualityOfService", "", "int")
    if quality is not MISSING and quality not in (0, 1):
        body.problem("qualityOfService", "must be 0 (at most once) or 1 (at least once)")
    body.raise_if_any()
    hook = Webhook.objects.create(
        account=caller.account, installation=caller.installation, app_ref=caller.app_ref[:200],
        subscribe_to=event, http_method=method.upper(), uri_template=uri,
        body_template=template if template not in (MISSING, None) else "",
        content_type=content_type if content_type not in (MISSING, None) else "",
        id_set_accepted=id_set if id_set is not MISSING else False,
        quality_of_service=quality if quality is not MISSING else 0,
    )
    return hook.pk


def webhooks(*, caller, id_set: str | None) -> list[dict]:
    """GET integration-service/webhook[/{ids}]: the caller's webhooks (all without an ID set); 404 CMNC-404
    "No webhooks available in ID Set <ids>" when an ID set names none (as recorded)."""
    queryset = Webhook.objects.filter(account=caller.account, **_webhook_owner(caller)).order_by("id")
    if id_set:
        queryset = queryset.filter(idsets.q("id", idsets.parse_for_get(id_set, allow_all=True)))
    records = [shapes.webhook_record(hook) for hook in queryset]
    if id_set and not records:
        raise not_found(f"No webhooks available in ID Set {id_set[:200]}")
    return records


def webhook_delete(*, caller, id_set: str) -> dict:
    """DELETE integration-service/webhook/{ids} → ``{}``; 404 CMNC-404 "Cannot find webhook: <ids>" when none
    of them is the caller's (as recorded)."""
    ranges = idsets.parse_for_get(id_set)
    queryset = Webhook.objects.filter(account=caller.account, **_webhook_owner(caller)).filter(idsets.q("id", ranges))
    deleted, _ = queryset.delete()
    if not deleted:
        raise not_found(f"Cannot find webhook: {id_set[:200]}")
    return {}
