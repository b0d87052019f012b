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
from django.db.models import Case, DateTimeField, Q, Value, When
from django.utils import timezone

from accounts.models import Account
from portal.charts import Chart, usage_chart
from portal.limits import EffectiveLimit, installation_limits, limit_steps
from portal.minutes import EPOCH, minute_of, minute_start
from portal.models import Installation, StaffUsageMinute, UsageFigures, UsageMinute

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


# The figures of portal.models.UsageFigures, in the order a tuple of figures gives them.
FIGURE_FIELDS = (*UsageFigures.COUNTERS, *UsageFigures.BY_ENDPOINT)
DICT_FIGURES = UsageFigures.BY_ENDPOINT


def _figures_of(figures) -> dict:
    """Figures given as a mapping by field name, or as a tuple in FIGURE_FIELDS order (``(calls, throttled[,
    failed])`` as the first callers wrote them); missing ones are zero (or empty)."""
    if not isinstance(figures, dict):
        figures = dict(zip(FIGURE_FIELDS, figures))
    unknown = set(figures) - set(FIGURE_FIELDS)
    if unknown:
        raise ValueError(f"unknown usage figures: {sorted(unknown)}")
    return {name: dict(figures.get(name) or {}) if name in DICT_FIGURES else int(figures.get(name) or 0)
            for name in FIGURE_FIELDS}


def usage_minutes_record(*, counts: dict[tuple[int, datetime], tuple[int, ...] | dict],
                         last_calls: dict[int, datetime] | None = None) -> int:
    """Store absolute per-minute figures, ``{(installation_id, minute start): figures}``, figures being a
    dict by ``UsageFigures`` field name (``{"calls": 3, "endpoints": {...}, ...}``) or a tuple ``(calls,
    throttled[, failed, ...])`` in :data:`FIGURE_FIELDS` order, and move ``Installation.last_call_at`` forward to
    ``last_calls[installation_id]`` (by default: the start of the installation's latest minute with calls here).

    Rows are upserted, never added to, so writing the same figures again changes nothing; figures of
    installations that no longer exist are skipped. Returns the number of rows written."""
    ids = {pk for pk, _ in counts} | set(last_calls or {})
    if not ids:
        return 0
    known = dict(Installation.objects.filter(pk__in=ids).values_list("pk", "last_call_at"))
    rows = [UsageMinute(installation_id=pk, minute=minute, **_figures_of(figures))
            for (pk, minute), figures in counts.items() if pk in known]
    if last_calls is None:
        last_calls = {}
        for row in rows:
            if row.calls and row.minute > last_calls.get(row.installation_id, EPOCH):
                last_calls[row.installation_id] = row.minute
    with transaction.atomic():
        UsageMinute.objects.bulk_create(rows, batch_size=500, update_conflicts=True,
                                        unique_fields=["installation", "minute"], update_fields=FIGURE_FIELDS)
        _move_last_calls_forward({pk: moment for pk, moment in last_calls.items()
                                  if pk in known and (known[pk] is None or known[pk] < moment)})
    return len(rows)


def _move_last_calls_forward(moments: dict[int, datetime], *, batch_size: int = 500) -> None:
    """``Installation.last_call_at = moments[pk]`` where that is later than the stored time: one UPDATE per
    batch (a CASE on the id), never one per installation, and never moving a time back (another rollup may
    have written a later one meanwhile)."""
    items = sorted(moments.items())
    for start in range(0, len(items), batch_size):
        batch = items[start:start + batch_size]
        moment = Case(*(When(pk=pk, then=Value(at)) for pk, at in batch), output_field=DateTimeField())
        (Installation.objects.filter(pk__in=[pk for pk, _ in batch])
         .filter(Q(last_call_at__isnull=True) | Q(last_call_at__lt=moment))
         .update(last_call_at=moment))


def staff_usage_minutes_record(*, counts: dict[tuple[int, datetime], dict | tuple[int, ...]]) -> int:
    """Store absolute per-minute figures of accounts' staff-token pools, ``{(account_id, minute start):
    figures}`` (as :func:`usage_minutes_record` takes them), as ``StaffUsageMinute`` upserts. Accounts that no
    longer exist are skipped. Returns the number of rows written."""
    ids = {pk for pk, _ in counts}
    if not ids:
        return 0
    known = set(Account.objects.filter(pk__in=ids).values_list("pk", flat=True))
    rows = [StaffUsageMinute(account_id=pk, minute=minute, **_figures_of(figures))
            for (pk, minute), figures in counts.items() if pk in known]
    with transaction.atomic():
        StaffUsageMinute.objects.bulk_create(rows, batch_size=500, update_conflicts=True,
                                             unique_fields=["account", "minute"], update_fields=FIGURE_FIELDS)
    return len(rows)


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

