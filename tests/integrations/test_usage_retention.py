"""Usage retention (beat, hourly): old minutes folded into hours, old hours and old staff-pool minutes deleted;
batched, and idempotent."""

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest

from integrations import tasks
from portal.models import Installation, StaffUsageMinute, UsageHour, UsageMinute
from portal.usage_retention import usage_retention_once
from tests.factories import AccountFactory, AppFactory

NOW = datetime(2026, 7, 20, 10, 25, tzinfo=dt_timezone.utc)
SINGLE, SEARCH = "GET product-service/product single", "GET product-service/product-search search"


@pytest.fixture
def installation(db):
    return Installation.objects.create(app=AppFactory(), account=AccountFactory(code="outerheaven"))


def minute(installation, at, **figures):
    return UsageMinute.objects.create(installation=installation, minute=at, **figures)


def snapshot():
    hours = sorted((r.installation_id, r.hour, r.calls, r.throttled, r.failed, r.status_4xx, r.status_5xx,
                    r.in_retry_wait, r.expired_token, r.peak_calls, r.peak_throttled, sorted(r.endpoints.items()),
                    sorted(r.repeated_searches.items())) for r in UsageHour.objects.all())
    minutes = sorted(UsageMinute.objects.values_list("installation_id", "minute", "calls"))
    staff = sorted(StaffUsageMinute.objects.values_list("account_id", "minute", "calls"))
    return hours, minutes, staff


def test_old_minutes_fold_into_hours_and_a_second_run_changes_nothing(settings, installation):
    # given 14 days of minute retention: three minutes of one old hour, one of the next, and recent minutes
    settings.PORTAL = {**settings.PORTAL, "USAGE_MINUTE_RETENTION_DAYS": 14, "USAGE_HOUR_RETENTION_DAYS": 400}
    old_hour = datetime(2026, 7, 5, 8, 0, tzinfo=dt_timezone.utc)  # 15 days ago
    minute(installation, old_hour + timedelta(minutes=1), calls=120, throttled=0, failed=2, status_4xx=3,
           status_5xx=1, in_retry_wait=0, expired_token=1, endpoints={SINGLE: 100, SEARCH: 20},
           repeated_searches={SEARCH: 5})
    minute(installation, old_hour + timedelta(minutes=2), calls=200, throttled=40, in_retry_wait=12,
           endpoints={SINGLE: 240}, repeated_searches={})
    minute(installation, old_hour + timedelta(minutes=59), calls=30, throttled=50, status_4xx=1,
           endpoints={SEARCH: 80}, repeated_searches={SEARCH: 70})
    minute(installation, old_hour + timedelta(hours=1, minutes=30), calls=7, endpoints={SINGLE: 7})
    # the hour holding the cutoff (now - 14 days = 2026-07-06 10:25) stays in minutes, whole
    minute(installation, datetime(2026, 7, 6, 10, 5, tzinfo=dt_timezone.utc), calls=9)
    minute(installation, NOW - timedelta(minutes=3), calls=11)

    # when the fold runs in batches of two minutes
    result = usage_retention_once(now=NOW, batch_size=2)

    # then the old hours hold sums, summed dicts and the busiest minute; their minutes are gone
    assert result["minutes_folded"] == 4
    first = UsageHour.objects.get(installation=installation, hour=old_hour)
    assert (first.calls, first.throttled, first.failed, first.status_4xx, first.status_5xx, first.in_retry_wait,
            first.expired_token) == (350, 90, 2, 4, 1, 12, 1)
    assert (first.peak_calls, first.peak_throttled) == (200, 50)
    assert first.endpoints == {SINGLE: 340, SEARCH: 100} and first.repeated_searches == {SEARCH: 75}
    second = UsageHour.objects.get(installation=installation, hour=old_hour + timedelta(hours=1))
    assert (second.calls, second.peak_calls, second.endpoints) == (7, 7, {SINGLE: 7})
    assert sorted(UsageMinute.objects.values_list("calls", flat=True)) == [9, 11]

    # and a second run changes nothing
    before = snapshot()
    again = usage_retention_once(now=NOW, batch_size=2)
    assert snapshot() == before
    assert again == {"minutes_folded": 0, "hours_written": 0, "hours_deleted": 0, "staff_minutes_deleted": 0}


def test_minutes_of_an_hour_already_folded_are_added_to_it(installation):
    # given an hour row, and a minute of the same hour left over (folded later)
    hour = datetime(2026, 7, 1, 8, 0, tzinfo=dt_timezone.utc)
    UsageHour.objects.create(installation=installation, hour=hour, calls=100, peak_calls=60, peak_throttled=3,
                             endpoints={SINGLE: 100}, repeated_searches={})
    minute(installation, hour + timedelta(minutes=10), calls=70, throttled=1, endpoints={SINGLE: 60, SEARCH: 11},
           repeated_searches={SEARCH: 2})

    # when
    usage_retention_once(now=NOW)

    # then
    row = UsageHour.objects.get(installation=installation, hour=hour)
    assert (row.calls, row.throttled, row.peak_calls, row.peak_throttled) == (170, 1, 70, 3)
    assert row.endpoints == {SINGLE: 160, SEARCH: 11} and row.repeated_searches == {SEARCH: 2}


def test_old_hours_and_old_staff_minutes_are_deleted(settings, installation):
    # given
    settings.PORTAL = {**settings.PORTAL, "USAGE_MINUTE_RETENTION_DAYS": 14, "USAGE_HOUR_RETENTION_DAYS": 400}
    UsageHour.objects.create(installation=installation, hour=NOW - timedelta(days=401), calls=1)
    UsageHour.objects.create(installation=installation, hour=NOW - timedelta(days=399), calls=2)
    account = installation.account
    StaffUsageMinute.objects.create(account=account, minute=NOW - timedelta(days=15), calls=3)
    StaffUsageMinute.objects.create(account=account, minute=NOW - timedelta(days=13), calls=4)

    # when
    result = usage_retention_once(now=NOW, batch_size=1)

    # then
    assert (result["hours_deleted"], result["staff_minutes_deleted"]) == (1, 1)
    assert list(UsageHour.objects.values_list("calls", flat=True)) == [2]
    assert list(StaffUsageMinute.objects.values_list("calls", flat=True)) == [4]


def test_the_retention_setting_is_followed(settings, installation):
    # given minutes 3 days old, and a retention of 2 days
    settings.PORTAL = {**settings.PORTAL, "USAGE_MINUTE_RETENTION_DAYS": 2}
    minute(installation, NOW - timedelta(days=3), calls=5)

    # when
    usage_retention_once(now=NOW)

    # then
    assert not UsageMinute.objects.exists() and UsageHour.objects.get().calls == 5


def test_the_beat_task_runs_the_retention(settings, installation):
    # given a minute past the retention (counted from the real clock)
    from django.utils import timezone

    minute(installation, timezone.now() - timedelta(days=30), calls=4)

    # when the task runs (as beat sends it)
    tasks.usage_retention.delay()

    # then
    assert not UsageMinute.objects.exists() and UsageHour.objects.get().calls == 4
    assert "usage-retention" in settings.CELERY_BEAT_SCHEDULE
