"""Writes in Brightpearl's body shapes: POST answers ``{"response": <id>}``, PUT ``{}``, PATCH the object; every
problem of a body in one 400 with the reference's code and the field path, and nothing written."""

import pytest

from integrations.models import Contact, Order, OrderRow, PostalAddress, Product, ProductPrice
from tests.integrations.api_support import api_url, fresh_pools, post_json, put_json, seed_rows, world  # noqa: F401

PRODUCTS = api_url("acme", "product-service/product")
ORDERS = api_url("acme", "order-service/order")
CONTACTS = api_url("acme", "contact-service/contact")
MINIMAL_PRODUCT = {"brandId": 1, "financialDetails": {"taxable": True, "taxCode": {"id": 1, "code": "T"}},
                   "salesChannels": [{"salesChannelName": "Brightpearl", "productName": "Widget",
                                      "categories": [{"categoryCode": 2}]}]}


@pytest.fixture
def ready(world):
    seed_rows(world.account)  # lookup lists and price lists only
    return world


def test_create_product_with_the_minimal_real_body(client, ready):
    # when
    response = post_json(client, PRODUCTS, {**MINIMAL_PRODUCT, "identity": {"sku": "W-1"},
                                            "stock": {"stockTracked": False}}, **ready.issued.headers())
    # then
    assert response.status_code == 200, response.content
    product = Product.objects.get(pk=response.json()["response"])
    assert response.json() == {"response": product.pk}
    assert (product.account, product.name, product.sku, product.brand_id, product.stock_tracked, product.category_ids) \
        == (ready.account, "Widget", "W-1", 1, False, [2])


def test_a_null_brand_is_prdc_014(client, ready):
    response = post_json(client, PRODUCTS, {**MINIMAL_PRODUCT, "brandId": None}, **ready.issued.headers())

    assert response.status_code == 400
    assert response.json()["errors"] == [{"code": "PRDC-014", "message": "brandId: You must supply a brand ID."}]
    assert not Product.objects.exists()


def test_wrong_body_shapes_list_every_problem_with_its_path_and_write_nothing(client, ready):
    # when
    response = post_json(client, PRODUCTS, {
        "brandId": "x", "identity": {"sku": 5}, "stock": {"stockTracked": "yes"},
        "salesChannels": [{"productName": 7, "categories": [{"categoryCode": "abc"}]}],
        "financialDetails": {"taxCode": {"id": 999}}}, **ready.issued.headers())
    # then
    assert response.status_code == 400
    paths = {error["message"].split(":")[0] for error in response.json()["errors"]}
    assert paths == {"brandId", "identity.sku", "stock.stockTracked", "salesChannels[0].productName",
                     "salesChannels[0].categories[0].categoryCode", "financialDetails.taxCode.id"}
    assert {error["code"] for error in response.json()["errors"]} <= {"CMNC-010", "PRDC-014"}
    assert not Product.objects.exists()


@pytest.mark.parametrize("body", ['{"sku": ', "[1, 2]", '"text"', "", "\xff\xfe"])
def test_bad_json_is_400_cmnc_010(client, ready, body):
    response = post_json(client, PRODUCTS, body.encode("latin-1"), **ready.issued.headers())

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "CMNC-010"


def test_a_json_body_without_content_type_is_read_and_the_last_duplicate_key_wins(client, ready):
    body = '{"brandId": 99, "brandId": 1, "salesChannels": [{"productName": "Dup"}]}'
    response = client.post(PRODUCTS, data=body, content_type="", **ready.issued.headers())

    assert response.status_code == 200, response.content
    assert Product.objects.get(pk=response.json()["response"]).brand_id == 1


def test_duplicate_sku_is_refused(client, ready):
    post_json(client, PRODUCTS, {**MINIMAL_PRODUCT, "identity": {"sku": "W-1"}}, **ready.issued.headers())

    again = post_json(client, PRODUCTS, {**MINIMAL_PRODUCT, "identity": {"sku": "W-1"}}, **ready.issued.headers())

    assert again.status_code == 400 and again.json()["errors"][0]["message"].startswith("identity.sku:")
    assert Product.objects.count() == 1


def test_put_changes_only_what_is_sent_and_ignores_an_id(client, ready):
    created = post_json(client, PRODUCTS, {**MINIMAL_PRODUCT, "identity": {"sku": "W-1"}}, **ready.issued.headers())
    product_id = created.json()["response"]

    response = put_json(client, f"{PRODUCTS}/{product_id}", {"id": 12345, "salesChannels": [
        {"salesChannelName": "Brightpearl", "productName": "New name"}]}, **ready.issued.headers())

    assert response.status_code == 200 and response.json() == {}
    product = Product.objects.get(pk=product_id)
    assert (product.name, product.sku, product.category_ids) == ("New name", "W-1", [2])


def test_put_with_errors_changes_nothing(client, ready):
    product_id = post_json(client, PRODUCTS, MINIMAL_PRODUCT, **ready.issued.headers()).json()["response"]

    response = put_json(client, f"{PRODUCTS}/{product_id}", {"salesChannels": [{"productName": "x"}],
                                                            "stock": {"stockTracked": 3}}, **ready.issued.headers())

    assert response.status_code == 400
    assert Product.objects.get(pk=product_id).name == "Widget"


def test_put_cannot_reach_another_accounts_row(client, ready):
    seed_rows(ready.other_account, products=1)
    theirs = Product.objects.get(account=ready.other_account)

    response = put_json(client, f"{PRODUCTS}/{theirs.pk}", {"salesChannels": [{"productName": "Mine"}]},
                        **ready.issued.headers())

    assert response.status_code == 404 and response.json()["errors"][0]["code"] == "CMNC-404"
    theirs.refresh_from_db()
    assert theirs.name != "Mine"


@pytest.mark.parametrize("target", ["1-2", "1,2", "abc"])
def test_put_takes_one_id(client, ready, target):
    response = put_json(client, f"{PRODUCTS}/{target}", {"salesChannels": [{"productName": "x"}]},
                        **ready.issued.headers())

    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "CMNC-018"


@pytest.mark.parametrize("body, code", [
    ({"reference": "#1", "parties": {"customer": {"contactId": 1}}}, "ORDC-005"),
    ({"orderTypeCode": "XX"}, "ORDC-006"),
    ({"orderTypeCode": "PO"}, "ORDC-022"),
])
def test_order_post_errors_as_recorded(client, ready, body, code):
    response = post_json(client, ORDERS, body, **ready.issued.headers())

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code
    assert not Order.objects.exists()


def test_order_post_row_and_status(client, ready):
    # given
    seed_rows(ready.account, contacts=1, products=1)
    contact, product = Contact.objects.get(), Product.objects.get()
    order_id = post_json(client, ORDERS, {"reference": "#0001", "orderTypeCode": "SO", "parties": {
        "customer": {"contactId": contact.pk}, "delivery": {"addressFullName": "Sam Smith", "countryIsoCode": "GBR"}}},
        **ready.issued.headers()).json()["response"]
    # when
    row = post_json(client, f"{ORDERS}/{order_id}/row", {"productId": product.pk, "quantity": {"magnitude": 5},
                                                        "rowValue": {"taxCode": "T", "rowNet": {"value": 100},
                                                                     "rowTax": {"value": 20}}},
                    **ready.issued.headers())
    status = put_json(client, f"{ORDERS}/{order_id}/status", {"orderStatusId": 4}, **ready.issued.headers())
    # then
    assert row.status_code == 200 and OrderRow.objects.get(pk=row.json()["response"]).order_id == order_id
    assert status.status_code == 200 and status.json() == {}
    record = client.get(f"{ORDERS}/{order_id}", **ready.issued.headers()).json()["response"][0]
    assert record["totalValue"]["total"] == "120.00" and record["orderStatus"]["orderStatusId"] == 4
    assert record["parties"]["delivery"]["countryIsoCode"] == "GB"
    assert list(record["orderRows"].values())[0]["productSku"] == product.sku


def test_create_contact_with_an_address_and_patch_it(client, ready):
    address_id = post_json(client, api_url("acme", "contact-service/postal-address"),
                           {"addressLine1": "1 High Street", "postalCode": "BS1 4DJ", "countryIsoCode": "GBR"},
                           **ready.issued.headers()).json()["response"]
    response = post_json(client, CONTACTS, {
        "firstName": "Ada", "lastName": "Lovelace", "postAddressIds": {"DEF": address_id, "BIL": address_id},
        "communication": {"emails": {"PRI": {"email": "ada@example.com"}}},
        "relationshipToAccount": {"isSupplier": True}}, **ready.issued.headers())
    contact_id = response.json()["response"]

    patch = '[{"op": "replace", "path": "/firstName", "value": "Augusta"}]'
    patched = client.patch(f"{CONTACTS}/{contact_id}", data=patch,
                           content_type="application/json", **ready.issued.headers())

    assert patched.status_code == 200
    record = patched.json()["response"]
    assert record["firstName"] == "Augusta" and record["postAddressIds"] == {"BIL": address_id, "DEF": address_id}
    assert record["relationshipToAccount"]["isSupplier"] is True
    assert PostalAddress.objects.get(pk=address_id).contact_id == contact_id


def test_a_bad_json_patch_is_cmnc_044(client, ready):
    seed_rows(ready.account, contacts=1)
    contact = Contact.objects.get()

    response = client.patch(f"{CONTACTS}/{contact.pk}", data='[{"op": "add", "path": "/reference", "value": "x"}]',
                            content_type="application/json", **ready.issued.headers())

    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "code": "CMNC-044", "message": "[0]: Invalid patch operation (add) for given path (/reference)"}


def test_product_price_put_refuses_unknown_price_lists(client, ready):
    seed_rows(ready.account, products=1)
    product = Product.objects.get()

    response = put_json(client, api_url("acme", f"product-service/product-price/{product.pk}/price-list"),
                        {"priceLists": [{"priceListId": 999999, "quantityPrice": {"1": "x"}}]},
                        **ready.issued.headers())

    assert response.status_code == 400
    paths = {error["message"].split(":")[0] for error in response.json()["errors"]}
    assert paths == {"priceLists[0].priceListId", "priceLists[0].quantityPrice.1"}
    assert not ProductPrice.objects.exists()


def test_an_oversized_body_is_a_json_error(client, ready, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post_json(client, PRODUCTS, {**MINIMAL_PRODUCT, "salesPopupMessage": "x" * 2000},
                         **ready.issued.headers())

    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "BODY_TOO_LARGE"
    assert "brightpearl-requests-remaining" in response
