"""API usage: the rollup from the gateway's Redis counters into UsageMinute, the 24-hour series, the
SVG chart, and the pages that show them."""

import re
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations import tasks, usage as counters
from portal.charts import usage_chart
from portal.models import Installation, UsageMinute
from portal.usage import usage_minutes_record, usage_series_of, usage_window
from tests.factories import AccountFactory, AppFactory, DeveloperFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_client():
    """The rollup's Redis, with no usage counters or rollup state left by other tests."""
    client = tasks.usage_redis()
    for key in client.scan_iter(match="usage:*", count=1000):
        client.delete(key)
    yield client
    for key in client.scan_iter(match="usage:*", count=1000):
        client.delete(key)


@pytest.fixture
def installation():
    return Installation.objects.create(app=AppFactory(), account=AccountFactory(code="outerheaven"))


def redis_minute(client) -> int:
    seconds, _ = client.time()
    return int(seconds) // 60


def count(client, installation_id, minute, calls=0, throttled=0, last_call=None):
    """Counters as the gateway writes them (integrations/usage.py): HINCRBY per call."""
    key = counters.minute_key(installation_id, minute)
    if calls:
        client.hincrby(key, "calls", calls)
    if throttled:
        client.hincrby(key, "throttled", throttled)
    client.expire(key, counters.COUNTER_TTL_SECONDS)
    if calls:
        client.hset(counters.LAST_CALL_KEY, str(installation_id), last_call or minute * 60 + 30)


def rows(installation):
    return {(row.minute, row.calls, row.throttled) for row in UsageMinute.objects.filter(installation=installation)}


# --- Rollup ----------------------------------------------------------------------------------------

def test_rollup_copies_counters_and_running_it_again_never_double_counts(redis_client, installation):
    # given counters for three minutes, the last one still being counted
    now = redis_minute(redis_client)
    count(redis_client, installation.pk, now - 3, calls=120, throttled=4)
    count(redis_client, installation.pk, now - 1, calls=7)
    count(redis_client, installation.pk, now, calls=2, last_call=now * 60 + 5)
    # when the rollup runs twice
    tasks.rollup_usage_once(redis_client)
    tasks.rollup_usage_once(redis_client)
    # then each minute is stored once, with the counters' figures
    start = counters.minute_start
    assert rows(installation) == {(start(now - 3), 120, 4), (start(now - 1), 7, 0), (start(now), 2, 0)}
    installation.refresh_from_db()
    assert installation.last_call_at == datetime.fromtimestamp(now * 60 + 5, tz=dt_timezone.utc)


def test_rollup_picks_up_calls_counted_after_it_ran(redis_client, installation):
    now = redis_minute(redis_client)
    count(redis_client, installation.pk, now, calls=2)
    tasks.rollup_usage_once(redis_client)
    # the minute goes on: more calls, and a refusal
    count(redis_client, installation.pk, now, calls=5, throttled=1)
    tasks.rollup_usage_once(redis_client)
    assert rows(installation) == {(counters.minute_start(now), 7, 1)}


def test_a_pass_rereads_its_grace_minutes_but_writes_only_what_changed(redis_client, installation):
    # given a pass that stored three minutes
    now = redis_minute(redis_client)
    count(redis_client, installation.pk, now - 2, calls=3)
    count(redis_client, installation.pk, now - 1, calls=4)
    count(redis_client, installation.pk, now, calls=1)
    first = tasks.rollup_usage_once(redis_client)

    # when the next pass reads them again, after one more call in the current minute
    count(redis_client, installation.pk, now, calls=1)
    second = tasks.rollup_usage_once(redis_client)

    # then it read the three minutes and wrote only the one that changed
    assert (first["read"], first["rows"]) == (3, 3)
    assert (second["read"], second["rows"]) == (3, 1)
    assert rows(installation) == {(counters.minute_start(now - 2), 3, 0), (counters.minute_start(now - 1), 4, 0),
                                  (counters.minute_start(now), 2, 0)}


def test_the_beat_task_runs_the_rollup(redis_client, installation, settings):
    # the schedule names it, and it runs as a task
    assert settings.CELERY_BEAT_SCHEDULE["rollup-usage"]["task"] == "integrations.tasks.rollup_usage"
    count(redis_client, installation.pk, redis_minute(redis_client) - 1, calls=3)
    tasks.rollup_usage.delay()
    assert UsageMinute.objects.get(installation=installation).calls == 3


def test_rollup_skips_counters_of_installations_that_no_longer_exist(redis_client, installation):
    now = redis_minute(redis_client)
    count(redis_client, installation.pk + 1000, now, calls=9)
    count(redis_client, installation.pk, now, calls=1)
    result = tasks.rollup_usage_once(redis_client)
    assert result["rows"] == 1
    assert UsageMinute.objects.count() == 1


def test_rollup_catches_up_after_a_pause(redis_client, installation):
    # given a rollup that last ran 40 minutes ago
    now = redis_minute(redis_client)
    redis_client.set(tasks.ROLLED_THROUGH_KEY, now - 41)
    count(redis_client, installation.pk, now - 39, calls=11)
    count(redis_client, installation.pk, now - 2, calls=4)
    tasks.rollup_usage_once(redis_client)
    assert {calls for _, calls, _ in rows(installation)} == {11, 4}
    assert int(redis_client.get(tasks.ROLLED_THROUGH_KEY)) == now - 1


def test_usage_minutes_record_is_an_upsert(installation):
    minute = timezone.now().replace(second=0, microsecond=0)
    usage_minutes_record(counts={(installation.pk, minute): (10, 1)})
    usage_minutes_record(counts={(installation.pk, minute): (12, 1)})
    assert rows(installation) == {(minute, 12, 1)}
    installation.refresh_from_db()
    assert installation.last_call_at == minute
    # an older minute never moves last_call_at back
    usage_minutes_record(counts={(installation.pk, minute - timedelta(minutes=5)): (3, 0)})
    installation.refresh_from_db()
    assert installation.last_call_at == minute


# --- Series and chart ------------------------------------------------------------------------------

def test_series_buckets_keep_the_busiest_minute_and_totals(installation):
    now = datetime(2026, 7, 1, 12, 7, tzinfo=dt_timezone.utc)
    start, end = usage_window(now=now)
    assert (start, end) == (datetime(2026, 6, 30, 12, 15, tzinfo=dt_timezone.utc),
                            datetime(2026, 7, 1, 12, 15, tzinfo=dt_timezone.utc))
    for minute, calls, throttled in [(12, 0, 50), (1, 150, 0), (2, 200, 7), (14, 90, 0)]:
        UsageMinute.objects.create(installation=installation, minute=now.replace(minute=minute), calls=calls,
                                   throttled=throttled)
    UsageMinute.objects.create(installation=installation, minute=start - timedelta(minutes=1), calls=999)  # too old
    series = usage_series_of(installations=[installation], now=now)[installation.pk]
    assert len(series.buckets) == 96
    last = series.buckets[-1]
    assert (last.start, last.peak_calls, last.peak_throttled, last.calls, last.throttled) == (
        datetime(2026, 7, 1, 12, 0, tzinfo=dt_timezone.utc), 200, 50, 440, 57)
    assert (series.calls, series.throttled, series.peak_calls, series.minutes_throttled) == (440, 57, 200, 2)
    assert series.peak_at == now.replace(minute=2)


def test_chart_draws_bars_the_limit_and_a_text_summary(installation):
    now = timezone.now()
    minute = now.replace(second=0, microsecond=0)
    UsageMinute.objects.create(installation=installation, minute=minute, calls=180, throttled=12)
    series = usage_series_of(installations=[installation], now=now)[installation.pk]
    chart = usage_chart(series, limit_per_minute=200, label="outerheaven", chart_id="usage-1")
    svg = str(chart.svg)
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-labelledby="usage-1-title usage-1-desc"' in svg
    assert "limit 200/min" in svg
    assert svg.count("#e8590c") == 1  # one throttled segment
    assert "180 calls at" in chart.summary and "90% of the limit of 200 per minute" in chart.summary
    assert "12 calls throttled, in 1 minute" in chart.summary
    assert chart.summary.startswith("outerheaven: ") and not chart.caption.startswith("outerheaven")
    # the axis shows hours of the day
    assert re.search(r">\d\d:00</text>", svg)


def test_rollup_and_chart_keep_failed_calls_apart_from_the_apps_own(redis_client, installation):
    # given a minute with 5 calls of the app and 900 requests naming it with invalid credentials, and a
    # minute with only failed ones
    now = redis_minute(redis_client)
    count(redis_client, installation.pk, now - 2, calls=5)
    for _ in range(3):
        counters.record_failed(installation_id=installation.pk, at_us=(now - 1) * 60_000_000, client=redis_client)
    redis_client.hincrby(counters.minute_key(installation.pk, now - 2), "failed", 900)

    # when the rollup runs and the chart is drawn
    tasks.rollup_usage_once(redis_client)
    series = usage_series_of(installations=[installation])[installation.pk]
    chart = usage_chart(series, limit_per_minute=200, label="outerheaven", chart_id="c")

    # then the app's calls are its own 5; the failed ones are told apart and never drawn as its calls
    stored = {(r.minute, r.calls, r.failed) for r in UsageMinute.objects.filter(installation=installation)}
    start = counters.minute_start
    assert stored == {(start(now - 2), 5, 900), (start(now - 1), 0, 3)}
    assert (series.calls, series.throttled, series.failed) == (5, 0, 903)
    assert chart.summary.startswith("outerheaven: 5 calls in the last 24 hours")
    assert "903 requests with invalid credentials named this app" in chart.caption
    assert str(chart.svg).count("<rect") == 1  # one bar: the app's 5 calls
    installation.refresh_from_db()
    assert installation.last_call_at == datetime.fromtimestamp((now - 2) * 60 + 30, tz=dt_timezone.utc)


def test_chart_of_a_quiet_installation_says_so(installation):
    series = usage_series_of(installations=[installation])[installation.pk]
    chart = usage_chart(series, limit_per_minute=200, label="outerheaven", chart_id="c")
    assert not chart.has_calls
    assert "No API calls in the last 24 hours" in chart.summary
    assert "<rect" not in str(chart.svg)


def test_chart_escapes_what_people_wrote(installation):
    series = usage_series_of(installations=[installation])[installation.pk]
    chart = usage_chart(series, limit_per_minute=200, label="<script>alert(1)</script>", chart_id='x"><b')
    assert "<script>" not in str(chart.svg) and 'x"><b' not in str(chart.svg)


# --- Pages -----------------------------------------------------------------------------------------

def test_app_page_shows_installations_with_usage(client):
    developer = DeveloperFactory().user
    app = AppFactory(user=developer)
    busy = Installation.objects.create(app=app, account=AccountFactory(code="outerheaven"),
                                       last_call_at=timezone.now() - timedelta(minutes=3))
    Installation.objects.create(app=app, account=AccountFactory(code="topfurniture"))
    minute = timezone.now().replace(second=0, microsecond=0)
    UsageMinute.objects.create(installation=busy, minute=minute - timedelta(hours=1), calls=1500, throttled=3)
    UsageMinute.objects.create(installation=busy, minute=minute - timedelta(hours=30), calls=7)  # outside 24 h
    client.force_login(developer)
    html = client.get(reverse("portal:app_detail", args=[app.pk])).content.decode().replace("\xa0", " ")
    assert "1,500" in html and "3 minutes ago" in html
    assert html.count("<svg") == 1  # only the installation with calls gets a chart
    assert "No calls in the last 24 hours from <code>topfurniture</code>" in html


def test_app_page_queries_do_not_grow_with_installations(client):
    developer = DeveloperFactory().user
    app = AppFactory(user=developer)
    client.force_login(developer)
    url = reverse("portal:app_detail", args=[app.pk])

    def add(n):
        minute = timezone.now().replace(second=0, microsecond=0)
        for _ in range(n):
            installation = Installation.objects.create(app=app, account=AccountFactory())
            UsageMinute.objects.create(installation=installation, minute=minute, calls=5)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    add(2)
    few = queries()
    add(8)
    assert queries() == few


def test_connected_apps_page_shows_usage_per_app(client):
    membership = MembershipFactory()
    app = AppFactory(name="Stock Sync")
    installation = Installation.objects.create(app=app, account=membership.account)
    minute = timezone.now().replace(second=0, microsecond=0)
    UsageMinute.objects.create(installation=installation, minute=minute, calls=42)
    client.force_login(membership.user)
    response = client.get(reverse("portal:connected_apps", args=[membership.account.code]))
    html = response.content.decode()
    assert "API calls per minute, last 24 hours" in html and "<svg" in html
    assert "Stock Sync: 42 calls in the last 24 hours" in html  # the chart's description
