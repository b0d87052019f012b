"""Hostile input is a 400, never a 500: deeply nested JSON, lone surrogates and NaN in any JSON body (the
platform API and the developer API), and dates outside the calendar in the platform API's filters."""

import json

import pytest
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create
from integrations import jsonbody
from integrations.errors import NO_JSON_BODY
from integrations.models import Product
from portal.models import App
from tests.factories import DeveloperFactory
from tests.integrations.api_support import api_url, fresh_pools, post_json, seed_rows, world  # noqa: F401

PRODUCT = {"brandId": 1, "salesChannels": [{"salesChannelName": "Brightpearl", "productName": "Oak chair"}]}
NEW_APP = {"app_ref": "stock-sync", "name": "Stock Sync", "short_description": "Syncs stock.",
           "redirect_uris": ["https://stock.example.com/cb"]}

DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE_BODIES = {
    "nested 100,000 deep": DEEP,
    "nested just past the limit": json.dumps(PRODUCT)[:-1]
    + ', "extra": ' + "[" * jsonbody.MAX_DEPTH + "]" * jsonbody.MAX_DEPTH + "}",
    "lone high surrogate": json.dumps(PRODUCT)[:-1] + ', "brand": "\\ud800"}',
    "lone low surrogate in a key": '{"\\udc00": 1, "brandId": 1}',
    "NaN": '{"brandId": NaN}',
    "Infinity": '{"brandId": Infinity}',
}


@pytest.mark.django_db
@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_platform_api_refuses_hostile_json_with_a_400(client, world, body):
    # when
    response = post_json(client, api_url("acme", "product-service/product"), body, **world.issued.headers())

    # then
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == NO_JSON_BODY
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_platform_api_still_takes_a_valid_surrogate_pair_and_ordinary_nesting(client, world):
    # given an account with its reference data, and an emoji written as an escaped surrogate pair
    seed_rows(world.account)
    body = json.dumps({**PRODUCT, "salesChannels": [{"salesChannelName": "Brightpearl",
                                                     "productName": "Oak chair \U0001FA91"}]})

    # when
    response = post_json(client, api_url("acme", "product-service/product"), body, **world.issued.headers())

    # then
    assert response.status_code == 200, response.content
    assert Product.objects.get().name == "Oak chair \U0001FA91"


@pytest.mark.django_db
@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_developer_api_refuses_hostile_json_with_a_400(body):
    # given
    developer = DeveloperFactory(partner=True).user
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=developer, name='t', actor=developer)[1]}")
    hostile = body.replace('"sku": "OAK-1", "name": "Oak chair"', json.dumps(NEW_APP)[1:-1])

    # when
    response = client.post("/api/developer/apps/", hostile, content_type="application/json")

    # then
    assert response.status_code == 400
    assert not App.objects.exists()


OUT_OF_RANGE = [
    "99999-01-01/", "0000-01-01/", "/0000-01-01", "/9999-12-31", "9999-12-31T23:59:59-01:00/",
    "/9999-12-31T23:59:59.999999-23:59", "0001-01-01T00:00:00+01:00/", "/0001-01-01T00:00:00+14:00",
    "99999999999999/", "+99999-01-01T00:00:00/", "2026-01-01T00:00:00+99:00/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_dates_outside_the_calendar_are_a_400(client, world, value):
    # given
    seed_rows(world.account, products=1)

    # when
    response = client.get(api_url("acme", "product-service/product-search"), {"updatedOn": value},
                          **world.issued.headers())

    # then
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "CMNC-018"


@pytest.mark.django_db
def test_the_edges_of_the_calendar_still_work_in_utc(client, world):
    # given
    seed_rows(world.account, products=2)

    # when
    response = client.get(api_url("acme", "product-service/product-search"),
                          {"updatedOn": "0001-01-01T00:00:00Z/9999-12-31T23:59:59Z"}, **world.issued.headers())

    # then
    assert response.status_code == 200
    assert response.json()["response"]["metaData"]["resultsReturned"] == 2


@pytest.mark.parametrize("code, headers", [
    ("acme", {"brightpearl-app-ref": "acme_scr\x00ipts", "brightpearl-staff-token": "pst_xy"}),
    ("acme", {"brightpearl-app-ref": "acme_scripts", "brightpearl-staff-token": "pst_x\x00y"}),
    ("acme", {"Authorization": "Bearer abc\x00def", "brightpearl-app-ref": "acme-sync"}),
    ("acme", {"Authorization": "Bearer abcdef", "brightpearl-app-ref": "acme\x00sync"}),
    ("acme", {"brightpearl-app-ref": "acme\x00sync"}),
    ("ac\x00me", {"brightpearl-app-ref": "acme-sync"}),
])
def test_nul_characters_in_credentials_or_the_account_code_are_refused_not_a_500(client, world, code, headers):
    # (PostgreSQL refuses NUL in text parameters: no query may be sent with one)
    response = client.get(api_url(code, "product-service/product-search"), headers=headers)

    assert response.status_code in (401, 404), response.content[:200]


@pytest.mark.parametrize("url, data, headers", [
    ("/oauth/token/acme", {"grant_type": "refresh_token", "refresh_token": "a\x00b", "client_id": "acme-sync"}, {}),
    ("/oauth/token/acme", {"grant_type": "refresh_token", "refresh_token": "ab", "client_id": "acme\x00sync"}, {}),
    ("/oauth/token/acme", {"grant_type": "client_credentials", "client_id": "acme\x00sync", "client_secret": "x"}, {}),
    # HTTP Basic credentials "acme\x00sync:x"
    ("/oauth/token/acme", {"grant_type": "client_credentials"}, {"Authorization": "Basic YWNtZQBzeW5jOng="}),
    ("/oauth/revoke", {"token": "ab", "client_id": "acme\x00sync"}, {}),
    ("/oauth/introspect", {"token": "a\x00b"}, {}),
])
def test_nul_characters_in_oauth_parameters_are_invalid_requests_not_a_500(client, world, url, data, headers):
    response = client.post(url, data, headers=headers)

    assert response.status_code == 400, response.content[:200]
    assert response.json()["error"] == "invalid_request" and response["Cache-Control"] == "no-store"
