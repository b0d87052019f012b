"""The optimisation report (one finding per usage pattern, none for a well-behaved app) and the what-if
replay, which must equal a plain event-by-event replay of the limiter's sliding log."""

import json
from collections import deque
from datetime import datetime, timezone as dt_timezone
from fractions import Fraction

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings, strategies as st

from portal import limits
from portal.minutes import minute_of, minute_start
from portal.models import Installation, RateLimitIncreaseRequest, UsageMinute
from portal.optimisation import (
    PeriodError,
    candidate_limits,
    limit_request_evidence,
    optimisation_report,
    replay,
    what_if,
)
from tests.factories import AccountFactory, AppFactory, DeveloperFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 0, 30, tzinfo=dt_timezone.utc)
SINGLE = "GET product-service/product single"
IDSET = "GET product-service/product idset"
SEARCH = "GET order-service/order-search search"


@pytest.fixture
def world():
    developer = DeveloperFactory(partner=True).user
    app = AppFactory(user=developer)
    first, second = AccountFactory(code="outerheaven"), AccountFactory(code="topfurniture")
    return {"developer": developer, "app": app,
            "first": Installation.objects.create(app=app, account=first),
            "second": Installation.objects.create(app=app, account=second)}


def minutes_ago(n: int) -> datetime:
    return minute_start(minute_of(NOW) - n)


def usage(installation, ago: int, **figures) -> UsageMinute:
    return UsageMinute.objects.create(installation=installation, minute=minutes_ago(ago), **figures)


def report(world, account=None, days=1):
    return optimisation_report(app=world["app"], account=account, days=days, now=NOW)


def codes(result) -> list[str]:
    return [finding.code for finding in result.findings]


def well_behaved(installation, minutes=60):
    """ID-set reads, an updatedOn search each minute, no errors, well under the limit."""
    for ago in range(minutes):
        usage(installation, ago, calls=12, status_4xx=0, endpoints={IDSET: 10, SEARCH: 2})


# --- Findings ------------------------------------------------------------------------------------------

def test_a_well_behaved_app_gets_no_findings(world):
    # given an hour of batched reads and filtered searches
    well_behaved(world["first"])
    # when the report is made
    result = report(world)
    # then it has figures and nothing to fix
    assert result.findings == []
    assert result.totals["requests"] == 720 and result.totals["status_2xx"] == 720
    assert result.endpoints[0]["endpoint"] == IDSET and result.endpoints[0]["requests"] == 600


def test_single_id_reads_in_a_loop_are_batched_at_the_id_set_size(world):
    # given two minutes of single-ID product reads (450 and 150) and one minute of a single read
    usage(world["first"], 2, calls=200, throttled=250, endpoints={SINGLE: 450})
    usage(world["first"], 1, calls=150, endpoints={SINGLE: 150})
    usage(world["first"], 0, calls=1, endpoints={SINGLE: 1})
    # when the report is made
    finding = next(f for f in report(world).findings if f.code == "batch_single_id_reads")
    # then 450 reads would have been 3 ID-set GETs and 150 one: 596 saved over 3 active minutes
    assert finding.evidence["single_id_reads"] == 600 and finding.evidence["calls_if_batched"] == 4
    assert finding.evidence["calls_saved"] == 596 and finding.evidence["id_set_size"] == 200
    assert finding.calls_saved_per_minute == round(596 / 3, 1)
    assert finding.evidence["by_endpoint"][0]["endpoint"] == "GET product-service/product"
    assert finding.evidence["by_endpoint"][0]["most_in_one_minute"] == 450
    assert "ID set" in finding.title and "ID set" in finding.advice


def test_repeated_searches_suggest_updated_on_or_webhooks(world):
    usage(world["first"], 0, calls=31, endpoints={SEARCH: 31}, repeated_searches={SEARCH: 30})
    usage(world["first"], 1, calls=31, endpoints={SEARCH: 31}, repeated_searches={SEARCH: 30})
    finding = report(world).findings[0]
    assert finding.code == "repeated_search" and finding.calls_saved_per_minute == 30.0
    assert "updatedOn" in finding.advice and "webhooks" in finding.advice
    assert finding.evidence == {"repeated_searches": 60, "by_endpoint": [{"endpoint": SEARCH, "repeated": 60}]}
    assert report(world).endpoints[0]["repeated_searches"] == 60


def test_calls_inside_a_retry_after_wait(world):
    usage(world["first"], 0, calls=200, throttled=80, in_retry_wait=80, endpoints={IDSET: 280})
    result = report(world)
    assert "calls_during_retry_after" in codes(result)
    finding = next(f for f in result.findings if f.code == "calls_during_retry_after")
    assert finding.calls_saved_per_minute == 80.0 and finding.evidence["requests_in_wait"] == 80
    assert "Retry-After" in finding.advice


def test_calls_with_expired_tokens(world):
    # given calls with an expired token, refused with 401 (counted among the 4xx)
    usage(world["first"], 0, calls=100, status_4xx=10, expired_token=10, endpoints={IDSET: 100})
    result = report(world)
    # then the expired-token finding, and no error-rate finding for the same refusals
    assert codes(result) == ["expired_token_calls"]
    assert result.findings[0].evidence == {"requests": 10, "minutes": 1}
    assert result.totals["error_rate"] == 0.1


def test_a_notable_error_rate(world):
    usage(world["first"], 0, calls=100, status_4xx=8, status_5xx=2, endpoints={IDSET: 100})
    result = report(world)
    assert codes(result) == ["error_rate"]
    finding = result.findings[0]
    assert finding.evidence["error_rate"] == 0.1 and finding.calls_saved_per_minute == 8.0
    assert result.totals["status_2xx"] == 90


def test_a_few_errors_are_not_a_finding(world):
    usage(world["first"], 0, calls=100, status_4xx=4, endpoints={IDSET: 100})
    assert report(world).findings == []


def test_bursts_at_the_limit_with_a_low_mean(world):
    # given one minute at the limit (250 requests, 50 throttled) in an otherwise quiet hour
    usage(world["first"], 30, calls=200, throttled=50, endpoints={IDSET: 250})
    for ago in range(30):
        usage(world["first"], ago, calls=5, endpoints={IDSET: 5})
    result = report(world)
    assert codes(result) == ["bursty_traffic"]
    evidence = result.findings[0].evidence["installations"][0]
    assert evidence["account"] == "outerheaven" and evidence["minutes_at_limit"] == 1 and evidence["throttled"] == 50
    # and the busiest minute is that one, against the limit then
    busiest = result.busiest_minutes[0]
    assert busiest["requests"] == 250 and busiest["limit"] == 200 and busiest["share_of_limit"] == 1.25
    assert len(result.busiest_minutes) == 5
    assert result.peak_to_mean == round(250 / (400 / 31), 1)


def test_sustained_demand_at_the_limit_is_not_bursty(world):
    for ago in range(60):
        usage(world["first"], ago, calls=200, throttled=20, endpoints={IDSET: 220})
    assert "bursty_traffic" not in codes(report(world))


def test_busiest_minutes_use_the_limit_in_force_then(world):
    # given a grant of 400 decided 10 minutes ago, and 300 requests before and after it
    grant = RateLimitIncreaseRequest.objects.create(
        app=world["app"], use_case="x", calls_per_period=1, processing_time="x", optimisations="x",
        requested_limit=400, submitted_by=world["developer"], status="approved", granted_limit=400,
        decided_at=minutes_ago(10))
    usage(world["first"], 20, calls=200, throttled=100)
    usage(world["first"], 5, calls=300)
    # when the report is made now (the grant is active)
    result = optimisation_report(app=world["app"], account=world["first"].account, days=1, now=NOW)
    # then each busy minute is compared with its own limit
    by_limit = {row["limit"]: row["requests"] for row in result.busiest_minutes}
    assert by_limit == {200: 300, 400: 300}
    assert result.limits == [{"account": "outerheaven", "per_minute": 400, "is_default": False,
                              "granted_until": None}]
    assert grant.pk


def test_the_account_scope_and_the_whole_app(world):
    usage(world["first"], 0, calls=10, endpoints={IDSET: 10})
    usage(world["second"], 0, calls=20, expired_token=3, status_4xx=3, endpoints={IDSET: 20})
    whole = report(world)
    one = report(world, account=world["first"].account)
    assert whole.totals["requests"] == 30 and [row["account"] for row in whole.limits] == ["outerheaven",
                                                                                           "topfurniture"]
    assert one.totals["requests"] == 10 and one.account == "outerheaven" and one.findings == []
    assert codes(whole) == ["expired_token_calls"]


def test_the_period_is_1_7_or_14_days(world):
    usage(world["first"], 3 * 1440, calls=10)
    usage(world["first"], 10 * 1440, calls=20)
    assert report(world, days=1).totals["requests"] == 0
    assert report(world, days=7).totals["requests"] == 10
    assert report(world, days=14).totals["requests"] == 30
    with pytest.raises(PeriodError):
        report(world, days=3)


def test_the_dict_is_json_with_a_stable_shape(world):
    usage(world["first"], 0, calls=450, throttled=0, endpoints={SINGLE: 450})
    shape = report(world).as_dict()
    assert json.loads(json.dumps(shape)) == shape
    assert set(shape) == {"app_ref", "account", "period", "limits", "totals", "endpoints", "busiest_minutes",
                          "peak_requests_per_minute", "mean_requests_per_minute", "peak_to_mean", "findings"}
    assert set(shape["findings"][0]) == {"code", "title", "advice", "calls_saved_per_minute", "evidence"}
    assert shape["period"] == {"days": 1, "start": "2026-03-09T12:01:00Z", "end": "2026-03-10T12:01:00Z",
                               "minutes": 1440}
    assert shape["endpoints"][0] == {"endpoint": SINGLE, "method": "GET", "resource": "product-service/product",
                                     "kind": "single", "requests": 450, "share": 1.0, "repeated_searches": 0}


def test_the_report_costs_a_fixed_number_of_queries(world):
    for installation in (world["first"], world["second"]):
        for ago in range(30):
            usage(installation, ago, calls=3, endpoints={IDSET: 3})
    with CaptureQueriesContext(connection) as queries:
        report(world)
    few = len(queries)
    for _ in range(5):
        installation = Installation.objects.create(app=world["app"], account=AccountFactory())
        usage(installation, 0, calls=1)
    with CaptureQueriesContext(connection) as queries:
        report(world)
    assert len(queries) == few <= 7


def test_an_app_without_usage(world):
    result = report(world)
    assert result.findings == [] and result.totals["requests"] == 0 and result.peak_to_mean is None
    assert result.busiest_minutes == []


def test_an_account_without_an_installation_has_an_empty_report(world):
    elsewhere = AccountFactory(code="elsewhere")
    result = report(world, account=elsewhere)
    assert result.limits == [] and result.totals["requests"] == 0 and result.findings == []
    scenario = what_if(app=world["app"], account=elsewhere, days=1, limits=[400], now=NOW)
    assert scenario.current.throttled == 0 and scenario.rows[0].throttled == 0


# --- What-if -------------------------------------------------------------------------------------------

def naive_throttled(demand: dict[int, int], limit: int) -> int:
    """Every request one by one: request i of a minute's n at 60 * i / n seconds into it (exact fractions),
    admitted when fewer than ``limit`` admits are in the 60 seconds up to it (older ones fall out), as the
    limiter's Lua script does."""
    admits: deque = deque()
    throttled = 0
    for minute in sorted(demand):
        n = demand[minute]
        for i in range(n):
            t = Fraction(60 * minute) + Fraction(60 * i, n)
            while admits and admits[0] <= t - 60:
                admits.popleft()
            if len(admits) < limit:
                admits.append(t)
            else:
                throttled += 1
    return throttled


demand_strategy = st.lists(st.tuples(st.integers(1, 3), st.integers(0, 40)), max_size=25)


def as_series(steps) -> list[tuple[int, int]]:
    minute, series = 1000, []
    for gap, requests in steps:
        minute += gap
        series.append((minute, requests))
    return series


@settings(max_examples=400, deadline=None)
@given(steps=demand_strategy, limit=st.integers(1, 30))
def test_replay_equals_a_naive_sliding_log(steps, limit):
    series = as_series(steps)
    throttled, minutes = replay(series, limit)
    assert throttled == naive_throttled(dict(series), limit)
    assert minutes <= sum(1 for _, requests in series if requests)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(st.just(1), st.integers(0, 300)), max_size=12), limit=st.integers(50, 250))
def test_replay_equals_a_naive_sliding_log_near_real_limits(steps, limit):
    series = as_series(steps)
    assert replay(series, limit)[0] == naive_throttled(dict(series), limit)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(1, 2), st.integers(0, 12)), max_size=15),
       limit=st.integers(1, 10), extra=st.integers(0, 8))
def test_what_if_equals_a_naive_replay_of_the_rows(world, steps, limit, extra):
    # given rows of per-minute demand (calls + throttled) and a current limit of `limit` calls a minute
    UsageMinute.objects.all().delete()
    demand, ago = {}, 30
    for gap, requests in steps:
        ago -= gap
        calls = requests // 2
        usage(world["first"], ago, calls=calls, throttled=requests - calls)
        demand[minute_of(minutes_ago(ago))] = requests
    limits.PlatformSettings.objects.update_or_create(pk=1, defaults={"default_instance_limit": limit})
    # when the what-if replays them at the current limit and at a higher one
    result = what_if(app=world["app"], account=world["first"].account, days=1, limits=[limit + extra], now=NOW)
    # then both equal the naive replay of the same demand
    assert result.current.limit == limit
    assert result.current.throttled == naive_throttled(demand, limit)
    assert result.rows[0].throttled == naive_throttled(demand, limit + extra)
    assert result.recorded_throttled == sum(requests - requests // 2 for _, requests in steps)


def test_replay_shortcuts_whole_stretches_under_the_limit():
    # 14 days at exactly the limit, evenly spread: each request sees the previous minute's later ones only
    series = [(minute, 200) for minute in range(20160)]
    assert replay(series, 200) == (0, 0)
    # a steady overload replays once and repeats from the memo
    assert replay([(minute, 300) for minute in range(20160)], 200) == (20160 * 100, 20160)


def test_what_if_sentence_figures(world):
    for ago in range(10):
        usage(world["first"], ago, calls=200, throttled=100)
    result = what_if(app=world["app"], days=1, limits=[300, 250], now=NOW)
    assert result.current.limit == 200 and result.recorded_throttled == 1000
    assert result.current.throttled == 1000
    assert [(row.limit, row.throttled) for row in result.rows] == [(250, 500), (300, 0)]
    assert result.peak_requests_per_minute == 300
    assert "evenly spread" in result.as_dict()["approximation"]


def test_candidate_limits():
    assert candidate_limits(current=200, peak=450, asked=600) == [300, 400, 450, 600, 1000]
    assert candidate_limits(current=200, peak=100) == [300, 400, 600, 1000]


def test_limit_request_evidence_is_json(world):
    usage(world["first"], 0, calls=450, endpoints={SINGLE: 450})
    evidence = limit_request_evidence(app=world["app"], account=None, requested_limit=600, now=NOW)
    assert json.loads(json.dumps(evidence)) == evidence
    assert evidence["report"]["findings"][0]["code"] == "batch_single_id_reads"
    assert evidence["what_if"]["rows"] == [{"limit": 600, "throttled": 0, "minutes_throttled": 0}]
    assert evidence["report"]["period"]["days"] == 14
