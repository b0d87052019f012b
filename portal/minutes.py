"""Epoch minutes: whole minutes since 1970-01-01T00:00Z, the unit of the usage counters and UsageMinute rows."""

from datetime import datetime, timedelta, timezone as dt_timezone

EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def minute_of(moment: datetime | float | int) -> int:
    """The epoch minute of an aware datetime or of a Unix timestamp in seconds."""
    seconds = moment.timestamp() if isinstance(moment, datetime) else float(moment)
    return int(seconds // 60)


def minute_start(minute: int) -> datetime:
    """The aware UTC datetime at which an epoch minute starts."""
    return EPOCH + timedelta(minutes=minute)
