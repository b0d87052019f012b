"""The conformance report: each check passes and fails on the right evidence, says so in figures and a sentence,
and has no verdict (null) without evidence."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal import conformance, hooks
from portal.conformance import conformance_report
from portal.models import RateLimitIncreaseRequest, UsageMinute
from tests.factories import make_reviewer
from tests.portal.conformance_support import NOW, callback, exchange, turn_off, turned, usage, well_behaved, world

pytestmark = pytest.mark.django_db

AT = NOW + timedelta(minutes=1)  # the report's "now": every usage row of the tests is before it


def report(w, **kwargs) -> dict:
    return conformance_report(app=w.app, now=AT, **kwargs).as_dict()


def check(w, code: str) -> dict:
    return next(c for c in report(w)["checks"] if c["code"] == code)


def test_a_well_behaved_app_passes_every_check():
    # given an app that behaved in both of its early-access accounts
    w = world()
    well_behaved(w)
    # when its report is made
    result = report(w)
    # then every check passed (webhooks have no verdict: it is not a managed-sync app), nothing to fix
    verdicts = {c["code"]: c["passed"] for c in result["checks"]}
    assert verdicts == {"oauth_exchange": True, "refresh_before_expiry": True, "honours_retry_after": True,
                        "success_rate": True, "callbacks_answered": True, "no_calls_after_turn_off": True,
                        "webhooks_answered": None, "within_limit": True}
    assert all(c["fix"] is None for c in result["checks"])
    assert result["counts"] == {"passed": 7, "failed": 0, "no_evidence": 1}
    assert result["accounts"] == sorted(a.code for a in w.accounts)


def test_the_shape_is_stable_and_the_checks_come_in_a_fixed_order():
    w = world()
    result = report(w)
    assert list(result) == ["app_ref", "accounts", "period", "counts", "checks"]
    assert result["period"] == {"since": (AT - timedelta(days=14)).isoformat(), "until": AT.isoformat(), "days": 14}
    assert [c["code"] for c in result["checks"]] == list(conformance.CODES) == [
        "oauth_exchange", "refresh_before_expiry", "honours_retry_after", "success_rate", "callbacks_answered",
        "no_calls_after_turn_off", "webhooks_answered", "within_limit"]
    for c in result["checks"]:
        assert list(c) == ["code", "title", "passed", "evidence", "fix"]
        assert list(c["evidence"]) == ["summary", "figures"]


def test_without_early_access_accounts_there_is_no_evidence():
    w = world(accounts=0)
    result = report(w)
    assert result["accounts"] == []
    assert {c["passed"] for c in result["checks"]} == {None}
    assert "no early-access accounts" in result["checks"][0]["evidence"]["summary"]


def test_early_access_accounts_that_never_turned_the_app_on_give_no_evidence():
    w = world(installed=0)
    result = report(w)
    assert {c["passed"] for c in result["checks"]} == {None}
    assert "turned the app on" in result["checks"][0]["evidence"]["summary"]


def test_an_installed_app_with_no_traffic_has_no_usage_verdicts():
    # given an installation that never called the API
    w = world(accounts=1)
    result = {c["code"]: c for c in report(w)["checks"]}
    # then the usage checks have no verdict, with a sentence that says why
    for code in ("refresh_before_expiry", "honours_retry_after", "success_rate", "no_calls_after_turn_off",
                 "within_limit"):
        assert result[code]["passed"] is None, code
        assert result[code]["fix"] is None
    assert result["refresh_before_expiry"]["evidence"]["summary"] == "No API requests in this period."
    # but never exchanging a code is evidence: it was turned on and never got tokens
    assert result["oauth_exchange"]["passed"] is False
    assert "exchange" in result["oauth_exchange"]["fix"]


def test_calls_with_expired_tokens_fail_refresh_before_expiry():
    w = world(accounts=1)
    usage(w.installations[0], 5, calls=40, expired_token=3, status_4xx=3)
    usage(w.installations[0], 6, calls=10)
    result = check(w, "refresh_before_expiry")
    assert result["passed"] is False
    assert result["evidence"]["figures"] == {"requests": 50, "expired_token_requests": 3}
    assert result["evidence"]["summary"] == "3 requests of 50 carried an access token that had already expired."
    assert "refresh token" in result["fix"]


def test_calls_inside_a_retry_after_wait_fail_honours_retry_after():
    w = world(accounts=1)
    usage(w.installations[0], 5, calls=200, throttled=30, in_retry_wait=12)
    result = check(w, "honours_retry_after")
    assert result["passed"] is False
    assert result["evidence"]["figures"] == {"throttled": 30, "requests_in_retry_wait": 12}
    assert "12 requests were sent before a Retry-After" in result["evidence"]["summary"]
    assert "Retry-After" in result["fix"]


def test_an_app_never_throttled_has_no_retry_after_verdict_and_one_that_waited_passes():
    w = world(accounts=1)
    usage(w.installations[0], 5, calls=100)
    assert check(w, "honours_retry_after")["passed"] is None
    usage(w.installations[0], 6, calls=200, throttled=4)
    assert check(w, "honours_retry_after")["passed"] is True


@pytest.mark.parametrize("errors_4xx,errors_5xx,passed", [(0, 0, True), (3, 2, True), (4, 2, False), (0, 6, False)])
def test_success_rate_needs_95_percent_of_admitted_calls_answered_2xx(errors_4xx, errors_5xx, passed):
    # given 100 admitted calls with some errors (refused and failed-authentication requests are not admitted)
    w = world(accounts=1)
    usage(w.installations[0], 5, calls=100, status_4xx=errors_4xx, status_5xx=errors_5xx, failed=50)
    result = check(w, "success_rate")
    assert result["passed"] is passed
    ok = 100 - errors_4xx - errors_5xx
    assert result["evidence"]["figures"] == {"calls": 100, "status_2xx": ok, "status_4xx": errors_4xx,
                                             "status_5xx": errors_5xx, "success_rate": ok / 100}
    assert result["evidence"]["summary"].startswith(f"{ok / 100:.1%} of 100 admitted calls were answered 2xx")
    assert (result["fix"] is None) is passed


def test_requests_while_turned_off_fail_and_the_turn_off_minute_is_forgiven():
    # given an account that turned the app off at 10:00:30 an hour ago
    w = world(accounts=1)
    installation = w.installations[0]
    off_at = NOW - timedelta(minutes=60, seconds=-30)
    usage(installation, 61, calls=30)
    usage(installation, 60, calls=5, failed=2)  # the minute of the turn-off: may have been in flight
    usage(installation, 59, failed=2)  # within the grace
    turn_off(installation, off_at)
    assert check(w, "no_calls_after_turn_off")["passed"] is True
    # when the app keeps calling with its revoked token later
    usage(installation, 40, failed=7)
    # then the check fails, counting only those
    result = check(w, "no_calls_after_turn_off")
    assert result["passed"] is False
    assert result["evidence"]["figures"] == {"turn_offs": 1, "requests_while_off": 7}
    assert "uninstall callback" in result["fix"]


def test_an_earlier_stretch_turned_off_counts_from_the_audit_log():
    # given an installation turned off and on again (it is on now)
    w = world(accounts=1)
    installation = w.installations[0]
    turned(installation, "off", NOW - timedelta(days=3))
    turned(installation, "on", NOW - timedelta(days=2))
    usage(installation, 60 * 24 * 2 - 5, calls=50)  # after it was turned on again: fine
    assert check(w, "no_calls_after_turn_off")["passed"] is True
    usage(installation, 60 * 24 * 2 + 30, failed=9)  # while it was off
    result = check(w, "no_calls_after_turn_off")
    assert (result["passed"], result["evidence"]["figures"]["requests_while_off"]) == (False, 9)


def test_no_turn_off_means_no_verdict():
    w = world(accounts=1)
    usage(w.installations[0], 5, calls=10)
    result = check(w, "no_calls_after_turn_off")
    assert result["passed"] is None
    assert result["evidence"]["summary"] == "No early-access account turned the app off in this period."


def test_throttled_calls_fail_within_limit_unless_a_grant_now_covers_the_peak():
    # given a minute that asked for 260 calls against the default 200
    w = world(accounts=1)
    usage(w.installations[0], 5, calls=200, throttled=60)
    usage(w.installations[0], 6, calls=150)
    result = check(w, "within_limit")
    assert result["passed"] is False
    assert result["evidence"]["figures"] == {"throttled": 60, "peak_per_minute": 260, "limit_per_minute": 200}
    assert result["evidence"]["summary"] == ("60 calls were throttled; the busiest minute asked for 260 calls "
                                             "against a limit of 200.")
    assert "higher limit" in result["fix"]
    # when a reviewer grants 250: still short of the peak
    grant = RateLimitIncreaseRequest.objects.create(
        app=w.app, use_case="sync", calls_per_period=250, period="minute", processing_time="now",
        optimisations="none", requested_limit=300, submitted_by=w.app.user, status="approved", granted_limit=250,
        decided_at=NOW, reviewer=make_reviewer())
    assert check(w, "within_limit")["passed"] is False
    # and at 300 the app is within an approved grant
    RateLimitIncreaseRequest.objects.filter(pk=grant.pk).update(granted_limit=300)
    result = check(w, "within_limit")
    assert result["passed"] is True
    assert result["evidence"]["figures"]["granted_per_minute"] == 300


def test_never_throttled_is_within_limit():
    w = world(accounts=1)
    usage(w.installations[0], 5, calls=199)
    result = check(w, "within_limit")
    assert result["passed"] is True
    assert result["evidence"]["figures"] == {"throttled": 0, "peak_per_minute": 199, "limit_per_minute": 200}


def test_only_the_period_and_the_early_access_accounts_count():
    # given bad behaviour older than 14 days, and in an account without early access
    w = world(accounts=1)
    usage(w.installations[0], 60 * 24 * 15, calls=100, expired_token=50, in_retry_wait=50, throttled=90)
    from portal.models import Installation
    from tests.factories import AccountFactory

    elsewhere = Installation.objects.create(app=w.app, account=AccountFactory())
    usage(elsewhere, 5, calls=100, expired_token=50, in_retry_wait=5, throttled=90, status_5xx=100)
    usage(w.installations[0], 5, calls=10)
    # then none of it is in the report
    result = {c["code"]: c["passed"] for c in report(w)["checks"]}
    assert result["refresh_before_expiry"] is True and result["within_limit"] is True
    assert result["honours_retry_after"] is None and result["success_rate"] is True
    # and a shorter period looks at less
    assert conformance_report(app=w.app, now=AT, days=1).as_dict()["period"]["days"] == 1


def test_usage_checks_read_usage_in_one_query():
    w = world()
    well_behaved(w)
    with CaptureQueriesContext(connection) as queries:
        conformance_report(app=w.app, now=AT)
    table = UsageMinute._meta.db_table
    assert sum(table in q["sql"] for q in queries.captured_queries) == 1


def test_the_layers_above_answer_their_checks_through_the_hook():
    # given the integrations listener is registered (the app's ready did it)
    w = world(accounts=1)
    exchange(w.installations[0], NOW - timedelta(days=1))
    callback(w.installations[0], statuses=(500, 500, 500))
    result = {c["code"]: c for c in report(w)["checks"]}
    assert result["oauth_exchange"]["passed"] is True
    assert result["callbacks_answered"]["passed"] is False
    assert result["webhooks_answered"]["evidence"]["summary"].startswith("Not a managed-sync app")


def test_an_unknown_code_from_a_listener_is_ignored_and_a_missing_one_has_no_verdict(monkeypatch):
    w = world(accounts=1)
    monkeypatch.setitem(hooks._listeners, hooks.CONFORMANCE_EVIDENCE,
                        [lambda **kw: {"made_up": {"passed": False, "summary": "x", "figures": {}}}])
    result = report(w)
    assert [c["code"] for c in result["checks"]] == list(conformance.CODES)
    by_code = {c["code"]: c for c in result["checks"]}
    assert by_code["callbacks_answered"]["passed"] is None
    assert by_code["callbacks_answered"]["evidence"]["summary"] == "No evidence either way in this period."


def test_display_marks_each_check_and_lists_what_to_fix():
    w = world(accounts=1)
    usage(w.installations[0], 5, calls=100, expired_token=2)
    shown = conformance.display(report(w))
    by_code = shown["by_code"]
    assert (by_code["refresh_before_expiry"]["tone"], by_code["refresh_before_expiry"]["label"]) == (
        "rejected", "Failed")
    assert (by_code["success_rate"]["label"], by_code["webhooks_answered"]["label"]) == ("Passed", "No evidence")
    assert [c["code"] for c in shown["to_fix"]] == ["oauth_exchange", "refresh_before_expiry"]
    assert ("success rate", "100.0%") in by_code["success_rate"]["facts"]
    assert conformance.display(None) is None


def test_each_review_stage_gets_its_checks_and_a_change_since_submission():
    w = world(accounts=1)
    then = conformance.display(report(w))
    usage(w.installations[0], 5, calls=100, expired_token=2)
    now = conformance.display(report(w))
    code_stage = conformance.stage_checks(stage_key="code", live=now, snapshot=then)
    assert [row["code"] for row in code_stage] == ["refresh_before_expiry", "honours_retry_after", "within_limit",
                                                   "no_calls_after_turn_off"]
    assert code_stage[0]["label"] == "Failed" and code_stage[0]["at_submission"]["label"] == "No evidence"
    functionality = conformance.stage_checks(stage_key="functionality", live=now, snapshot=None)
    assert [row["code"] for row in functionality] == ["oauth_exchange", "callbacks_answered", "success_rate",
                                                      "webhooks_answered"]
    assert conformance.stage_checks(stage_key="design", live=now, snapshot=then) == []
