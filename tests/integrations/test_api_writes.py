"""POST and PUT of products and contacts: `{"response": <id>}` on success, every problem in the errors envelope."""

from decimal import Decimal

import pytest

from integrations.models import Contact, Product
from tests.integrations.api_support import api_url, fresh_pools, post_json, put_json, seed_rows, world  # noqa: F401

PRODUCTS = api_url("acme", "product-service/product")
CONTACTS = api_url("acme", "contact-service/contact")


def test_create_product(client, world):
    # when
    response = post_json(client, PRODUCTS, {"sku": "CHAIR-1", "name": "Oak Chair", "price": "19.99", "stock": 4,
                                            "status": "live"}, **world.issued.headers())

    # then
    assert response.status_code == 200, response.content
    product = Product.objects.get(pk=response.json()["response"])
    assert response.json() == {"response": product.pk}
    assert (product.account, product.sku, product.price, product.stock, product.status) == (
        world.account, "CHAIR-1", Decimal("19.99"), 4, "LIVE")


def test_create_contact_and_read_it_back(client, world):
    response = post_json(client, CONTACTS, {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                                            "isSupplier": True}, **world.issued.headers())

    contact_id = response.json()["response"]
    read = client.get(f"{CONTACTS}/{contact_id}", **world.issued.headers()).json()["response"][0]
    assert read["firstName"] == "Ada" and read["isSupplier"] is True and read["email"] == "ada@example.com"
    assert Contact.objects.get(pk=contact_id).account == world.account


def test_validation_errors_list_every_problem_and_create_nothing(client, world):
    # when
    response = post_json(client, PRODUCTS, {"name": "", "price": -1, "stock": "lots", "status": "GONE",
                                            "colour": "red", "productId": 5}, **world.issued.headers())

    # then
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"errors"}
    problems = {(e["code"], e["message"].split(":")[0]) for e in body["errors"]}
    assert problems == {("INVALID_FIELD", "name"), ("INVALID_FIELD", "price"), ("INVALID_FIELD", "stock"),
                        ("INVALID_FIELD", "status"), ("UNKNOWN_FIELD", "colour"), ("READ_ONLY_FIELD", "productId"),
                        ("MISSING_FIELD", "sku")}
    assert not Product.objects.exists()


@pytest.mark.parametrize("body", ['{"sku": ', "[1, 2]", '"text"', "", "\xff\xfe"])
def test_bad_json_is_400(client, world, body):
    response = post_json(client, PRODUCTS, body.encode("latin-1"), **world.issued.headers())

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_JSON"


@pytest.mark.parametrize("field, value", [
    ("price", "12.345"), ("price", "NaN"), ("price", "1e20"), ("price", True), ("price", [1]),
    ("stock", 1.5), ("stock", True), ("stock", 2**40), ("sku", 123), ("sku", "x" * 65), ("sku", "a\x00b"),
    ("name", None),
])
def test_bad_product_values(client, world, field, value):
    body = {"sku": "S-1", "name": "Thing", field: value}

    response = post_json(client, PRODUCTS, body, **world.issued.headers())

    assert response.status_code == 400, (field, value)
    assert response.json()["errors"][0]["code"] == "INVALID_FIELD"
    assert not Product.objects.exists()


def test_duplicate_sku_is_refused(client, world):
    seed_rows(world.account, products=1)
    seed_rows(world.other_account, products=1)

    same = post_json(client, PRODUCTS, {"sku": "acme-0001", "name": "Again"}, **world.issued.headers())
    other_accounts_sku = post_json(client, PRODUCTS, {"sku": "globex-0001", "name": "Fine"}, **world.issued.headers())

    assert same.status_code == 400 and same.json()["errors"][0]["code"] == "DUPLICATE_SKU"
    assert other_accounts_sku.status_code == 200


def test_put_changes_only_the_fields_sent(client, world):
    # given
    seed_rows(world.account, products=1)
    product = Product.objects.get(account=world.account)
    before = product.updated_on

    # when
    response = put_json(client, f"{PRODUCTS}/{product.pk}", {"stock": 99, "name": "Renamed"}, **world.issued.headers())

    # then
    assert response.status_code == 200 and response.json() == {"response": product.pk}
    product.refresh_from_db()
    assert (product.stock, product.name, product.sku) == (99, "Renamed", "acme-0001")
    assert product.updated_on > before


def test_put_with_errors_changes_nothing(client, world):
    seed_rows(world.account, contacts=1)
    contact = Contact.objects.get(account=world.account)

    response = put_json(client, f"{CONTACTS}/{contact.pk}", {"firstName": "Changed", "email": "not-an-email"},
                        **world.issued.headers())

    assert response.status_code == 400
    assert response.json()["errors"] == [{"code": "INVALID_FIELD", "message": "email: must be an email address."}]
    contact.refresh_from_db()
    assert contact.first_name == "Sam1"


def test_put_cannot_reach_another_accounts_row(client, world):
    seed_rows(world.other_account, products=1)
    theirs = Product.objects.get(account=world.other_account)

    response = put_json(client, f"{PRODUCTS}/{theirs.pk}", {"name": "Hijacked"}, **world.issued.headers())

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name != "Hijacked"


@pytest.mark.parametrize("target", ["1-3", "1,2", "abc", "0"])
def test_put_takes_one_id(client, world, target):
    response = put_json(client, f"{PRODUCTS}/{target}", {"name": "x"}, **world.issued.headers())

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_ID"


def test_an_oversized_body_is_a_json_error(client, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = post_json(client, PRODUCTS, {"sku": "S", "name": "x" * 2000}, **world.issued.headers())

    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "BODY_TOO_LARGE"
    assert "brightpearl-requests-remaining" in response
