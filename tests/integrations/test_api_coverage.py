"""Contract tests of the endpoints that complete the reference's inventory (§1.2, §4.5, §9): webhooks, order
and row writes, product DELETE, order statuses, custom fields, customer payments, lookups and searches, search
meta-data, multi-message; and the calls client libraries make (``sort=a|DESC``, ``*`` in filters, HEAD). Every
write is also refused with a 400 (the reference's code and the field path) that writes nothing."""

import json

import pytest

from integrations.management.commands.seed_api_data import seed_account
from integrations.models import ApiLookup, Contact, CustomerPayment, Order, OrderRow, Product, Webhook
from tests.integrations import brightpearl_schemas as bp
from tests.integrations.api_support import (  # noqa: F401
    api_url,
    fresh_pools,
    issue_token,
    make_staff_token,
    post_json,
    put_json,
    world,
)


@pytest.fixture
def seeded(world):
    seed_account(world.account, products=30, contacts=40, orders=40)
    return world


def get(client, world, path, params=None):
    return client.get(api_url("acme", path), params or {}, **world.issued.headers())


def send(client, world, method, path, body=None, **headers):
    """A write as clients send it: JSON without a Content-Type header."""
    data = json.dumps(body) if body is not None and not isinstance(body, str) else (body or "")
    return client.generic(method, api_url("acme", path), data=data, content_type="",
                          **world.issued.headers(**headers))


def an_order(world, **filters) -> Order:
    return Order.objects.filter(account=world.account, order_type_code="SO", **filters).order_by("id").first()


def assert_refused(response, code: str, path_prefix: str):
    assert response.status_code == 400, response.content
    body = response.json()
    bp.check(bp.ERRORS, body)
    assert any(error["code"] == code and error["message"].startswith(path_prefix) for error in body["errors"]), body


# --- Webhooks (§9) --------------------------------------------------------------------------------------

WEBHOOK_BODY = {"subscribeTo": "goods-out-note.modified.shipped", "httpMethod": "POST",
                "uriTemplate": "https://hooks.example.com/bp/${account-code}", "contentType": "application/json",
                "idSetAccepted": True, "qualityOfService": 1,
                "bodyTemplate": '{"accountCode":"${account-code}","id":"${resource-id}"}'}


def test_webhook_post_get_delete_as_recorded(client, seeded):
    created = send(client, seeded, "POST", "integration-service/webhook", WEBHOOK_BODY)
    assert created.status_code == 200 and created["Message-Type"] == "post-webhook"
    bp.check(bp.CREATED, created.json())
    hook_id = created.json()["response"]

    listed = get(client, seeded, f"integration-service/webhook/{hook_id}")
    assert listed["Message-Type"] == "webhook-get"
    bp.check(bp.envelope(bp.WEBHOOK), listed.json())
    assert listed.json()["response"][0] == {"id": hook_id, **WEBHOOK_BODY}
    every = get(client, seeded, "integration-service/webhook")
    assert [hook["id"] for hook in every.json()["response"]] == [hook_id]

    deleted = send(client, seeded, "DELETE", "integration-service/webhook/" + str(hook_id), "{}")
    assert deleted.status_code == 200 and deleted.json() == {} and deleted["Message-Type"] == "webhook-delete"
    assert not Webhook.objects.filter(pk=hook_id).exists()


def test_webhook_not_found_bodies_as_recorded(client, seeded):
    missing = get(client, seeded, "integration-service/webhook/99999")
    gone = send(client, seeded, "DELETE", "integration-service/webhook/99999")
    assert (missing.status_code, missing["Message-Type"]) == (404, "get-webhook")
    assert missing.json() == {"errors": [{"code": "CMNC-404", "message": "No webhooks available in ID Set 99999"}]}
    assert (gone.status_code, gone["Message-Type"]) == (404, "delete-webhook")
    assert gone.json() == {"errors": [{"code": "CMNC-404", "message": "Cannot find webhook: 99999"}]}


def test_webhooks_are_kept_per_installation_and_private_app(client, seeded):
    from tests.factories import AppFactory, DeveloperFactory

    mine = send(client, seeded, "POST", "integration-service/webhook", WEBHOOK_BODY).json()["response"]
    other_app = AppFactory(user=DeveloperFactory(dev_ref="dev-other").user, client_id="other-app")
    other = issue_token(other_app, seeded.account)
    staff = make_staff_token(seeded.account)
    for headers in (other.headers(), staff.headers()):
        assert client.get(api_url("acme", f"integration-service/webhook/{mine}"), **headers).status_code == 404
        assert client.delete(api_url("acme", f"integration-service/webhook/{mine}"), **headers).status_code == 404
        assert client.get(api_url("acme", "integration-service/webhook"), **headers).json() == {"response": []}
    staff_hook = client.post(api_url("acme", "integration-service/webhook"), json.dumps(WEBHOOK_BODY),
                             content_type="application/json", **staff.headers())
    assert staff_hook.status_code == 200
    assert Webhook.objects.get(pk=staff_hook.json()["response"]).app_ref == staff.app_ref
    assert Webhook.objects.filter(pk=mine).exists()


@pytest.mark.parametrize("change, code, path", [
    ({"subscribeTo": "spaceship.launched"}, "INTC-064", "subscribeTo: spaceship.launched either does not exist"),
    ({"subscribeTo": None}, "CMNC-010", "subscribeTo"),
    ({"httpMethod": "PATCH"}, "CMNC-010", "httpMethod"),
    ({"uriTemplate": "/relative"}, "CMNC-010", "uriTemplate"),
    ({"qualityOfService": 7}, "CMNC-010", "qualityOfService"),
    ({"idSetAccepted": "yes"}, "CMNC-010", "idSetAccepted"),
    ({"bodyTemplate": 12}, "CMNC-010", "bodyTemplate"),
])
def test_bad_webhooks_are_refused_and_not_stored(client, seeded, change, code, path):
    response = send(client, seeded, "POST", "integration-service/webhook", {**WEBHOOK_BODY, **change})
    assert_refused(response, code, path)
    assert not Webhook.objects.exists()


# --- Orders: PATCH, rows, statuses ----------------------------------------------------------------------

def test_order_patch_answers_the_whole_updated_order(client, seeded):
    order = an_order(seeded)
    response = send(client, seeded, "PATCH", f"order-service/order/{order.pk}", [
        {"op": "replace", "path": "/reference", "value": "#PATCHED"},
        {"op": "replace", "path": "/delivery/deliveryDate", "value": "2026-03-01T00:00:00.000+00:00"}])
    assert response.status_code == 200 and response["Message-Type"] == "patch-order"
    bp.check(bp.obj({"response": bp.ORDER}), response.json())
    assert response.json()["response"]["reference"] == "#PATCHED"
    assert response.json()["response"]["delivery"]["deliveryDate"].startswith("2026-03-01T00:00:00.000")


@pytest.mark.parametrize("operations, code", [
    ([{"op": "add", "path": "/reference", "value": "#X"}], "CMNC-044"),
    ([{"op": "replace", "path": "/orderTypeCode", "value": "PO"}], "CMNC-044"),
    ([{"op": "replace", "path": "/reference", "value": 12}], "CMNC-010"),
    ([{"op": "replace", "path": "/delivery/deliveryDate", "value": "soon"}], "CMNC-010"),
    ({"op": "replace"}, "CMNC-010"),
    ("not json", "CMNC-010"),
])
def test_bad_order_patches_change_nothing(client, seeded, operations, code):
    order = an_order(seeded)
    response = send(client, seeded, "PATCH", f"order-service/order/{order.pk}", operations)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == code
    order.refresh_from_db()
    assert order.reference.startswith("SO-")


def test_order_row_patch_and_delete_keep_the_totals(client, seeded):
    order = an_order(seeded)
    row = order.rows.order_by("id").first()
    patched = send(client, seeded, "PATCH", f"order-service/order/{order.pk}/row/{row.pk}", [
        {"op": "replace", "path": "/quantity/magnitude", "value": 2},
        {"op": "replace", "path": "/rowValue/rowNet/value", "value": "50.00"},
        {"op": "replace", "path": "/rowValue/rowTax/value", "value": 10}])
    assert patched.status_code == 200 and patched["Message-Type"] == "patch-order-row"
    bp.check(bp.obj({"response": bp.ORDER_ROW}), patched.json())
    assert patched.json()["response"]["rowValue"]["rowNet"]["value"] == "50.00"
    record = get(client, seeded, f"order-service/order/{order.pk}").json()["response"][0]
    assert record["totalValue"]["net"] == "%.2f" % sum(float(r["rowValue"]["rowNet"]["value"])
                                                       for r in record["orderRows"].values())

    deleted = send(client, seeded, "DELETE", f"order-service/order/{order.pk}/row/{row.pk}")
    assert deleted.status_code == 200 and deleted.json() == {} and deleted["Message-Type"] == "delete-order-row"
    assert not OrderRow.objects.filter(pk=row.pk).exists()
    again = send(client, seeded, "DELETE", f"order-service/order/{order.pk}/row/{row.pk}")
    assert again.status_code == 404 and again.json()["errors"][0]["code"] == "CMNC-404"


def test_bad_order_row_patch_changes_nothing(client, seeded):
    order = an_order(seeded)
    row = order.rows.order_by("id").first()
    response = send(client, seeded, "PATCH", f"order-service/order/{order.pk}/row/{row.pk}",
                    [{"op": "replace", "path": "/quantity/magnitude", "value": -3}])
    assert_refused(response, "CMNC-010", "[0].value")
    assert OrderRow.objects.get(pk=row.pk).quantity == row.quantity


def test_order_status_post_and_put(client, seeded):
    created = send(client, seeded, "POST", "order-service/order-status",
                   {"name": "Awaiting stock", "orderTypeCode": "SO", "color": "#E7E6E4", "remindAfterDays": 3})
    assert created.status_code == 200 and created["Message-Type"] == "post-order-status"
    status_id = created.json()["response"]
    changed = send(client, seeded, "PUT", f"order-service/order-status/{status_id}", {"color": "#112233"})
    assert changed.status_code == 200 and changed.json() == {} and changed["Message-Type"] == "put-order-status"
    record = get(client, seeded, f"order-service/order-status/{status_id}").json()
    bp.check(bp.envelope(bp.ORDER_STATUS), record)
    assert record["response"][0]["name"] == "Awaiting stock" and record["response"][0]["color"] == "#112233"
    assert send(client, seeded, "PUT", f"order-service/order/{an_order(seeded).pk}/status",
                {"orderStatusId": status_id}).status_code == 200


@pytest.mark.parametrize("body, code, path", [
    ({"orderTypeCode": "SO", "color": "#E7E6E4"}, "CMNC-010", "name"),
    ({"name": "X", "orderTypeCode": "ZZ", "color": "#E7E6E4"}, "ORDC-006", "orderTypeCode"),
    ({"name": "X", "orderTypeCode": "SO", "color": "red"}, "CMNC-010", "color"),
    ({"name": "New web order", "orderTypeCode": "SO", "color": "#E7E6E4"}, "CMNC-010", "name"),
])
def test_bad_order_statuses_are_refused(client, seeded, body, code, path):
    before = ApiLookup.objects.filter(kind="order_status").count()
    assert_refused(send(client, seeded, "POST", "order-service/order-status", body), code, path)
    assert ApiLookup.objects.filter(kind="order_status").count() == before


def test_product_delete(client, seeded):
    product_id = Product.objects.filter(account=seeded.account).order_by("id").first().pk
    response = send(client, seeded, "DELETE", f"product-service/product/{product_id}", "{}")
    assert response.status_code == 200 and response.json() == {}
    assert get(client, seeded, f"product-service/product/{product_id}").status_code == 404
    assert send(client, seeded, "DELETE", f"product-service/product/{product_id}").status_code == 404
    assert send(client, seeded, "DELETE", "product-service/product/abc").status_code == 400


# --- Custom fields --------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, codes", [
    ("product-service/product/custom-field-meta-data", {"PCF_CARE", "PCF_ASSEMBLY", "PCF_MATERIAL"}),
    ("order-service/sale/custom-field-meta-data", {"PCF_GIFTMSG", "PCF_SLOT", "PCF_MKTREF"}),
    ("order-service/purchase/custom-field-meta-data", {"PCF_CONFDATE"}),
    ("contact-service/customer/custom-field-meta-data", {"PCF_CODAE", "PCF_ACCMGR"}),
    ("contact-service/supplier/custom-field-meta-data", {"PCF_LEADTIME"}),
])
def test_custom_field_definitions(client, seeded, path, codes):
    response = get(client, seeded, path)
    assert response["Message-Type"] == "get-custom-fields-metadata"
    bp.check(bp.envelope(bp.CUSTOM_FIELD_META), response.json())
    assert {field["code"] for field in response.json()["response"]} == codes


def test_contact_custom_fields_get_and_patch_coerce_to_the_field_type(client, seeded):
    contact = Contact.objects.filter(account=seeded.account, is_supplier=False).order_by("id").first()
    before = get(client, seeded, f"contact-service/contact/{contact.pk}/custom-field")
    bp.check(bp.CUSTOM_FIELDS, before.json())
    assert before["Message-Type"] == "get-custom-fields"
    patched = send(client, seeded, "PATCH", f"contact-service/contact/{contact.pk}/custom-field",
                   [{"op": "add", "path": "/PCF_CODAE", "value": "1234567890"}])
    assert patched.status_code == 200 and patched["Message-Type"] == "patch-custom-fields"
    assert patched.json()["response"]["PCF_CODAE"] == 1234567890


def test_order_custom_field_select_is_expanded(client, seeded):
    order = an_order(seeded)
    patched = send(client, seeded, "PATCH", f"order-service/order/{order.pk}/custom-field",
                   [{"op": "add", "path": "/PCF_SLOT", "value": {"id": 137}},
                    {"op": "replace", "path": "/PCF_MKTREF", "value": "MKT-1"}])
    assert patched.json()["response"]["PCF_SLOT"] == {"id": 137, "value": "Morning"}
    record = get(client, seeded, f"order-service/order/{order.pk}", {"includeOptional": "customFields"})
    assert record.json()["response"][0]["customFields"]["PCF_MKTREF"] == "MKT-1"


@pytest.mark.parametrize("operations, code", [
    ([{"op": "add", "path": "/PCF_NOPE", "value": 1}], "CMNC-044"),
    ([{"op": "move", "path": "/PCF_SLOT", "value": 1}], "CMNC-044"),
    ([{"op": "add", "path": "/PCF_SLOT", "value": {"id": 999}}], "CMNC-010"),
    ([{"op": "add", "path": "/PCF_SLOT"}], "CMNC-010"),
    ([], "CMNC-010"),
])
def test_bad_custom_field_patches_change_nothing(client, seeded, operations, code):
    order = an_order(seeded)
    before = dict(order.document.get("customFields") or {})
    response = send(client, seeded, "PATCH", f"order-service/order/{order.pk}/custom-field", operations)
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == code
    order.refresh_from_db()
    assert (order.document.get("customFields") or {}) == before


def test_null_custom_fields_lists_every_defined_field(client, seeded):
    product_id = Product.objects.filter(account=seeded.account).order_by("id").first().pk
    plain = get(client, seeded, f"product-service/product/{product_id}")
    with_values = get(client, seeded, f"product-service/product/{product_id}",
                      {"includeOptional": "customFields,nullCustomFields"})
    assert "customFields" not in plain.json()["response"][0]
    fields = with_values.json()["response"][0]["customFields"]
    assert set(fields) == {"PCF_CARE", "PCF_ASSEMBLY", "PCF_MATERIAL"}
    contact = Contact.objects.filter(account=seeded.account, is_supplier=True).first()
    record = get(client, seeded, f"contact-service/contact/{contact.pk}",
                 {"includeOptional": "customFields,nullCustomFields"}).json()["response"][0]
    assert set(record["customFields"]) == {"PCF_LEADTIME"}


# --- Customer payments ----------------------------------------------------------------------------------

def test_customer_payment_post_search_delete(client, seeded):
    order = an_order(seeded, payment_status="UNPAID")
    created = send(client, seeded, "POST", "accounting-service/customer-payment", {
        "transactionRef": "TX-1", "transactionCode": "ABC", "paymentMethodCode": "1000", "paymentType": "RECEIPT",
        "orderId": order.pk, "currencyIsoCode": "GBP", "exchangeRate": 1, "amountPaid": str(order.total),
        "paymentDate": "2026-01-05", "journalRef": "Payment"})
    assert created.status_code == 200 and created["Message-Type"] == "post-customer-payment"
    payment_id = created.json()["response"]
    order.refresh_from_db()
    assert order.payment_status == "PAID"

    found = get(client, seeded, "accounting-service/customer-payment-search", {"orderId": str(order.pk)})
    bp.check(bp.SEARCH, found.json())
    columns = [column["name"] for column in found.json()["response"]["metaData"]["columns"]]
    assert columns == ["paymentId", "transactionRef", "transactionCode", "paymentMethodCode", "paymentType",
                       "orderId", "currencyId", "currencyCode", "amountAuthorized", "amountPaid", "expires",
                       "paymentDate", "createdOn", "journalId"]
    row = dict(zip(columns, found.json()["response"]["results"][0]))
    assert row["paymentId"] == payment_id and row["amountPaid"] == str(order.total)

    deleted = send(client, seeded, "DELETE", f"accounting-service/customer-payment/{payment_id}")
    assert deleted.status_code == 200 and deleted.json() == {} and deleted["Message-Type"] == "delete-customer-payment"
    order.refresh_from_db()
    assert order.payment_status == "UNPAID"


@pytest.mark.parametrize(
    "change, path",
    [
        ({"orderId": 99999999}, "orderId"),
        ({"amountPaid": "lots"}, "amountPaid"),
        ({"paymentType": "GIFT"}, "paymentType"),
        ({"currencyIsoCode": "XYZ"}, "currencyIsoCode"),
        ({"paymentDate": "yesterday"}, "paymentDate"),
        ({"paymentMethodCode": None}, "paymentMethodCode"),
    ],
)
def test_bad_customer_payments_are_refused(client, seeded, change, path):
    order = an_order(seeded)
    before = CustomerPayment.objects.count()
    body = {
        "paymentMethodCode": "CARD",
        "paymentType": "RECEIPT",
        "orderId": order.pk,
        "currencyIsoCode": "GBP",
        "amountPaid": 10,
        "paymentDate": "2026-01-05",
        **change,
    }
    assert_refused(send(client, seeded, "POST", "accounting-service/customer-payment", body), "CMNC-010", path)
    assert CustomerPayment.objects.count() == before


# --- Lookups and searches -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, schema",
    [
        ("contact-service/contact-group", bp.NAMED),
        ("contact-service/lead-source", bp.NAMED),
        ("accounting-service/nominal-code", bp.NOMINAL_CODE),
        ("accounting-service/payment-method", bp.PAYMENT_METHOD),
        ("accounting-service/accounting-period", bp.ACCOUNTING_PERIOD),
        ("accounting-service/currency/", bp.CURRENCY),
        ("accounting-service/exchange-rate", bp.EXCHANGE_RATE),
        ("product-service/option", bp.NAMED),
        ("product-service/option-value", bp.OPTION_VALUE),
        ("product-service/option/1/value", bp.OPTION_VALUE),
        ("product-service/season", bp.NAMED),
        ("product-service/collection", bp.NAMED),
        ("product-service/channel-brand", bp.NAMED),
        ("warehouse-service/warehouse/1/location", bp.LOCATION),
    ],
)
def test_new_lookup_lists(client, seeded, path, schema):
    response = get(client, seeded, path, {"firstResult": "1", "lastResult": "500"})
    assert response.status_code == 200
    bp.check(bp.envelope(schema), response.json())
    assert response.json()["response"]


def test_tags_are_keyed_by_id(client, seeded):
    response = get(client, seeded, "contact-service/tag")
    bp.check(bp.obj({"response": bp.TAG}), response.json())
    assert response["Message-Type"] == "get-tag"


def test_product_suppliers_and_breakdown_by_location(client, seeded):
    product = Product.objects.filter(account=seeded.account, primary_supplier_id__isnull=False).first()
    suppliers = get(client, seeded, f"product-service/product/{product.pk}/supplier").json()["response"]
    assert suppliers == {str(product.pk): [product.primary_supplier_id]}
    stock = get(
        client,
        seeded,
        f"warehouse-service/product-availability/{product.pk}",
        {"includeOptional": "breakDownByLocation"},
    ).json()["response"][str(product.pk)]
    for figures in stock["warehouses"].values():
        assert list(figures["byLocation"].values())[0]["onHand"] == figures["onHand"]


@pytest.mark.parametrize(
    "path, first_column",
    [
        ("contact-service/company-search", "companyId"),
        ("accounting-service/currency-search", "id"),
        ("accounting-service/customer-payment-search", "paymentId"),
        ("order-service/order-note-search", "orderNoteId"),
        ("warehouse-service/goods-note/goods-in-search", "goodsInNoteId"),
        ("warehouse-service/goods-movement-search", "goodsMovementId"),
        ("warehouse-service/location-search", "id"),
        ("warehouse-service/zone-search", "id"),
        ("product-service/option-search", "id"),
        ("product-service/option-value-search", "optionValueId"),
        ("product-service/season-search", "id"),
        ("product-service/collection-search", "id"),
        ("contact-service/contact-group-search", "id"),
        ("accounting-service/journal-search", "journalId"),
        ("accounting-service/supplier-payment-search", "paymentId"),
        ("order-service/purchase-order-lc-search", "purchaseOrderId"),
    ],
)
def test_new_searches_have_the_real_envelope(client, seeded, path, first_column):
    response = get(client, seeded, path)
    assert response.status_code == 200 and response["Message-Type"] == "bulk-data-search"
    bp.check(bp.SEARCH, response.json())
    assert response.json()["response"]["metaData"]["columns"][0]["name"] == first_column


def test_currency_search_columns(client, seeded):
    meta = get(client, seeded, "accounting-service/currency-search").json()["response"]["metaData"]
    assert [column["name"] for column in meta["columns"]] == [
        "id",
        "title",
        "code",
        "symbol",
        "exchangeRate",
        "isDefault",
        "exchangeRateVarianceNominalCode",
    ]


@pytest.mark.parametrize(
    "path",
    [
        "product-service/product-search/meta-data",
        "order-service/order-search/meta-data",
        "contact-service/contact-search/meta-data",
    ],
)
def test_search_meta_data_describes_the_columns(client, seeded, path):
    response = get(client, seeded, path)
    bp.check(bp.SEARCH_META_DATA, response.json())
    search = get(client, seeded, path.removesuffix("/meta-data")).json()["response"]["metaData"]
    assert response.json()["response"]["columns"] == search["columns"]


# --- What client libraries send -------------------------------------------------------------------------


def test_sort_with_a_pipe_and_wildcards(client, seeded):
    by_pipe = get(client, seeded, "product-service/product-search", {"sort": "productId|DESC"}).json()
    by_dot = get(client, seeded, "product-service/product-search", {"sort": "productId.DESC"}).json()
    assert by_pipe["response"]["results"] == by_dot["response"]["results"]
    assert by_pipe["response"]["metaData"]["sorting"][0]["direction"] == "DESC"
    prefix = get(client, seeded, "product-service/product-search", {"SKU": "ACM-0000*"}).json()["response"]
    assert prefix["metaData"]["resultsAvailable"] == 9
    everything = get(client, seeded, "product-service/product-search", {"productId": "*"}).json()["response"]
    assert everything["metaData"]["resultsAvailable"] == 30


def test_head_is_get_without_a_body(client, seeded):
    response = client.head(api_url("acme", "product-service/product-search"), **seeded.issued.headers())
    assert response.status_code == 200 and response.content == b""
    assert response["Message-Type"] == "bulk-data-search"


# --- Multi-message --------------------------------------------------------------------------------------


def test_multi_message_runs_each_write_and_reports_each(client, seeded):
    product_id = Product.objects.filter(account=seeded.account).order_by("id").first().pk
    body = {
        "processingMode": "SEQUENTIAL",
        "onFail": "STOP",
        "messages": [
            {
                "label": "rename",
                "uri": f"/product-service/product/{product_id}",
                "httpMethod": "PUT",
                "body": {"salesChannels": [{"salesChannelName": "Brightpearl", "productName": "Renamed"}]},
            },
            {
                "label": "broken",
                "uri": "/order-service/order/99999999/status",
                "httpMethod": "PUT",
                "body": {"orderStatusId": 2},
            },
            {"label": "skipped", "uri": f"/product-service/product/{product_id}", "httpMethod": "DELETE"},
        ],
    }
    response = send(client, seeded, "POST", "multi-message", body)
    assert response.status_code == 207
    bp.check(bp.MULTI_MESSAGE, response.json())
    result = response.json()["response"]
    assert [(m["label"], m["statusCode"]) for m in result["processedMessages"]] == [("rename", 200), ("broken", 404)]
    assert result["unprocessedMessages"] == ["skipped"]
    assert Product.objects.get(pk=product_id).name == "Renamed"


@pytest.mark.parametrize(
    "change, path",
    [
        ({"processingMode": "PARALLEL", "onFail": "STOP"}, "onFail"),
        ({"messages": []}, "messages"),
        ({"processingMode": "SOMETIMES"}, "processingMode"),
    ],
)
def test_bad_multi_messages_run_nothing(client, seeded, change, path):
    product_id = Product.objects.filter(account=seeded.account).order_by("id").first().pk
    body = {
        "processingMode": "SEQUENTIAL",
        "onFail": "CONTINUE",
        "messages": [
            {"label": "a", "uri": f"/product-service/product/{product_id}", "httpMethod": "DELETE"},
            {"label": "b", "uri": f"/product-service/product/{product_id}", "httpMethod": "DELETE"},
        ],
        **change,
    }
    assert_refused(send(client, seeded, "POST", "multi-message", body), "CMNC-010", path)
    assert Product.objects.filter(pk=product_id).exists()
