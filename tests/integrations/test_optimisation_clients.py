"""Scripted clients through the real gateway (Django's test client, a real Redis and database), the rollup,
then the optimisation report: each client gets exactly the findings its habit earns, the well-behaved one none."""

import pytest

from integrations import tasks
from integrations.models import Product
from portal.optimisation import optimisation_report
from tests.integrations.api_support import api_url, fresh_pools, issue_token, seed_rows, set_default_limit, world  # noqa: F401

SEARCH = "product-service/product-search"


def report_of(world):
    tasks.rollup_usage_once()
    return optimisation_report(app=world.app, account=world.account, days=1)


def product_ids(world) -> list[int]:
    """The ids of the account's products (not 1, 2, 3...: sequences are not reset between tests)."""
    return list(Product.objects.filter(account=world.account).order_by("pk").values_list("pk", flat=True))


def codes(report) -> list[str]:
    return sorted(finding.code for finding in report.findings)


def test_a_well_behaved_client_gets_no_findings(client, world):
    # given a client that reads by ID set and searches by updatedOn, each search different
    seed_rows(world.account, products=10)
    ids = product_ids(world)
    headers = world.issued.headers()
    id_set = ",".join(map(str, ids[:5]))
    assert client.get(api_url("acme", f"product-service/product/{id_set}"), **headers).status_code == 200
    assert client.get(api_url("acme", f"product-service/product/{ids[5]},{ids[6]},{ids[7]}"),
                      **headers).status_code == 200
    for since in ("2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"):
        assert client.get(api_url("acme", f"{SEARCH}?updatedOn={since}/"), **headers).status_code == 200
    # then the report has its calls and nothing to change
    report = report_of(world)
    assert report.totals["requests"] == 4 and report.findings == []


def test_a_client_reading_single_ids_in_a_loop(client, world):
    seed_rows(world.account, products=6)
    for pk in product_ids(world):
        client.get(api_url("acme", f"product-service/product/{pk}"), **world.issued.headers())
    report = report_of(world)
    assert codes(report) == ["batch_single_id_reads"]
    # six reads are one ID-set call (five saved), or two if the loop crossed a minute
    assert report.findings[0].evidence["calls_saved"] in (4, 5)


def test_a_client_polling_the_same_search(client, world):
    for _ in range(4):
        client.get(api_url("acme", f"{SEARCH}?productName=Oak"), **world.issued.headers())
    report = report_of(world)
    assert codes(report) == ["repeated_search"]
    assert report.findings[0].evidence["repeated_searches"] in (2, 3)


def test_a_client_that_ignores_retry_after(client, world):
    set_default_limit(1)
    statuses = [client.get(api_url("acme", SEARCH + f"?pageSize={n}"), **world.issued.headers()).status_code
                for n in range(1, 5)]
    assert statuses == [200, 503, 503, 503]
    report = report_of(world)
    assert codes(report) == ["calls_during_retry_after"]
    assert report.findings[0].evidence["requests_in_wait"] == 2


def test_a_client_that_never_refreshes(client, world):
    expired = issue_token(world.app, world.account, expires_in=-30)
    for n in range(3):
        assert client.get(api_url("acme", SEARCH + f"?pageSize={n + 1}"), **expired.headers()).status_code == 401
    report = report_of(world)
    assert codes(report) == ["expired_token_calls"]
    assert report.findings[0].evidence["requests"] == 3


@pytest.mark.parametrize("limit", [2])
def test_the_busiest_minute_is_against_the_limit_then(client, world, limit):
    set_default_limit(limit)
    for n in range(3):
        client.get(api_url("acme", SEARCH + f"?pageSize={n + 1}"), **world.issued.headers())
    report = report_of(world)
    assert report.busiest_minutes[0]["limit"] == limit and report.totals["throttled"] >= 1
