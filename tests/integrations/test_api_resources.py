"""The built-in account resources through the gateway: GET by ID set and searches, as PROTOCOL.md says."""

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest

from integrations.models import Contact, Order, Product
from tests.integrations.api_support import api_url, fresh_pools, seed_rows, world  # noqa: F401


def get(client, world, path, **params):
    return client.get(api_url("acme", path), params, **world.issued.headers())


def ids_of(account, model=Product):
    return list(model.objects.filter(account=account).order_by("id").values_list("id", flat=True))


# --- GET by ID set -------------------------------------------------------------------------------------

def test_get_by_range_and_list(client, world):
    # given
    seed_rows(world.account, products=30)
    ids = ids_of(world.account)
    id_set = f"{ids[0]},{ids[4]},{ids[9]}-{ids[12]}"

    # when
    response = get(client, world, f"product-service/product/{id_set}")

    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"response"}
    assert [row["id"] for row in body["response"]] == [ids[0], ids[4], ids[9], ids[10], ids[11], ids[12]]
    first = body["response"][0]
    assert first["identity"]["sku"] == "acme-0001" and first["salesChannels"][0]["productName"] == "Oak Chair 1"
    assert first["updatedOn"].endswith("+00:00") and first["brandId"] == 1


def test_get_never_returns_another_accounts_rows(client, world):
    # given rows in both accounts
    seed_rows(world.account, products=3)
    seed_rows(world.other_account, products=3)
    theirs = ids_of(world.other_account)

    # when acme's token asks for globex's IDs on acme's API
    response = get(client, world, f"product-service/product/{theirs[0]}-{theirs[-1]}")

    # then nothing of globex's comes back
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "CMNC-404"


def test_get_orders_and_contacts(client, world):
    seed_rows(world.account, contacts=3, orders=2)
    contact_ids, order_ids = ids_of(world.account, Contact), ids_of(world.account, Order)

    contacts = get(client, world, f"contact-service/contact/{contact_ids[0]}-{contact_ids[-1]}").json()["response"]
    orders = get(client, world, f"order-service/order/{order_ids[0]},{order_ids[1]}").json()["response"]

    assert [c["contactId"] for c in contacts] == contact_ids
    assert contacts[0]["communication"]["emails"]["PRI"]["email"] == "sam1@example.com"
    assert [o["id"] for o in orders] == order_ids
    assert orders[0]["currency"]["orderCurrencyCode"] == "GBP" and orders[0]["totalValue"]["total"] == "10.00"
    assert orders[0]["orderStatus"] == {"orderStatusId": 4, "name": "Invoiced"}


@pytest.mark.parametrize("id_set", ["10-5", "abc", "1,,2", "1-", "-3", "0", "1;2", "1 2", "1.5", "1-2-3",
                                    "99999999999999999999", "1-100000"])
def test_bad_id_sets_are_400(client, world, id_set):
    response = get(client, world, f"product-service/product/{id_set}")

    assert response.status_code == 400, id_set
    assert response.json()["errors"][0]["code"] == "CMNC-018"


# --- Search -------------------------------------------------------------------------------------------

def test_search_metadata_and_positional_rows(client, world):
    # given
    seed_rows(world.account, products=12)

    # when
    response = get(client, world, "product-service/product-search", pageSize=5)

    # then
    assert response.status_code == 200
    data = response.json()["response"]
    meta = data["metaData"]
    paging = ("resultsAvailable", "resultsReturned", "firstResult", "lastResult", "morePagesAvailable")
    assert {k: meta[k] for k in paging} == {
        "resultsAvailable": 12, "resultsReturned": 5, "firstResult": 1, "lastResult": 5, "morePagesAvailable": True}
    assert list(meta) == ["morePagesAvailable", "resultsAvailable", "resultsReturned", "firstResult", "lastResult",
                          "columns", "sorting"]
    names = [column["name"] for column in meta["columns"]]
    assert names[:3] == ["productId", "productName", "SKU"]
    assert list(meta["columns"][0]) == ["name", "sortable", "filterable", "reportDataType", "referenceData",
                                        "isFreeTextSearchable", "required"]
    assert meta["sorting"] == [{"filterable": meta["columns"][0], "direction": "ASC"}]
    rows = [dict(zip(names, row)) for row in data["results"]]
    assert [row["SKU"] for row in rows] == [f"acme-{n:04d}" for n in range(1, 6)]
    assert rows[0]["salesChannelName"] == "Brightpearl" and rows[0]["EAN"] is None
    assert rows[0]["productStatus"] == "LIVE"


def test_paging_until_no_more_pages_visits_every_row_once(client, world):
    # given 23 rows of ours and some of another account
    seed_rows(world.account, products=23)
    seed_rows(world.other_account, products=5)
    seen, first_result, pages = [], 1, 0

    # when a client follows firstResult = lastResult + 1 while morePagesAvailable
    while True:
        page = get(client, world, "product-service/product-search", pageSize=10, firstResult=first_result)
        data = page.json()["response"]
        pages += 1
        seen += [row[0] for row in data["results"]]
        if not data["metaData"]["morePagesAvailable"]:
            break
        first_result = data["metaData"]["lastResult"] + 1

    # then
    assert pages == 3
    assert seen == ids_of(world.account)


def test_filters_exact_and_contains(client, world):
    seed_rows(world.account, products=20, contacts=8)

    by_sku = get(client, world, "product-service/product-search", SKU="acme-0007").json()["response"]
    by_name = get(client, world, "product-service/product-search", productName="oak chair").json()["response"]
    combined = get(client, world, "product-service/product-search", productName="chair", brandId="7",
                   productStatus="LIVE").json()["response"]
    suppliers = get(client, world, "contact-service/contact-search", isSupplier="true",
                    lastName="jon").json()["response"]

    assert [row[2] for row in by_sku["results"]] == ["acme-0007"]
    assert by_name["metaData"]["resultsAvailable"] == 10  # odd numbers are oak chairs
    expected = [n for n in range(1, 21) if n % 2 and n % 3 == 0 and n % 5]
    assert [row[2] for row in combined["results"]] == [f"acme-{n:04d}" for n in expected]
    assert [row[5] for row in suppliers["results"]] == ["Jones", "Jones"]  # 4 and 8


def test_sort_descending_by_a_column(client, world):
    seed_rows(world.account, products=6)

    data = get(client, world, "product-service/product-search", sort="SKU.DESC", pageSize=3).json()["response"]

    assert [row[2] for row in data["results"]] == ["acme-0006", "acme-0005", "acme-0004"]
    assert data["metaData"]["sorting"][0]["direction"] == "DESC"
    assert data["metaData"]["sorting"][0]["filterable"]["name"] == "SKU"


def test_updated_on_ranges(client, world):
    # given products updated on three different days
    seed_rows(world.account, products=3)
    days = [datetime(2026, 6, 30, 12, tzinfo=dt_timezone.utc), datetime(2026, 7, 1, 0, tzinfo=dt_timezone.utc),
            datetime(2026, 7, 3, 8, tzinfo=dt_timezone.utc)]
    for product_id, day in zip(ids_of(world.account), days):
        Product.objects.filter(pk=product_id).update(updated_on=day)

    def count(value):
        response = get(client, world, "product-service/product-search", updatedOn=value)
        assert response.status_code == 200, response.content
        return response.json()["response"]["metaData"]["resultsAvailable"]

    # then open and closed ranges, dates and offsets all work
    assert count("2026-07-01T00:00:00Z/") == 2
    assert count("/2026-07-01T00:00:00Z") == 2  # both ends are included
    assert count("2026-07-01T00:00:00Z/2026-07-02T00:00:00Z") == 1
    assert count("2026-07-01/2026-07-01") == 1  # a date as the end covers the whole day
    assert count("2026-07-01/2026-07-03") == 2
    assert count("2026-06-30/") == 3
    assert count("2026-07-01T01:00:00+01:00/") == 2
    assert count("2027-01-01T00:00:00Z/") == 0


def test_empty_search_is_200_with_no_rows(client, world):
    response = get(client, world, "order-service/order-search", customerRef="nope")

    assert response.status_code == 200
    data = response.json()["response"]
    assert data["results"] == []
    assert data["metaData"]["resultsAvailable"] == 0 and data["metaData"]["morePagesAvailable"] is False


def test_columns_parameter_chooses_columns(client, world):
    seed_rows(world.account, products=2)

    data = get(client, world, "product-service/product-search", columns="SKU,productId").json()["response"]

    assert [c["name"] for c in data["metaData"]["columns"]] == ["SKU", "productId"]
    assert data["results"][0][0] == "acme-0001"


def test_search_by_updated_on_matches_what_the_rows_say(client, world):
    # given: a sync client's checkpoint is the newest updatedOn it saw
    seed_rows(world.account, products=5)
    Product.objects.filter(account=world.account).update(updated_on=datetime(2026, 1, 1, tzinfo=dt_timezone.utc))
    newest = Product.objects.filter(account=world.account).order_by("id").last()
    newest_time = datetime(2026, 2, 1, 0, 0, 0, 123456, tzinfo=dt_timezone.utc)
    Product.objects.filter(pk=newest.pk).update(updated_on=newest_time)
    rows = get(client, world, "product-service/product-search", sort="updatedOn.DESC", pageSize=1).json()["response"]
    checkpoint = rows["results"][0][11]

    # when it asks for what changed since
    since = get(client, world, "product-service/product-search", updatedOn=f"{checkpoint}/").json()["response"]

    # then the row it saw is included again (inclusive start), nothing older
    assert checkpoint == "2026-02-01T00:00:00.123+00:00"
    assert [row[0] for row in since["results"]] == [newest.pk]


@pytest.mark.parametrize("params", [
    {"pageSize": "501"}, {"pageSize": "0"}, {"pageSize": "-1"}, {"pageSize": "ten"},
    {"firstResult": "0"}, {"firstResult": "1.5"}, {"firstResult": "99999999999"},
    {"sort": "SKU.UP"}, {"sort": "nope.ASC"}, {"sort": ".ASC"}, {"sort": "brightpearlCategoryCode.ASC"},
    {"colour": "red"}, {"product_id": "1"},
    {"productId": "5-1"}, {"productId": "x"}, {"productId": ""},
    {"updatedOn": "yesterday"}, {"updatedOn": "/"}, {"updatedOn": "2026-13-01/"},
    {"updatedOn": "2026-02-30T00:00:00Z/"}, {"updatedOn": "2026-07-02/2026-07-01"},
    {"updatedOn": "2026-07-01/2026-07-02/2026-07-03"}, {"updatedOn": "0000-01-01/"},
    {"createdOn": "9999-12-31/9999-12-31"},
    {"productGroupId": "many"}, {"productGroupId": "99999999999"}, {"stockTracked": "maybe"},
    {"salesChannelName": "Brightpearl"},
    {"SKU": "a\x00b"}, {"productName": "x" * 1001},
    {"columns": "SKU,nope"},
])
def test_malformed_search_input_is_a_400_with_cmnc_018(client, world, params):
    response = get(client, world, "product-service/product-search", **params)

    assert response.status_code == 400, (params, response.content)
    assert response.json()["errors"][0]["code"] == "CMNC-018"


def test_contact_and_order_filters_are_checked(client, world):
    cases = ["contact-service/contact-search?isSupplier=maybe", "contact-service/contact-search?sku=1",
             "order-service/order-search?placedOn=2026-01-01", "order-service/order-search?contactId=1-2"]
    for path in cases:
        response = client.get(api_url("acme", path), **world.issued.headers())
        assert response.status_code == 400, path
        assert response.json()["errors"][0]["code"] == "CMNC-018", path


def test_last_result_is_tolerated_and_bounds_the_page(client, world):
    seed_rows(world.account, products=12)

    data = get(client, world, "product-service/product-search", firstResult=1, lastResult=5).json()["response"]

    assert data["metaData"]["resultsReturned"] == 5 and data["metaData"]["lastResult"] == 5


def test_plus_offset_survives_form_decoding(client, world):
    seed_rows(world.account, products=1)
    Product.objects.update(updated_on=datetime(2026, 7, 1, tzinfo=dt_timezone.utc) - timedelta(minutes=30))

    # an unencoded '+' arrives as a space; the gateway reads it as the offset it was
    response = client.get(api_url("acme", "product-service/product-search?updatedOn=2026-07-01T01:00:00+01:00/"),
                          **world.issued.headers())

    assert response.status_code == 200
    assert response.json()["response"]["metaData"]["resultsAvailable"] == 0


def test_unknown_paths_and_methods_are_json_errors(client, world):
    unknown = client.get(api_url("acme", "warehouse-service/nothing"), **world.issued.headers())
    wrong_method = client.patch(api_url("acme", "product-service/product/1"), **world.issued.headers())

    assert unknown.status_code == 404 and unknown.json()["errors"][0]["code"] == "CMNC-404"
    assert wrong_method.status_code == 405 and wrong_method["Allow"] == "GET, PUT, DELETE, OPTIONS"
    for response in (unknown, wrong_method):
        assert "brightpearl-requests-remaining" in response
