"""The API gateway against a real Redis: who may call which account, the rate pools and their headers,
throttling that never runs the view, usage counters, and the limiter's failure policy."""

import logging
import socket
import threading
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from accounts.models import StaffToken
from integrations import gateway, usage
from integrations.conf import integrations_settings
from integrations.models import AccessToken, Product
from portal import installations
from portal.models import RateLimitIncreaseRequest
from portal.selectors import platform_settings
from tests.factories import AppFactory, DeveloperFactory, MembershipFactory, make_reviewer
from tests.integrations.api_support import (  # noqa: F401
    api_url,
    fresh_pools,
    issue_token,
    make_staff_token,
    put_json,
    seed_rows,
    set_default_limit,
    world,
)

SEARCH = "product-service/product-search"


def search(client, account_code="acme", **kwargs):
    return client.get(api_url(account_code, SEARCH), **kwargs)


def code_of(response) -> str:
    return response.json()["errors"][0]["code"]


def refusal_of(response) -> str:
    """A 401's reason: Brightpearl answers ``{"response": "<reason>"}`` there, not the errors envelope."""
    body = response.json()
    assert set(body) == {"response"}
    return body["response"]


def assert_throttle_headers(response):
    for name in ("brightpearl-requests-remaining", "brightpearl-next-throttle-period", "RateLimit-Limit",
                 "RateLimit-Remaining", "RateLimit-Reset"):
        assert name in response, f"{name} missing from a {response.status_code}"


# --- Headers ------------------------------------------------------------------------------------------

def test_headers_count_down_and_say_when_the_period_resets(client, world):
    # when
    responses = [search(client, **world.issued.headers()) for _ in range(3)]

    # then
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [int(r["brightpearl-requests-remaining"]) for r in responses] == [199, 198, 197]
    assert [int(r["RateLimit-Remaining"]) for r in responses] == [199, 198, 197]
    assert {r["RateLimit-Limit"] for r in responses} == {"200"}
    for response in responses:
        assert 0 < int(response["brightpearl-next-throttle-period"]) <= 60_000
        assert 0 < int(response["RateLimit-Reset"]) <= 60


def test_error_responses_carry_the_headers_too(client, world):
    responses = [
        search(client),  # no credentials
        search(client, headers={"Authorization": "Bearer nope", "brightpearl-app-ref": "acme-sync"}),
        search(client, account_code="globex", **world.issued.headers()),
        client.get(api_url("acme", "product-service/product/oops"), **world.issued.headers()),
    ]

    assert [r.status_code for r in responses] == [401, 401, 403, 400]
    for response in responses:
        assert_throttle_headers(response)
        assert set(response.json()) == ({"response"} if response.status_code == 401 else {"errors"})


# --- Authentication and account scoping ---------------------------------------------------------------

def test_a_token_of_account_a_on_account_bs_api_is_refused_and_nothing_runs(client, world):
    # given a product in globex
    seed_rows(world.other_account, products=1)
    theirs = Product.objects.get(account=world.other_account)

    # when acme's token writes to globex's API
    response = put_json(client, api_url("globex", f"product-service/product/{theirs.pk}"), {"name": "Hijacked"},
                        **world.issued.headers())

    # then
    assert response.status_code == 403
    assert code_of(response) == "ACCOUNT_MISMATCH"
    theirs.refresh_from_db()
    assert theirs.name != "Hijacked"


@pytest.mark.parametrize("headers, reason", [
    ({"brightpearl-app-ref": "someone-else"}, "brightpearl-app-ref must be"),
    ({"brightpearl-app-ref": ""}, "brightpearl-app-ref must be"),
    ({"brightpearl-dev-ref": "another-dev"}, "brightpearl-dev-ref is not"),
])
def test_app_and_dev_refs_must_match_the_token(client, world, headers, reason):
    sent = world.issued.headers(**headers)

    response = search(client, **sent)

    assert response.status_code == 401
    assert refusal_of(response).startswith(reason)


def test_dev_ref_may_be_left_out(client, world):
    headers = world.issued.headers()
    del headers["headers"]["brightpearl-dev-ref"]

    assert search(client, **headers).status_code == 200


def test_expired_token_gets_the_protocols_exact_body(client, world):
    tokens = AccessToken.objects.filter(installation=world.issued.installation)
    tokens.update(expires=timezone.now() - timedelta(seconds=1))

    response = search(client, **world.issued.headers())

    assert response.status_code == 401
    assert response.json() == {"response": "Authorization token expired"}
    assert_throttle_headers(response)


@pytest.mark.parametrize("authorization", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "Bearer  "])
def test_unknown_or_malformed_tokens_are_401(client, world, authorization):
    response = search(client, headers={"Authorization": authorization, "brightpearl-app-ref": "acme-sync"})

    assert response.status_code == 401
    assert refusal_of(response)


def test_an_unknown_bearer_token_is_named_in_the_401_as_recorded(client, world):
    response = search(client, headers={"Authorization": "Bearer not-a-token", "brightpearl-app-ref": "acme-sync"})

    assert response.status_code == 401
    assert response.json() == {"response": "Invalid instance token: not-a-token"}
    assert "Brightpearl-Installed-Integration-Instance-Id" not in response
    assert response["Message-Type"] == "api-proxy"


def test_no_credentials_is_401(client, world):
    response = search(client)

    assert response.status_code == 401 and "Authentication required" in refusal_of(response)


def test_turning_the_app_off_stops_its_token(client, world):
    # given the owner turns the app off (which revokes the installation's tokens)
    owner = MembershipFactory(account=world.account).user
    assert search(client, **world.issued.headers()).status_code == 200
    installations.installation_turn_off(installation=world.issued.installation, actor=owner)

    # when
    response = search(client, **world.issued.headers())

    # then
    assert response.status_code == 401


def test_a_disabled_installation_is_refused_even_with_a_live_token(client, world):
    world.issued.installation.is_enabled = False
    world.issued.installation.save(update_fields=["is_enabled"])

    response = search(client, **world.issued.headers())

    assert response.status_code == 401 and "turned off" in refusal_of(response)


def test_a_suspended_apps_token_is_refused(client, world):
    world.app.suspended_at = timezone.now()
    world.app.save(update_fields=["suspended_at"])

    response = search(client, **world.issued.headers())

    assert response.status_code == 401 and "suspended" in refusal_of(response)


def test_staff_token_works_on_its_own_account_and_is_marked_used(client, world):
    # given
    staff = make_staff_token(world.account)
    seed_rows(world.account, products=2)

    # when
    response = search(client, **staff.headers())

    # then
    assert response.status_code == 200
    assert response.json()["response"]["metaData"]["resultsAvailable"] == 2
    assert StaffToken.objects.get(pk=staff.token.pk).last_used_at is not None
    assert response["RateLimit-Limit"] == str(platform_settings().staff_token_limit)


def test_a_staff_token_of_another_account_is_refused(client, world):
    staff = make_staff_token(world.other_account)
    seed_rows(world.other_account, products=1)
    theirs = Product.objects.get(account=world.other_account)

    response = put_json(client, api_url("acme", f"product-service/product/{theirs.pk}"), {"name": "x"},
                        **staff.headers())

    assert response.status_code == 403 and code_of(response) == "ACCOUNT_MISMATCH"


@pytest.mark.parametrize("change", ["revoked", "expired", "wrong_secret", "wrong_app_ref"])
def test_unusable_staff_tokens_are_401(client, world, change):
    staff = make_staff_token(world.account)
    headers = staff.headers()
    if change == "revoked":
        StaffToken.objects.filter(pk=staff.token.pk).update(revoked_at=timezone.now())
    elif change == "expired":
        StaffToken.objects.filter(pk=staff.token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    elif change == "wrong_secret":
        headers["headers"]["brightpearl-staff-token"] = "pst_wrong"
    else:
        headers["headers"]["brightpearl-app-ref"] = "acme_other"

    response = search(client, **headers)

    assert response.status_code == 401 and "staff token" in refusal_of(response)


# --- Throttling ---------------------------------------------------------------------------------------

def test_the_call_over_the_limit_is_503_and_not_executed(client, world):
    # given a limit of 5 calls per window, used up
    set_default_limit(5)
    seed_rows(world.account, products=1)
    product = Product.objects.get(account=world.account)
    for _ in range(5):
        assert search(client, **world.issued.headers()).status_code == 200

    # when the 6th call is a PUT
    response = put_json(client, api_url("acme", f"product-service/product/{product.pk}"), {"name": "Changed"},
                        **world.issued.headers())

    # then it is refused, says when to retry, and changed nothing
    assert response.status_code == 503
    assert code_of(response) == "TOO_MANY_REQUESTS"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["brightpearl-requests-remaining"] == "0" and response["RateLimit-Limit"] == "5"
    assert 0 < int(response["brightpearl-next-throttle-period"]) <= 60_000
    product.refresh_from_db()
    assert product.name != "Changed"


def test_throttle_status_can_be_429(client, world, settings):
    settings.PORTAL = {**settings.PORTAL, "THROTTLE_STATUS": 429}
    set_default_limit(1)

    first, second = search(client, **world.issued.headers()), search(client, **world.issued.headers())

    assert (first.status_code, second.status_code) == (200, 429)
    assert code_of(second) == "TOO_MANY_REQUESTS" and "Retry-After" in second


def test_requests_that_fail_authentication_never_use_the_pool_they_name(client, world):
    # given a limit of 5 and five calls with a bogus token naming the app's installation in acme
    set_default_limit(5)
    bogus = {"headers": {"Authorization": "Bearer stolen-or-guessed", "brightpearl-app-ref": "acme-sync"}}
    assert [search(client, **bogus).status_code for _ in range(5)] == [401] * 5

    # when the real token calls
    response = search(client, **world.issued.headers())

    # then its pool is untouched
    assert response.status_code == 200
    assert response["brightpearl-requests-remaining"] == "4"


def test_failed_authentication_has_its_own_limited_pool_with_headers(client, world, settings):
    # given a failed-authentication limit of 3
    settings.PORTAL = {**settings.PORTAL, "FAILED_AUTH_LIMIT": 3}
    bogus = {"headers": {"Authorization": "Bearer stolen-or-guessed", "brightpearl-app-ref": "acme-sync"}}

    # when four bogus calls come from one address
    responses = [search(client, **bogus) for _ in range(4)]

    # then three are refused as unauthorised, the fourth is throttled, all with the throttle headers
    assert [r.status_code for r in responses] == [401, 401, 401, 503]
    assert code_of(responses[3]) == "TOO_MANY_REQUESTS" and "Retry-After" in responses[3]
    assert [r["RateLimit-Limit"] for r in responses] == ["3"] * 4
    for response in responses:
        assert_throttle_headers(response)
    # and another client address, or another app reference, has a pool of its own
    assert search(client, REMOTE_ADDR="10.9.8.7", **bogus).status_code == 401
    other_ref = {"headers": {**bogus["headers"], "brightpearl-app-ref": "other-app"}}
    assert search(client, **other_ref).status_code == 401


def test_failed_staff_requests_never_use_the_accounts_staff_pool(client, world):
    # given a staff limit of 3 and more wrong secrets than that naming acme's private app
    row = platform_settings()
    row.staff_token_limit = 3
    row.save(update_fields=["staff_token_limit"])
    staff = make_staff_token(world.account)
    other_staff = make_staff_token(world.account, suffix="reports")
    wrong = {"headers": {"brightpearl-app-ref": staff.app_ref, "brightpearl-staff-token": "pst_wrong"}}
    assert [search(client, **wrong).status_code for _ in range(5)] == [401] * 5

    # when the staff tokens of acme call, the shared pool is whole
    first = search(client, **staff.headers())
    assert first.status_code == 200 and first["brightpearl-requests-remaining"] == "2"
    assert search(client, **other_staff.headers()).status_code == 200


def test_ten_thousand_bogus_requests_leave_the_real_tokens_pool_whole(client, world, settings):
    # given 10,000 requests naming acme's installation (bogus bearer tokens, a malformed Authorization, no
    # credentials at all), and 1,000 naming acme's private app with a wrong staff secret
    staff = make_staff_token(world.account)
    bogus = [
        {"HTTP_AUTHORIZATION": "Bearer guessed", "HTTP_BRIGHTPEARL_APP_REF": "acme-sync"},
        {"HTTP_AUTHORIZATION": "Basic Z3Vlc3M=", "HTTP_BRIGHTPEARL_APP_REF": "acme-sync"},
        {"HTTP_BRIGHTPEARL_APP_REF": "acme-sync"},
    ]
    wrong_staff = {"HTTP_BRIGHTPEARL_APP_REF": staff.app_ref, "HTTP_BRIGHTPEARL_STAFF_TOKEN": "pst_wrong"}
    url = api_url("acme", SEARCH)
    statuses = [client.get(url, **bogus[n % 3]).status_code for n in range(10_000)]
    statuses += [client.get(url, **wrong_staff).status_code for _ in range(1_000)]
    # (two pools: the app reference's and the private app's, each from this one address)
    assert statuses.count(401) == 2 * integrations_settings.FAILED_AUTH_LIMIT
    assert statuses.count(503) == 11_000 - statuses.count(401)

    # when the real token makes its full limit of calls, and the staff token one call
    limit = platform_settings().default_instance_limit
    real = [search(client, **world.issued.headers()) for _ in range(limit)]
    staff_call = search(client, **staff.headers())

    # then every one is served, counting down from the full limit, and nothing is throttled
    assert [r.status_code for r in real] == [200] * limit
    assert [int(r["brightpearl-requests-remaining"]) for r in real] == list(range(limit - 1, -1, -1))
    assert staff_call.status_code == 200
    assert int(staff_call["brightpearl-requests-remaining"]) == platform_settings().staff_token_limit - 1
    # and the installation's usage counts its own calls, with the failed ones apart
    now = usage.minute_of(timezone.now())
    counts = usage.read_minutes([world.issued.installation.pk], now - 5, now + 1)
    assert sum(c.calls for c in counts) == limit and sum(c.throttled for c in counts) == 0
    assert sum(c.failed for c in counts) == 10_000


def test_each_installation_has_its_own_pool(client, world):
    set_default_limit(2)
    other_app = AppFactory(user=DeveloperFactory().user, client_id="other-sync")
    other = issue_token(other_app, world.account)

    for _ in range(2):
        search(client, **world.issued.headers())

    assert search(client, **world.issued.headers()).status_code == 503
    assert search(client, **other.headers()).status_code == 200


def _grant(app, *, limit, until=None, account=None):
    developer = app.user
    return RateLimitIncreaseRequest.objects.create(
        app=app, account=account, use_case="Nightly sync", calls_per_period=1000, processing_time="1 hour",
        optimisations="Batching", requested_limit=limit, submitted_by=developer,
        status=RateLimitIncreaseRequest.Status.APPROVED, granted_limit=limit, granted_until=until,
        reviewer=make_reviewer(), decided_at=timezone.now(),
    )


def test_a_raised_limit_applies_at_the_next_request_and_an_ended_one_falls_back(client, world):
    # given the default of 5 is used up
    set_default_limit(5)
    for _ in range(5):
        search(client, **world.issued.headers())
    assert search(client, **world.issued.headers()).status_code == 503

    # when a reviewer grants 8 calls per minute for a week
    grant = _grant(world.app, limit=8, until=timezone.now() + timedelta(days=7))
    raised = search(client, **world.issued.headers())

    # then the next call is admitted under the new limit
    assert raised.status_code == 200
    assert raised["RateLimit-Limit"] == "8" and raised["brightpearl-requests-remaining"] == "2"

    # when the grant has ended, the default applies again
    grant.granted_until = timezone.now() - timedelta(seconds=1)
    grant.save(update_fields=["granted_until"])
    fallen = search(client, **world.issued.headers())
    assert fallen.status_code == 503 and fallen["RateLimit-Limit"] == "5"


def test_a_grant_for_another_account_does_not_apply(client, world):
    set_default_limit(1)
    _grant(world.app, limit=50, account=world.other_account)

    search(client, **world.issued.headers())

    assert search(client, **world.issued.headers()).status_code == 503


def test_concurrent_callers_never_get_more_than_the_limit(world, live_server):
    # given a limit of 10 and 30 simultaneous calls from 10 threads
    set_default_limit(10)
    url = f"{live_server.url}{api_url('acme', SEARCH)}"
    statuses, lock = [], threading.Lock()

    def call():
        with requests.Session() as session:
            for _ in range(3):
                status = session.get(url, headers=world.issued.headers()["headers"], timeout=10).status_code
                with lock:
                    statuses.append(status)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly 10 were admitted
    assert sorted(statuses) == [200] * 10 + [503] * 20


# --- Usage counters -----------------------------------------------------------------------------------

def test_calls_and_refusals_are_counted_per_installation_and_minute(client, world):
    # given
    set_default_limit(3)
    before = usage.minute_of(timezone.now())

    # when 3 calls are admitted and 2 refused
    for _ in range(5):
        search(client, **world.issued.headers())

    # then
    counts = usage.read_minutes([world.issued.installation.pk], before, usage.minute_of(timezone.now()) + 1)
    assert sum(c.calls for c in counts) == 3 and sum(c.throttled for c in counts) == 2
    assert all(c.installation_id == world.issued.installation.pk for c in counts)
    last = usage.read_last_calls([world.issued.installation.pk])[world.issued.installation.pk]
    assert abs((timezone.now() - last).total_seconds()) < 5


def test_usage_counters_expire(client, world, fresh_pools):
    search(client, **world.issued.headers())

    keys = list(fresh_pools.scan_iter(match=f"usage:{{{world.issued.installation.pk}}}:*"))

    assert len(keys) == 1
    assert 0 < fresh_pools.ttl(keys[0]) <= usage.COUNTER_TTL_SECONDS


# --- When Redis is down -------------------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_down(settings, monkeypatch):
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    monkeypatch.setattr(gateway, "_last_limiter_error_at", 0.0)


def test_fail_open_admits_and_logs_an_error(client, world, redis_down, caplog):
    # given Redis cannot be reached and the default policy
    seed_rows(world.account, products=1)

    # when
    with caplog.at_level(logging.ERROR, logger="integrations.gateway"):
        responses = [search(client, **world.issued.headers()) for _ in range(3)]

    # then the calls are served, with headers, and the failure is logged once, loudly
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert_throttle_headers(responses[0])
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1 and "rate limiter unreachable" in errors[0].getMessage()


def test_fail_open_still_refuses_bad_credentials(client, world, redis_down):
    bogus = {"Authorization": "Bearer nope", "brightpearl-app-ref": "acme-sync"}

    assert search(client, headers=bogus).status_code == 401


def test_fail_closed_answers_503_without_running_the_view(client, world, redis_down, settings):
    # given
    settings.PORTAL = {**settings.PORTAL, "LIMITER_FAIL_OPEN": False}
    seed_rows(world.account, products=1)
    product = Product.objects.get(account=world.account)

    # when
    response = put_json(client, api_url("acme", f"product-service/product/{product.pk}"), {"name": "Changed"},
                        **world.issued.headers())

    # then
    assert response.status_code == 503
    assert code_of(response) == "SERVICE_UNAVAILABLE" and response["Retry-After"] == "1"
    product.refresh_from_db()
    assert product.name != "Changed"


# --- Cost on the hot path -----------------------------------------------------------------------------

def test_an_api_call_costs_a_fixed_number_of_queries(client, world, django_assert_num_queries):
    # given
    seed_rows(world.account, products=50)
    search(client, **world.issued.headers())

    # then: token (with installation, app, developer, account, and the limit: settings + best grant), count, page
    with django_assert_num_queries(3):
        response = search(client, **world.issued.headers())
    assert response.status_code == 200


def test_gateway_overhead_is_small(client, world):
    # given: an endpoint that does nothing but go through the gateway (a JSON 404)
    import time

    url = api_url("acme", "nothing-service/nothing")
    headers = world.issued.headers()
    client.get(url, **headers)
    set_default_limit(10_000)

    # when
    started = time.perf_counter()
    for _ in range(200):
        assert client.get(url, **headers).status_code == 404
    mean_ms = (time.perf_counter() - started) / 200 * 1000

    # then (Django's test client included; measured around 3 ms on a laptop-class machine)
    assert mean_ms < 25, f"{mean_ms:.1f} ms per call"


def test_the_callers_objects_load_every_field_on_access(world):
    # given the gateway's lean token lookup
    token = gateway.bearer_token(world.issued.token)

    # then the installation, app and account behave like full rows
    installation = token.installation
    assert installation.pk == world.issued.installation.pk and installation.is_enabled is True
    assert installation.account.name == world.account.name
    assert installation.app.name == world.app.name and installation.app.suspended_at is None
    assert installation.installed_at == world.issued.installation.installed_at
    assert token.dev_ref == "dev-acme-tools" and token.app_is_suspended is False
    assert gateway.bearer_token("not-a-token") is None
