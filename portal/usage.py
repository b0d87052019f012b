"""API usage of installations: per-minute rows (``UsageMinute``) rolled up from the gateway's Redis
counters, read in the shapes the pages and charts need. (The callback log is the OAuth server's: the app
page asks for it through ``portal.hooks.CALLBACK_LOG``.)

The rollup (``integrations.tasks.rollup_usage``) writes through ``usage_minutes_record`` (and
``staff_usage_minutes_record`` for staff-token pools) with absolute figures per (installation, minute), so
running it twice for the same minute changes nothing. Old minutes are folded into hours by
``portal.usage_retention``.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from portal.charts import Chart, usage_chart
from portal.limits import EffectiveLimit, installation_limits, limit_steps
from portal.minutes import EPOCH, minute_of, minute_start
from portal.models import Installation, StaffUsageMinute, UsageMinute
from portal.usage_upsert import figures_of, last_calls_move_forward, minutes_upsert

WINDOW_HOURS = 24
BUCKET_MINUTES = 15


@dataclass
class Bucket:
    """A few minutes of one installation's usage. Bars show the busiest minute, so they compare with
    the per-minute limit; the totals are for the text."""

    start: datetime
    peak_calls: int = 0  # most calls admitted in one minute of the bucket
    peak_throttled: int = 0  # most calls refused in one minute of the bucket
    calls: int = 0
    throttled: int = 0
    failed: int = 0  # requests naming the installation that failed authentication (not its calls)


@dataclass
class UsageSeries:
    installation_id: int
    start: datetime
    end: datetime
    bucket_minutes: int
    buckets: list[Bucket]
    calls: int = 0
    throttled: int = 0
    failed: int = 0  # requests naming the installation that failed authentication, apart from its calls
    peak_calls: int = 0
    peak_at: datetime | None = None
    minutes_throttled: int = 0

    @property
    def has_calls(self) -> bool:
        return bool(self.calls or self.throttled)


def usage_window(*, now: datetime | None = None, hours: int = WINDOW_HOURS,
                 bucket_minutes: int = BUCKET_MINUTES) -> tuple[datetime, datetime]:
    """[start, end) of the last ``hours``, aligned to bucket boundaries so the last bucket holds now."""
    now = now or timezone.now()
    end = (minute_of(now) // bucket_minutes + 1) * bucket_minutes
    return minute_start(end - hours * 60), minute_start(end)


def usage_series_of(*, installations, now: datetime | None = None, hours: int = WINDOW_HOURS,
                    bucket_minutes: int = BUCKET_MINUTES) -> dict[int, UsageSeries]:
    """The last ``hours`` of each installation in buckets of ``bucket_minutes``, keyed by
    installation id. One query, however many installations."""
    start, end = usage_window(now=now, hours=hours, bucket_minutes=bucket_minutes)
    ids = [getattr(installation, "pk", installation) for installation in installations]
    count = hours * 60 // bucket_minutes
    series = {
        pk: UsageSeries(pk, start, end, bucket_minutes,
                        [Bucket(start + timedelta(minutes=i * bucket_minutes)) for i in range(count)])
        for pk in ids
    }
    if not ids:
        return series
    rows = (UsageMinute.objects.filter(installation_id__in=ids, minute__gte=start, minute__lt=end)
            .values_list("installation_id", "minute", "calls", "throttled", "failed"))
    for installation_id, minute, calls, throttled, failed in rows.iterator(chunk_size=5000):
        one = series[installation_id]
        bucket = one.buckets[int((minute - start).total_seconds() // 60) // bucket_minutes]
        bucket.calls += calls
        bucket.throttled += throttled
        bucket.failed += failed
        one.failed += failed
        bucket.peak_calls = max(bucket.peak_calls, calls)
        bucket.peak_throttled = max(bucket.peak_throttled, throttled)
        one.calls += calls
        one.throttled += throttled
        if throttled:
            one.minutes_throttled += 1
        if calls > one.peak_calls or (calls == one.peak_calls and calls and minute > one.peak_at):
            one.peak_calls, one.peak_at = calls, minute
    return series


def usage_minutes_record(*, counts: dict[tuple[int, datetime], tuple[int, ...] | dict],
                         last_calls: dict[int, datetime] | None = None) -> int:
    """Store absolute per-minute figures, ``{(installation_id, minute start): figures}``, figures being a
    dict by ``UsageFigures`` field name (``{"calls": 3, "endpoints": {...}, ...}``) or a tuple ``(calls,
    throttled[, failed, ...])`` in ``portal.usage_upsert.FIGURE_FIELDS`` order, and move
    ``Installation.last_call_at`` forward to ``last_calls[installation_id]`` (by default: the start of the
    installation's latest minute with calls here).

    Rows are upserted, never added to, so writing the same figures again changes nothing (and writes nothing:
    a stored row with the same figures is left alone); figures of installations that no longer exist are
    skipped. One transaction. Returns the number of rows written (inserted, or changed)."""
    rows = {(pk, minute): figures_of(figures) for (pk, minute), figures in counts.items()}
    if last_calls is None:
        last_calls = {}
        for (pk, minute), figures in rows.items():
            if figures["calls"] and minute > last_calls.get(pk, EPOCH):
                last_calls[pk] = minute
    with transaction.atomic():
        written = minutes_upsert(model=UsageMinute, owner="installation", rows=rows)
        last_calls_move_forward(last_calls)
    return written


def staff_usage_minutes_record(*, counts: dict[tuple[int, datetime], dict | tuple[int, ...]]) -> int:
    """Store absolute per-minute figures of accounts' staff-token pools, ``{(account_id, minute start):
    figures}`` (as :func:`usage_minutes_record` takes them), as ``StaffUsageMinute`` upserts, leaving stored
    rows with the same figures alone. Accounts that no longer exist are skipped. Returns the number of rows
    written (inserted, or changed)."""
    rows = {(pk, minute): figures_of(figures) for (pk, minute), figures in counts.items()}
    return minutes_upsert(model=StaffUsageMinute, owner="account", rows=rows)


@dataclass
class InstallationUsage:
    """One installation with its limit, its last 24 hours and their chart: a row of the usage tables."""

    installation: Installation
    limit: EffectiveLimit
    series: UsageSeries
    chart: Chart


class UsageRows(list):
    """Rows of ``installations_usage``; ``busy`` had calls in the window, ``quiet`` had none."""

    @property
    def busy(self) -> list[InstallationUsage]:
        return [row for row in self if row.series.has_calls]

    @property
    def quiet(self) -> list[InstallationUsage]:
        return [row for row in self if not row.series.has_calls]


def installations_usage(*, installations, now: datetime | None = None, label=None, chart_width: int = 660,
                        requested: dict[int, int] | None = None) -> UsageRows:
    """Usage rows for a list of installations (of one or several apps), in the given order, with the
    limit each has now. A fixed number of queries. ``label(installation)`` names each chart (default:
    the account code); ``requested`` (installation id -> calls per minute) adds a line for a limit
    under review; ``chart_width`` is about the width the charts are shown at."""
    installations = list(installations)
    now = now or timezone.now()
    limits = installation_limits(installations=installations, now=now)
    series = usage_series_of(installations=installations, now=now)
    window = next(iter(series.values()), None)
    steps = limit_steps(installations=installations, start=window.start, end=window.end) if window else {}
    label = label or (lambda installation: installation.account.code)
    rows = UsageRows()
    for installation in installations:
        limit = limits[installation.pk]
        rows.append(InstallationUsage(
            installation=installation, limit=limit, series=series[installation.pk],
            chart=usage_chart(series[installation.pk], limit_per_minute=limit.per_minute,
                              label=label(installation), chart_id=f"usage-{installation.pk}", width=chart_width,
                              requested_per_minute=(requested or {}).get(installation.pk),
                              limit_steps=steps.get(installation.pk), limit_is_default=limit.is_default),
        ))
    return rows

