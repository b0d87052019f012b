"""Contract tests: the portal's answers against JSON Schemas of Brightpearl's real shapes (brightpearl_schemas),
per endpoint — GET by ID set, searches, POST, PUT, OPTIONS — plus headers, error bodies, the legacy
account-token header and doubled slashes."""

import re

import pytest

from integrations.management.commands.seed_api_data import seed_account
from integrations.models import GoodsOutNote, Order, Product
from tests.integrations import brightpearl_schemas as bp
from tests.integrations.api_support import api_url, fresh_pools, make_staff_token, post_json, put_json, world  # noqa: F401


@pytest.fixture
def seeded(world):
    seed_account(world.account, products=30, contacts=20, orders=40)
    return world


def get(client, world, path, params=None, **headers):
    return client.get(api_url("acme", path), params or {}, **world.issued.headers(**headers))


def first_ids(model, account, count):
    return list(model.objects.filter(account=account).order_by("id").values_list("id", flat=True)[:count])


# --- GET by ID set --------------------------------------------------------------------------------------

def test_products_by_id_set_have_the_real_record_shape(client, seeded):
    # given
    ids = first_ids(Product, seeded.account, 30)
    # when
    response = get(client, seeded, f"product-service/product/{ids[0]}-{ids[-1]}", {"includeOptional": "customFields"})
    # then
    assert response.status_code == 200
    body = response.json()
    bp.check(bp.envelope(bp.PRODUCT), body)
    assert [record["id"] for record in body["response"]] == ids
    first = body["response"][0]
    assert list(first)[:4] == ["id", "brandId", "productTypeId", "identity"]
    assert first["salesChannels"][0]["salesChannelName"] == "Brightpearl"
    assert any(len(record["salesChannels"]) > 1 for record in body["response"])  # several sales channels seeded


def test_orders_by_id_set_have_the_real_record_shape(client, seeded):
    ids = first_ids(Order, seeded.account, 40)
    response = get(client, seeded, "order-service/order/" + ",".join(map(str, ids)))
    body = response.json()
    assert response.status_code == 200
    bp.check(bp.envelope(bp.ORDER), body)
    order = body["response"][0]
    assert order["parties"]["customer"]["contactId"] > 0 and order["orderRows"]
    assert set(order["orderRows"]) == {key for key in order["orderRows"] if key.isdigit()}
    assert order["orderStatus"]["name"]


def test_contacts_by_id_set_come_with_pagination_and_sorting(client, seeded):
    response = get(client, seeded, "contact-service/contact/1-100000".replace("1-100000", _range(seeded, "contact")))
    assert response.status_code == 200
    body = response.json()
    bp.check(bp.CONTACT_ENVELOPE, body)
    contact = body["response"][0]
    assert set(contact["postAddressIds"]) == {"DEF", "BIL", "DEL"}
    assert "createdByid" in contact and contact["communication"]["emails"]["PRI"]["email"]


def _range(world, resource):
    from integrations.models import Contact

    model = {"contact": Contact, "product": Product, "order": Order}[resource]
    ids = first_ids(model, world.account, 200)
    return f"{ids[0]}-{ids[-1]}"


def test_sales_orders_have_the_flatter_view(client, seeded):
    response = get(client, seeded, f"order-service/sales-order/{_range(seeded, 'order')}")
    assert response.status_code == 200
    bp.check(bp.envelope(bp.SALES_ORDER), response.json())


@pytest.mark.parametrize("path, schema", [
    ("product-service/price-list", bp.envelope(bp.PRICE_LIST)),
    ("product-service/price-list/", bp.envelope(bp.PRICE_LIST)),
    ("order-service/order-status", bp.envelope(bp.ORDER_STATUS)),
    ("order-service/order-shipping-status", bp.envelope(bp.SHIPPING_STATUS)),
    ("order-service/order-type", bp.envelope(bp.NAMED)),
    ("order-service/order-stock-status", bp.envelope(bp.NAMED)),
    ("accounting-service/tax-code/", bp.envelope(bp.TAX_CODE)),
    ("warehouse-service/warehouse", bp.envelope(bp.WAREHOUSE)),
    ("product-service/brand", bp.envelope(bp.NAMED)),
    ("product-service/channel", bp.envelope(bp.NAMED)),
    ("product-service/brightpearl-category", bp.envelope(bp.NAMED)),
    ("product-service/product-type", bp.envelope(bp.NAMED)),
    ("warehouse-service/shipping-method", bp.envelope(bp.NAMED)),
])
def test_lookup_lists(client, seeded, path, schema):
    response = get(client, seeded, path)
    assert response.status_code == 200, response.content
    bp.check(schema, response.json())
    assert response.json()["response"]


def test_product_prices_per_price_list(client, seeded):
    ids = first_ids(Product, seeded.account, 5)
    every = get(client, seeded, f"product-service/product-price/{ids[0]}-{ids[-1]}")
    lists = get(client, seeded, f"product-service/product-price/{ids[0]}-{ids[-1]}/price-list/1-99999999")
    assert every.status_code == lists.status_code == 200
    bp.check(bp.envelope(bp.PRODUCT_PRICE), every.json())
    assert len(every.json()["response"][0]["priceLists"]) == 4  # every price list seeded


def test_product_availability_is_keyed_by_product(client, seeded):
    ids = first_ids(Product, seeded.account, 30)
    response = get(client, seeded, f"warehouse-service/product-availability/{ids[0]}-{ids[-1]}",
                   {"includeOptional": "breakDownByLocation"})
    assert response.status_code == 200
    body = response.json()
    bp.check(obj_response(bp.AVAILABILITY), body)
    assert any(len(item["warehouses"]) > 1 for item in body["response"].values())  # stock in two warehouses


def obj_response(schema):
    return bp.obj({"response": schema})


def test_goods_out_notes_by_order_and_wildcard(client, seeded):
    note = GoodsOutNote.objects.filter(account=seeded.account).first()
    by_order = get(client, seeded, f"warehouse-service/order/{note.order_id}/goods-note/goods-out/")
    by_wildcard = get(client, seeded, f"warehouse-service/order/*/goods-note/goods-out/{note.pk}")
    assert by_order.status_code == by_wildcard.status_code == 200
    bp.check(obj_response(bp.GOODS_OUT), by_order.json())
    assert list(by_wildcard.json()["response"]) == [str(note.pk)]


# --- Searches -------------------------------------------------------------------------------------------

PRODUCT_COLUMNS = ["productId", "productName", "SKU", "barcode", "EAN", "UPC", "ISBN", "MPN", "stockTracked",
                   "salesChannelName", "createdOn", "updatedOn", "brightpearlCategoryCode", "productGroupId", "brandId",
                   "productTypeId", "productStatus", "primarySupplierId"]
ORDER_COLUMNS = ["orderId", "orderTypeId", "contactId", "orderStatusId", "orderStockStatusId", "createdOn",
                 "createdById", "customerRef", "orderPaymentStatusId", "updatedOn", "parentOrderId",
                 "orderShippingStatusId", "externalRef", "installedIntegrationInstanceId", "warehouseId",
                 "staffOwnerContactId", "taxDate", "departmentId", "deliveryDate"]
CONTACT_COLUMNS = ["contactId", "primaryEmail", "secondaryEmail", "tertiaryEmail", "firstName", "lastName",
                   "isSupplier", "companyName", "isStaff", "isCustomer", "createdOn", "updatedOn", "lastContactedOn",
                   "lastOrderedOn", "nominalCode", "isPrimary", "pri", "sec", "mob", "exactCompanyName", "title"]


@pytest.mark.parametrize("path, columns", [
    ("product-service/product-search", PRODUCT_COLUMNS),
    ("order-service/order-search", ORDER_COLUMNS),
    ("contact-service/contact-search", CONTACT_COLUMNS),
    ("order-service/sales-order-search", None),
    ("warehouse-service/goods-note/goods-out-search", None),
    ("warehouse-service/warehouse-search", None),
])
def test_searches_have_the_real_envelope_and_columns(client, seeded, path, columns):
    response = get(client, seeded, path, {"pageSize": 10})
    assert response.status_code == 200
    body = response.json()
    bp.check(bp.SEARCH, body)
    names = [column["name"] for column in body["response"]["metaData"]["columns"]]
    if columns:
        assert names == columns
    assert all(len(row) == len(names) for row in body["response"]["results"])
    assert response["Message-Type"] == "bulk-data-search"


def test_product_search_reference_maps_products_to_categories(client, seeded):
    body = get(client, seeded, "product-service/product-search", {"pageSize": 3}).json()
    membership = body["reference"]["productCategoryMembership"]
    assert sorted(membership) == sorted(str(row[0]) for row in body["response"]["results"])
    assert body["response"]["metaData"]["sorting"] == [
        {"filterable": body["response"]["metaData"]["columns"][0], "direction": "ASC"}]


def test_order_search_reference_names_the_ids_in_the_page(client, seeded):
    body = get(client, seeded, "order-service/order-search", {"pageSize": 5}).json()
    reference = body["reference"]
    assert set(reference) == {"orderTypeNames", "orderStatusNames", "orderStockStatusNames",
                              "orderPaymentStatusNames", "orderShippingStatusNames"}
    assert reference["orderTypeNames"] == {"1": "SALES_ORDER"}
    assert {str(row[3]) for row in body["response"]["results"]} == set(reference["orderStatusNames"])


def test_an_empty_search_has_no_first_or_last_result(client, seeded):
    body = get(client, seeded, "product-service/product-search", {"productName": "no such thing"}).json()
    meta = body["response"]["metaData"]
    assert body["response"]["results"] == [] and body["reference"] == {}
    assert "firstResult" not in meta and "lastResult" not in meta
    assert (meta["resultsAvailable"], meta["resultsReturned"], meta["morePagesAvailable"]) == (0, 0, False)


# --- OPTIONS --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("resource, service", [("product", "product-service"), ("order", "order-service"),
                                               ("contact", "contact-service"), ("product-price", "product-service"),
                                               ("sales-order", "order-service")])
def test_options_answer_get_uris_of_existing_records(client, seeded, resource, service):
    # when: with an ID set wider than what exists, and without one (all, query parameters tolerated)
    narrow = client.options(api_url("acme", f"{service}/{resource}/1-99999999"), **seeded.issued.headers())
    every = client.options(api_url("acme", f"{service}/{resource}/") + "?firstResult=1&lastResult=500",
                           **seeded.issued.headers())
    # then
    for response in (narrow, every):
        assert response.status_code == 200
        bp.check(bp.OPTIONS, response.json())
        assert all(uri.startswith(f"/{resource}/") for uri in response.json()["response"]["getUris"])
    assert narrow.json() == every.json()
    doubled = client.options(f"/public-api/acme//{service}//{resource}", **seeded.issued.headers())
    assert doubled.json() == every.json()


def test_options_compacts_runs_and_lists_only_existing_ids(client, seeded):
    ids = first_ids(Product, seeded.account, 10)
    Product.objects.filter(pk__in=[ids[2], ids[5]]).delete()
    response = client.options(api_url("acme", f"product-service/product/{ids[0]}-{ids[-1]},99999999"),
                              **seeded.issued.headers())
    assert response.json() == {"response": {"getUris": [
        f"/product/{ids[0]}-{ids[1]},{ids[3]}-{ids[4]},{ids[6]}-{ids[9]}"]}}
    assert response["Message-Type"] == "product-options"


# --- Writes ---------------------------------------------------------------------------------------------

def test_product_post_and_put_answer_as_brightpearl(client, seeded):
    # when
    created = post_json(client, api_url("acme", "product-service/product"), {
        "brandId": 1, "financialDetails": {"taxable": True, "taxCode": {"id": 1, "code": "T"}},
        "salesChannels": [{"salesChannelName": "Brightpearl", "productName": "Widget",
                           "categories": [{"categoryCode": 2}]}]}, **seeded.issued.headers())
    changed = put_json(client, api_url("acme", f"product-service/product/{created.json()['response']}"),
                       {"id": 1, "salesChannels": [{"salesChannelName": "Brightpearl", "productName": "New name"}]},
                       **seeded.issued.headers())
    # then
    bp.check(bp.CREATED, created.json())
    bp.check(bp.WRITTEN, changed.json())
    assert (created["Message-Type"], changed["Message-Type"]) == ("post-product", "put-product")
    record = get(client, seeded, f"product-service/product/{created.json()['response']}").json()
    bp.check(bp.envelope(bp.PRODUCT), record)
    assert record["response"][0]["salesChannels"][0]["productName"] == "New name"
    assert record["response"][0]["salesChannels"][0]["categories"] == [{"categoryCode": "2"}]


def test_order_post_answers_the_new_id(client, seeded):
    from integrations.models import Contact

    contact = Contact.objects.filter(account=seeded.account).first()
    response = post_json(client, api_url("acme", "order-service/order"),
                         {"reference": "#0001", "orderTypeCode": "SO",
                          "parties": {"customer": {"contactId": contact.pk}}},
                         **seeded.issued.headers())
    bp.check(bp.CREATED, response.json())
    record = get(client, seeded, f"order-service/order/{response.json()['response']}").json()
    bp.check(bp.envelope(bp.ORDER), record)
    assert record["response"][0]["parties"]["customer"]["contactId"] == contact.pk


def test_product_price_put_answers_empty_object(client, seeded):
    product_id = first_ids(Product, seeded.account, 1)[0]
    retail = get(client, seeded, "product-service/price-list").json()["response"][1]["id"]
    response = put_json(client, api_url("acme", f"product-service/product-price/{product_id}/price-list"),
                        {"priceLists": [{"priceListId": retail, "quantityPrice": {"1": 100, "5": 450}}]},
                        **seeded.issued.headers())
    assert response.status_code == 200 and response.json() == {}
    prices = get(client, seeded, f"product-service/product-price/{product_id}/price-list/{retail}").json()
    assert prices["response"][0]["priceLists"][0]["quantityPrice"] == {"1": "100.0000", "5": "450.0000"}


# --- Headers, errors, legacy header, slashes ---------------------------------------------------------------

def test_response_headers_as_recorded(client, seeded):
    response = get(client, seeded, "product-service/product-search")
    assert response["Content-Type"] == "application/json;charset=UTF-8"
    assert re.fullmatch(r"[0-9a-f-]{36}", response["Ruid"])
    assert response["Brightpearl-Installed-Integration-Instance-Id"] == str(seeded.issued.installation.pk)
    assert response["Cache-Control"] == "no-cache, must-revalidate"
    for name in ("brightpearl-requests-remaining", "brightpearl-next-throttle-period", "RateLimit-Remaining"):
        assert name in response
    again = get(client, seeded, "product-service/product-search")
    assert again["Ruid"] != response["Ruid"]


@pytest.mark.parametrize("path, status, code, message", [
    ("contact-service/contact/99999999", 404, "CMNC-404", "No Contact Found"),
    ("product-service/product-price/99999999", 404, "CMNC-404", "No Product Prices Found"),
    ("nothing-service/nothing", 404, "CMNC-404", "Cannot find the resource /nothing-service/nothing"),
    ("order-service/order-search?orderStatusId=BAD%20PARAM", 400, "CMNC-018",
     "The filter orderStatusId=BAD PARAM cannot be parsed as: INTEGER"),
    ("order-service/order-search?orderId=x", 400, "CMNC-018", "The filter orderId=x cannot be parsed as: IDSET"),
    ("product-service/product-search?colour=red", 400, "CMNC-018", "The filter colour=red cannot be parsed as: FILTER"),
    ("product-service/product/10-5", 400, "CMNC-018", "The filter ID set=10-5 cannot be parsed as: IDSET"),
])
def test_error_bodies(client, seeded, path, status, code, message):
    response = client.get(api_url("acme", path), **seeded.issued.headers())
    assert response.status_code == status
    bp.check(bp.ERRORS, response.json())
    error = response.json()["errors"][0]
    assert error["code"] == code and error["message"].startswith(message)
    assert response["Content-Type"] == "application/json;charset=UTF-8"


def test_an_order_id_set_with_no_records_is_an_empty_list(client, seeded):
    response = get(client, seeded, "order-service/order/99999999")
    assert response.status_code == 200 and response.json() == {"response": []}


def test_the_unknown_and_expired_token_bodies(client, seeded):
    unknown = client.get(api_url("acme", "product-service/product-search"),
                         headers={"Authorization": "Bearer abc=", "brightpearl-app-ref": seeded.issued.app_ref})
    assert unknown.status_code == 401 and unknown.json() == {"response": "Invalid instance token: abc="}
    bp.check(bp.UNAUTHORISED, unknown.json())
    assert unknown["Message-Type"] == "api-proxy" and "Brightpearl-Installed-Integration-Instance-Id" not in unknown


def test_the_legacy_account_token_header_is_a_staff_token(client, seeded):
    # given a staff token sent under its legacy name, as private system apps do
    staff = make_staff_token(seeded.account)
    headers = {"brightpearl-app-ref": staff.app_ref, "brightpearl-account-token": staff.secret}
    # when
    response = client.get(api_url("acme", "product-service/product-search"), headers=headers)
    wrong = client.get(api_url("acme", "product-service/product-search"),
                       headers={**headers, "brightpearl-account-token": "pst_wrong"})
    again = client.get(api_url("acme", "product-service/product-search"),
                       headers={**headers, "brightpearl-staff-token": staff.secret,
                                "brightpearl-account-token": ""})
    # then: the same pool as the staff token under its own name, and a wrong token never draws on it
    assert response.status_code == 200 and again.status_code == 200
    assert wrong.status_code == 401 and set(wrong.json()) == {"response"}
    assert int(again["brightpearl-requests-remaining"]) == int(response["brightpearl-requests-remaining"]) - 1
    assert "Brightpearl-Installed-Integration-Instance-Id" not in response


@pytest.mark.parametrize("path", [
    "/public-api/acme//product-service/product-search",
    "/public-api/acme/product-service//product-search",
    "/public-api/acme//product-service/product-price//{ids}",
    "/public-api/acme//warehouse-service/product-availability//{ids}",
    "/public-api/acme/product-service/product/{ids}/",
    "/public-api/acme//order-service//order-search/",
])
def test_doubled_and_trailing_slashes_are_served_like_the_clean_path(client, seeded, path):
    ids = first_ids(Product, seeded.account, 3)
    url = path.format(ids=f"{ids[0]}-{ids[-1]}")
    clean = re.sub(r"/+", "/", url).rstrip("/")
    response = client.get(url, **seeded.issued.headers())
    expected = client.get(clean, **seeded.issued.headers())
    assert response.status_code == 200
    assert response.json() == expected.json()
