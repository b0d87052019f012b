"""How long API usage rows are kept (beat, every hour: ``integrations.tasks.usage_retention``).

- ``UsageMinute`` rows older than ``PORTAL["USAGE_MINUTE_RETENTION_DAYS"]`` (counted back from the start of the
  current hour, so that only whole hours go) are folded into ``UsageHour``: the figures summed, the
  ``endpoints`` and ``repeated_searches`` dicts summed key by key, and ``peak_calls`` / ``peak_throttled`` the
  most of one minute of the hour; the folded minutes are deleted.
- ``UsageHour`` rows older than ``PORTAL["USAGE_HOUR_RETENTION_DAYS"]`` are deleted.
- ``StaffUsageMinute`` rows older than the minute retention are deleted (staff pools have no hourly rows).

Each batch (at most ``batch_size`` minute rows) is one transaction: the minutes are read, added into their
hours and deleted together, so a batch is folded entirely or not at all, and a folded minute is never read
again: running the fold twice changes nothing the second time. An hour that already has a row (minutes of it
folded by an earlier batch) is added to, its peaks kept as the larger. Two runs at once never fold the same
minutes twice: on PostgreSQL a batch skips the rows another run has locked, and a batch that finds fewer of
its minutes left to delete than it read is undone.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone as dt_timezone

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from portal.conf import portal_settings
from portal.models import StaffUsageMinute, UsageFigures, UsageHour, UsageMinute

BATCH_SIZE = 2000
SCALARS = UsageFigures.COUNTERS
DICTS = UsageFigures.BY_ENDPOINT


class _Contended(Exception):
    """Another run took some minutes of this batch first."""


def usage_retention_once(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict:
    """Fold old minutes into hours and delete what is past its retention (see the module docstring).
    Returns what was done: ``minutes_folded``, ``hours_written``, ``hours_deleted``, ``staff_minutes_deleted``."""
    now = (now or timezone.now()).astimezone(dt_timezone.utc)
    minute_days = portal_settings.USAGE_MINUTE_RETENTION_DAYS
    fold_before = (now - timedelta(days=minute_days)).replace(minute=0, second=0, microsecond=0)
    result = {"minutes_folded": 0, "hours_written": 0, "hours_deleted": 0, "staff_minutes_deleted": 0}
    while True:
        try:
            folded, hours = _fold_batch(fold_before, batch_size)
        except (_Contended, IntegrityError):
            break  # another run is folding the same minutes (or hours): it finishes them
        result["minutes_folded"] += folded
        result["hours_written"] += hours
        if folded < batch_size:
            break
    hour_days = portal_settings.USAGE_HOUR_RETENTION_DAYS
    result["hours_deleted"] = _delete_batched(UsageHour.objects.filter(hour__lt=now - timedelta(days=hour_days)),
                                              batch_size)
    result["staff_minutes_deleted"] = _delete_batched(
        StaffUsageMinute.objects.filter(minute__lt=now - timedelta(days=minute_days)), batch_size)
    return result


def _fold_batch(before: datetime, batch_size: int) -> tuple[int, int]:
    """Fold up to ``batch_size`` minutes older than ``before`` into their hours, in one transaction.
    Returns (minutes folded, hour rows written)."""
    with transaction.atomic():
        minutes = UsageMinute.objects.filter(minute__lt=before).order_by("installation_id", "minute")
        if connection.features.has_select_for_update_skip_locked:
            minutes = minutes.select_for_update(skip_locked=True)
        rows = list(minutes.values_list("pk", "installation_id", "minute", *SCALARS, *DICTS)[:batch_size])
        if not rows:
            return 0, 0
        folded = _hours_of(rows)
        written = _add_into_hours(folded)
        deleted, _ = UsageMinute.objects.filter(pk__in=[row[0] for row in rows]).delete()
        if deleted != len(rows):
            raise _Contended()
    return len(rows), written


def _hours_of(rows: Iterable[tuple]) -> dict[tuple[int, datetime], dict]:
    """Minute rows (pk, installation id, minute, *SCALARS, *DICTS) summed per (installation id, hour)."""
    hours: dict[tuple[int, datetime], dict] = {}
    for _, installation_id, minute, *figures in rows:
        hour = minute.astimezone(dt_timezone.utc).replace(minute=0, second=0, microsecond=0)
        one = hours.get((installation_id, hour))
        if one is None:
            one = hours[(installation_id, hour)] = {name: 0 for name in SCALARS}
            one.update({name: {} for name in DICTS}, peak_calls=0, peak_throttled=0)
        scalars, dicts = dict(zip(SCALARS, figures)), figures[len(SCALARS):]
        for name, value in scalars.items():
            one[name] += value
        for name, value in zip(DICTS, dicts):
            _add_counts(one[name], value or {})
        one["peak_calls"] = max(one["peak_calls"], scalars["calls"])
        one["peak_throttled"] = max(one["peak_throttled"], scalars["throttled"])
    return hours


def _add_counts(into: dict, more: dict) -> None:
    for key, value in more.items():
        into[key] = into.get(key, 0) + int(value)


def _add_into_hours(hours: dict[tuple[int, datetime], dict]) -> int:
    """Add the folded figures into their UsageHour rows (locked), creating the missing ones."""
    ids = {pk for pk, _ in hours}
    starts = {hour for _, hour in hours}
    existing = {(row.installation_id, row.hour): row for row in UsageHour.objects.select_for_update()
                .filter(installation_id__in=ids, hour__in=starts)}
    changed, created = [], []
    for key, figures in hours.items():
        row = existing.get(key)
        if row is None:
            created.append(UsageHour(installation_id=key[0], hour=key[1], **figures))
            continue
        for name in SCALARS:
            setattr(row, name, getattr(row, name) + figures[name])
        for name in DICTS:
            merged = dict(getattr(row, name) or {})
            _add_counts(merged, figures[name])
            setattr(row, name, merged)
        row.peak_calls = max(row.peak_calls, figures["peak_calls"])
        row.peak_throttled = max(row.peak_throttled, figures["peak_throttled"])
        changed.append(row)
    if changed:
        UsageHour.objects.bulk_update(changed, [*SCALARS, *DICTS, "peak_calls", "peak_throttled"], batch_size=500)
    # A row created meanwhile by another run makes this fail, and the whole batch with it (nothing lost).
    UsageHour.objects.bulk_create(created, batch_size=500)
    return len(changed) + len(created)


def _delete_batched(rows: QuerySet, batch_size: int) -> int:
    """Delete the rows of a queryset ``batch_size`` at a time (one short transaction each)."""
    deleted = 0
    while True:
        pks = list(rows.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        with transaction.atomic():
            count, _ = rows.model.objects.filter(pk__in=pks).delete()
        deleted += count
        if len(pks) < batch_size:
            return deleted
