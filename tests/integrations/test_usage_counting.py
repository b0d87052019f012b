"""Usage counting in the gateway, end to end on a real Redis and database: real requests through the Django test
client, then the rollup, then the UsageMinute / StaffUsageMinute figures. Also the endpoint classes (pure
function) and the alerts signal the script leaves in Redis."""

import time
from collections import Counter

import pytest
from django.http import JsonResponse
from django.test import Client
from django.urls import include, path

from integrations import tasks, usage
from integrations.gateway import api_endpoint
from integrations.models import Product
from integrations.usage_alert_consumer import parse_entry
from portal.models import StaffUsageMinute, UsageMinute
from portal.selectors import platform_settings
from tests.integrations.api_support import (  # noqa: F401
    api_url,
    fresh_pools,
    issue_token,
    make_staff_token,
    seed_rows,
    set_default_limit,
    world,
)

SEARCH = "product-service/product-search"


# --- A URLconf with the real API and two views that fail on their own -----------------------------------

@api_endpoint
def _broken(request, caller):
    raise RuntimeError("a bug in a view")


@api_endpoint
def _bad_gateway(request, caller):
    return JsonResponse({"errors": [{"code": "UPSTREAM", "message": "upstream down"}]}, status=502)


urlpatterns = [
    path("public-api/<str:account_code>/test-service/broken", _broken),
    path("public-api/<str:account_code>/test-service/bad-gateway", _bad_gateway),
    path("", include("config.urls")),
]


# --- Endpoint classes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, expected", [
    ("GET", "/public-api/acme/product-service/product/5", "GET product-service/product single"),
    ("GET", "/public-api/acme/product-service/product/1,2,3", "GET product-service/product idset"),
    ("GET", "/public-api/acme/product-service/product/1-200", "GET product-service/product idset"),
    ("GET", "/public-api/acme/product-service/product/1-3,7", "GET product-service/product idset"),
    ("GET", "/public-api/acme/order-service/order-search?columns=orderId", "GET order-service/order-search search"),
    ("POST", "/public-api/acme/order-service/order", "POST order-service/order collection"),
    ("GET", "/public-api/acme/product-service/product/5/custom-field",
     "GET product-service/product/custom-field single"),
    ("GET", "/public-api/acme//product-service//product/5/", "GET product-service/product single"),
    ("get", "/public-api/acme/product-service/brand", "GET product-service/brand collection"),
    ("PATCH", "/public-api/acme/order-service/order/5/row/7", "PATCH order-service/order/row single"),
    ("GET", "/public-api/acme/product-service/product/1,2/custom-field",
     "GET product-service/product/custom-field idset"),
    # more than three resource segments: the first three are kept
    ("GET", "/public-api/acme/warehouse-service/goods-note/goods-out/5/event",
     "GET warehouse-service/goods-note/goods-out single"),
    ("GET", "/public-api/acme/product-service/product-search/x-search",
     "GET product-service/product-search/x-search search"),
    # not an ID: not only digits, commas and ranges
    ("GET", "/public-api/acme/product-service/product/1--2", "GET product-service/product/1--2 collection"),
    ("DELETE", "/public-api/acme/product-service/product/5", "DELETE product-service/product single"),
    # unusable paths
    ("GET", "/public-api/acme/Product-Service/product", "GET other other"),
    ("GET", "/public-api/acme/product-service/" + "x" * 41, "GET other other"),
    ("GET", "/public-api/acme/product-service/produit_é", "GET other other"),
    ("GET", "/public-api/acme", "GET other other"),
    ("GET", "/public-api/acme/5", "GET other other"),
    ("BREW", "/public-api/acme/product-service/product", "OTHER product-service/product collection"),
    # relative to the account already
    ("GET", "product-service/product/5", "GET product-service/product single"),
])
def test_endpoint_class(method, path, expected):
    assert usage.endpoint_class(method, path) == expected
    assert len(usage.endpoint_class(method, path).split(" ")) == 3


def test_search_hash_names_the_same_search_alike():
    one = usage.search_hash("GET", "/public-api/acme/product-service/product-search", "a=1&b=2")
    assert len(one) == 12 and int(one, 16) >= 0
    assert one == usage.search_hash("GET", "/public-api/acme//product-service/product-search/", "b=2&a=1")
    assert one != usage.search_hash("GET", "/public-api/acme/product-service/product-search", "a=1&b=3")
    assert one != usage.search_hash("GET", "/public-api/acme/order-service/order-search", "a=1&b=2")


# --- Helpers --------------------------------------------------------------------------------------------

def rolled_up(installation) -> dict:
    """Run the rollup, then the installation's figures summed over its minutes (a test may cross a minute)."""
    tasks.rollup_usage_once()
    return _summed(UsageMinute.objects.filter(installation=installation))


def staff_rolled_up(account) -> dict:
    tasks.rollup_usage_once()
    return _summed(StaffUsageMinute.objects.filter(account=account))


def _summed(rows) -> dict:
    total = Counter()
    endpoints, repeated = Counter(), Counter()
    for row in rows:
        for name in ("calls", "throttled", "failed", "status_4xx", "status_5xx", "in_retry_wait", "expired_token"):
            total[name] += getattr(row, name)
        endpoints.update(row.endpoints)
        repeated.update(row.repeated_searches)
    return {**{name: total[name] for name in ("calls", "throttled", "failed", "status_4xx", "status_5xx",
                                              "in_retry_wait", "expired_token")},
            "endpoints": dict(endpoints), "repeated_searches": dict(repeated)}


def set_window(seconds: int) -> None:
    row = platform_settings()
    row.limit_period_seconds = seconds
    row.save(update_fields=["limit_period_seconds"])


# --- Outcomes -------------------------------------------------------------------------------------------

@pytest.mark.urls(__name__)
def test_2xx_4xx_and_5xx_are_told_apart(world):
    # given
    client = Client(raise_request_exception=False)
    seed_rows(world.account, products=3)
    product = Product.objects.filter(account=world.account).first()
    headers = world.issued.headers()

    # when: two good calls, a view's 404, the gateway's own 401 (wrong app reference), a view's 502 and a view
    # that raises
    statuses = [
        client.get(api_url("acme", SEARCH), **headers).status_code,
        client.get(api_url("acme", f"product-service/product/{product.pk}"), **headers).status_code,
        client.get(api_url("acme", "nothing-service/nothing"), **headers).status_code,
        client.get(api_url("acme", SEARCH), headers={**headers["headers"], "brightpearl-app-ref": "other-app"}
                   ).status_code,
        client.get(api_url("acme", "test-service/bad-gateway"), **headers).status_code,
        client.get(api_url("acme", "test-service/broken"), **headers).status_code,
    ]

    # then
    assert statuses == [200, 200, 404, 401, 502, 500]
    figures = rolled_up(world.issued.installation)
    assert (figures["calls"], figures["throttled"], figures["status_4xx"], figures["status_5xx"]) == (6, 0, 2, 2)
    assert (figures["in_retry_wait"], figures["expired_token"], figures["failed"]) == (0, 0, 0)
    assert figures["endpoints"] == {
        "GET product-service/product-search search": 2, "GET product-service/product single": 1,
        "GET nothing-service/nothing collection": 1, "GET test-service/bad-gateway collection": 1,
        "GET test-service/broken collection": 1,
    }


def test_throttled_calls_are_not_counted_as_5xx(client, world):
    # given
    set_default_limit(2)

    # when
    statuses = [client.get(api_url("acme", SEARCH), **world.issued.headers()).status_code for _ in range(3)]

    # then
    assert statuses == [200, 200, 503]
    figures = rolled_up(world.issued.installation)
    assert (figures["calls"], figures["throttled"], figures["status_4xx"], figures["status_5xx"]) == (2, 1, 0, 0)
    assert figures["endpoints"] == {"GET product-service/product-search search": 3}


def test_failed_authentication_is_counted_apart_and_nowhere_else(client, world):
    # when a request names the installation with a bogus token
    response = client.get(api_url("acme", SEARCH), headers={"Authorization": "Bearer nope",
                                                            "brightpearl-app-ref": world.issued.app_ref})

    # then
    assert response.status_code == 401
    figures = rolled_up(world.issued.installation)
    assert (figures["failed"], figures["calls"], figures["status_4xx"], figures["endpoints"]) == (1, 0, 0, {})


# --- Retry-After waits ----------------------------------------------------------------------------------

def test_calls_before_the_retry_after_ran_out_are_counted(client, world, fresh_pools):
    # given one call a minute
    set_default_limit(1)
    headers = world.issued.headers()

    # when a client keeps calling after its first refusal
    first = client.get(api_url("acme", SEARCH), **headers)
    refused = client.get(api_url("acme", SEARCH), **headers)
    again = [client.get(api_url("acme", SEARCH), **headers) for _ in range(2)]

    # then the calls made during the announced wait are counted, not the refusal that announced it
    assert [first.status_code, refused.status_code, *[r.status_code for r in again]] == [200, 503, 503, 503]
    figures = rolled_up(world.issued.installation)
    assert (figures["calls"], figures["throttled"], figures["in_retry_wait"]) == (1, 3, 2)
    # and the wait stored is the one announced, on Redis's clock
    wait_key = usage.installation_prefix(world.issued.installation.pk) + "wait"
    wait_end_us = int(fresh_pools.get(wait_key))
    seconds, micros = fresh_pools.time()
    now_us = seconds * 1_000_000 + micros
    assert 0 < wait_end_us - now_us <= int(refused["Retry-After"]) * 1_000_000
    assert 0 < fresh_pools.pttl(wait_key) <= int(refused["Retry-After"]) * 1000


def test_a_client_that_waits_as_told_is_not_counted_in_a_wait(client, world):
    # given one call per second
    set_default_limit(1)
    set_window(1)
    headers = world.issued.headers()

    # when the client waits as long as Retry-After says before calling again
    assert client.get(api_url("acme", SEARCH), **headers).status_code == 200
    refused = client.get(api_url("acme", SEARCH), **headers)
    assert refused.status_code == 503 and refused["Retry-After"] == "1"
    time.sleep(int(refused["Retry-After"]) + 0.05)  # the client honouring the header (not a timing assertion)
    assert client.get(api_url("acme", SEARCH), **headers).status_code == 200

    # then
    figures = rolled_up(world.issued.installation)
    assert (figures["calls"], figures["throttled"], figures["in_retry_wait"]) == (2, 1, 0)


# --- Expired tokens -------------------------------------------------------------------------------------

def test_calls_with_an_expired_token_are_counted(client, world):
    # given a token past its expiry, beside the live one
    expired = issue_token(world.app, world.account, expires_in=-30)

    # when
    responses = [client.get(api_url("acme", SEARCH), **expired.headers()) for _ in range(2)]
    live = client.get(api_url("acme", SEARCH), **world.issued.headers())

    # then: the gateway's 401s are admitted calls answered 4xx, sent with an expired token
    assert [r.status_code for r in responses] == [401, 401] and live.status_code == 200
    figures = rolled_up(world.issued.installation)
    assert (figures["calls"], figures["status_4xx"], figures["expired_token"]) == (3, 2, 2)


# --- Endpoints and repeated searches --------------------------------------------------------------------

def test_endpoints_and_repeated_searches(client, world):
    # given
    seed_rows(world.account, products=5)
    headers = world.issued.headers()
    get = lambda rest: client.get(api_url("acme", rest), **headers)  # noqa: E731

    # when: single-ID reads in a loop, one ID-set read, the same search three times (the query in another
    # order once), another search, and a collection
    for pk in (1, 2, 3):
        get(f"product-service/product/{pk}")
    get("product-service/product/1-3,5")
    for _ in range(2):
        get(f"{SEARCH}?productName=Oak&pageSize=5")
    get(f"{SEARCH}?pageSize=5&productName=Oak")
    get(f"{SEARCH}?productName=Pine")
    get("product-service/brand")

    # then
    figures = rolled_up(world.issued.installation)
    assert figures["endpoints"] == {
        "GET product-service/product single": 3, "GET product-service/product idset": 1,
        "GET product-service/product-search search": 4, "GET product-service/brand collection": 1,
    }
    assert figures["repeated_searches"] == {"GET product-service/product-search search": 2}
    # the working fields of the script never reach the rows
    assert all(not key.startswith("sq|") for row in UsageMinute.objects.all() for key in row.endpoints)


def test_the_rollup_is_idempotent_with_the_details(client, world):
    # given
    for _ in range(2):
        client.get(api_url("acme", SEARCH), **world.issued.headers())
    first = rolled_up(world.issued.installation)

    # when the rollup runs again
    again = rolled_up(world.issued.installation)

    # then
    assert first == again and first["calls"] == 2 and first["repeated_searches"] == {
        "GET product-service/product-search search": 1}


# --- Staff-token pools ----------------------------------------------------------------------------------

def test_staff_pools_get_the_same_figures(client, world):
    # given a staff token of the account, at two calls a window
    staff = make_staff_token(world.account)
    row = platform_settings()
    row.staff_token_limit = 2
    row.save(update_fields=["staff_token_limit"])

    # when: a search twice (the second a repeat), then throttled twice (the second inside the wait), and a view's 404
    statuses = [client.get(api_url("acme", SEARCH), **staff.headers()).status_code for _ in range(4)]

    # then
    assert statuses == [200, 200, 503, 503]
    figures = staff_rolled_up(world.account)
    assert (figures["calls"], figures["throttled"], figures["in_retry_wait"], figures["status_4xx"]) == (2, 2, 1, 0)
    assert figures["endpoints"] == {"GET product-service/product-search search": 4}
    assert figures["repeated_searches"] == {"GET product-service/product-search search": 3}
    # and none of it is the installation's
    assert not UsageMinute.objects.filter(installation=world.issued.installation).exists()


def test_staff_pool_4xx_of_the_view_and_of_the_gateway(client, world):
    # given
    staff = make_staff_token(world.account)

    # when: a 404 of the view, and the staff token used on another account's API (the gateway's 403)
    assert client.get(api_url("acme", "nothing-service/nothing"), **staff.headers()).status_code == 404
    assert client.get(api_url("globex", SEARCH), **staff.headers()).status_code == 403

    # then
    figures = staff_rolled_up(world.account)
    assert (figures["calls"], figures["status_4xx"]) == (2, 2)


# --- The alerts signal ----------------------------------------------------------------------------------

def test_alerts_are_signalled_once_per_level_and_day(client, world, fresh_pools):
    # given a limit of 5 calls a minute
    set_default_limit(5)
    pk = world.issued.installation.pk

    # when the client calls 9 times (5 admitted, 4 refused)
    statuses = [client.get(api_url("acme", SEARCH), **world.issued.headers()).status_code for _ in range(9)]

    # then: one 80% entry (at the 4th call) and one 100% entry (at the 5th, when the pool is full), nothing more
    assert statuses == [200] * 5 + [503] * 4
    entries = [entry.decode() for entry in fresh_pools.lrange(usage.ALERTS_KEY, 0, -1)]
    assert len(entries) == 2
    alerts = [parse_entry(entry) for entry in entries]
    assert [(a.installation_id, a.level, a.calls, a.limit) for a in alerts] == [(pk, 80, 4, 5), (pk, 100, 5, 5)]
    seconds, _ = fresh_pools.time()
    assert all(abs(a.at.timestamp() - int(seconds)) < 60 for a in alerts)
    day = int(seconds) // 86400
    for level in (80, 100):
        key = f"usage:{{{pk}}}:alert:{level}:{day}"
        assert fresh_pools.get(key) == b"1" and 0 < fresh_pools.ttl(key) <= 90000


def test_a_refused_request_signals_100_with_itself_counted(client, world, fresh_pools):
    # given a full pool whose 80% and 100% were already signalled (a consumer took the entries)
    set_default_limit(1)
    client.get(api_url("acme", SEARCH), **world.issued.headers())
    assert [e.decode().split(":")[1] for e in fresh_pools.lrange(usage.ALERTS_KEY, 0, -1)] == ["100"]
    fresh_pools.delete(usage.ALERTS_KEY)
    day = int(fresh_pools.time()[0]) // 86400
    fresh_pools.delete(f"usage:{{{world.issued.installation.pk}}}:alert:100:{day}")

    # when the next request is refused
    assert client.get(api_url("acme", SEARCH), **world.issued.headers()).status_code == 503

    # then its entry counts the refused request too
    (entry,) = fresh_pools.lrange(usage.ALERTS_KEY, 0, -1)
    alert = parse_entry(entry)
    assert (alert.level, alert.calls, alert.limit) == (100, 2, 1)


def test_quiet_pools_and_staff_pools_signal_nothing(client, world, fresh_pools):
    # given a staff token and the default limits
    staff = make_staff_token(world.account)
    row = platform_settings()
    row.staff_token_limit = 1
    row.save(update_fields=["staff_token_limit"])

    # when an installation makes a few calls and the staff pool is full
    for _ in range(3):
        client.get(api_url("acme", SEARCH), **world.issued.headers())
        client.get(api_url("acme", SEARCH), **staff.headers())

    # then
    assert fresh_pools.llen(usage.ALERTS_KEY) == 0


