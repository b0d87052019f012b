"""Celery tasks of the integrations: the usage rollup (beat, every minute), the usage retention (beat, every
hour) and signed outbound deliveries (beat, every two seconds).

Tasks take ids, re-fetch, and call one function; they are short and bounded.
"""

import logging
from datetime import datetime, timedelta, timezone as dt_timezone

import redis
from celery import shared_task
from django.utils import timezone

from integrations import callbacks, deliveries, usage
from integrations.redis_client import worker_redis
from portal.models import Installation
from portal.usage import staff_usage_minutes_record, usage_minutes_record
from portal.usage_retention import usage_retention_once

logger = logging.getLogger(__name__)

# --- Usage rollup ----------------------------------------------------------------------------------
# The gateway counts every call in Redis (integrations/usage.py): one HASH per installation and minute,
#   usage:{<installation id>}:<unix time // 60>   fields "calls" (admitted), "throttled" (refused),
#   "failed" (requests naming it that failed authentication, counted in their own pool), and the details
#   (statuses, Retry-After waits, expired tokens, endpoint classes, repeated searches: see the module),
# which expires after two hours, and the hash usage:last_call (installation id -> unix seconds of its
# latest admitted call); the same per account's staff-token pool (usage:{staff:<account id>}:<minute>,
# usage:last_staff_call). Every minute the rollup copies the minutes since its last run (less a grace
# period, for calls counted late, and including the minute still being counted) into UsageMinute and
# StaffUsageMinute as absolute figures, so re-reading a minute never double counts (and a minute re-read
# unchanged is not written again: portal/usage_upsert.py). Only pools that called
# in the window are read: a throttled call implies an admitted one less than a window earlier (failed calls
# have their own latest-time hash, usage:last_failed).

GRACE_MINUTES = 5
MAX_LOOKBACK_MINUTES = usage.COUNTER_TTL_SECONDS // 60
ROLLED_THROUGH_KEY = "usage:rollup:through"  # the last minute that was complete when it was stored
BATCH = 500


def usage_redis() -> redis.Redis:
    """A client for the rollup: like the gateway's, but with a patient timeout for big pipelines."""
    return worker_redis()


def rollup_usage_once(client: redis.Redis | None = None) -> dict:
    """Copy the gateway's per-minute counters into UsageMinute and the latest call times into
    Installation.last_call_at. Safe to run at any time, as often as wanted, from several workers at
    once: every write is an absolute upsert."""
    client = client or usage_redis()
    seconds, _ = client.time()
    now_minute = int(seconds) // 60
    through = client.get(ROLLED_THROUGH_KEY)
    since = int(through) + 1 - GRACE_MINUTES if through is not None else now_minute - MAX_LOOKBACK_MINUTES
    since = max(min(since, now_minute - GRACE_MINUTES), now_minute - MAX_LOOKBACK_MINUTES)
    last_calls = {int(pk): int(at) for pk, at in client.hgetall(usage.LAST_CALL_KEY).items()}
    last_failed = {int(pk): int(at) for pk, at in client.hgetall(usage.LAST_FAILED_KEY).items()}
    active = sorted({pk for pk, at in (*last_calls.items(), *last_failed.items()) if at // 60 >= since - 1})
    rows = read = 0
    for start in range(0, len(active), BATCH):
        ids = active[start:start + BATCH]
        counts = usage.read_minutes(ids, since, now_minute + 1, client=client)
        read += len(counts)
        rows += usage_minutes_record(
            counts={(c.installation_id, c.minute_start): c.figures() for c in counts},
            last_calls={pk: datetime.fromtimestamp(last_calls[pk], tz=dt_timezone.utc)
                        for pk in ids if pk in last_calls},
        )
    last_staff = client.hgetall(usage.LAST_STAFF_CALL_KEY)
    staff = sorted(int(pk) for pk, at in last_staff.items() if int(at) // 60 >= since - 1)
    staff_rows = 0
    for start in range(0, len(staff), BATCH):
        counts = usage.read_staff_minutes(staff[start:start + BATCH], since, now_minute + 1, client=client)
        staff_rows += staff_usage_minutes_record(counts={(c.installation_id, c.minute_start): c.figures()
                                                         for c in counts})
    client.set(ROLLED_THROUGH_KEY, now_minute - 1, ex=MAX_LOOKBACK_MINUTES * 60)
    return {"installations": len(active), "minutes": [since, now_minute], "read": read, "rows": rows,
            "staff_accounts": len(staff), "staff_rows": staff_rows}


@shared_task(acks_late=True, ignore_result=True, expires=55)
def rollup_usage() -> dict:
    """Beat, every minute (CELERY_BEAT_SCHEDULE["rollup-usage"])."""
    result = rollup_usage_once()
    if result["rows"] or result["staff_rows"]:
        logger.info("usage rollup: %(rows)s minutes written (of %(read)s read) of %(installations)s installations, "
                    "%(staff_rows)s minutes of %(staff_accounts)s staff pools", result)
    return result


@shared_task(acks_late=True, ignore_result=True, expires=3000)
def usage_retention() -> dict:
    """Beat, every hour (CELERY_BEAT_SCHEDULE["usage-retention"]): per-minute usage older than
    PORTAL["USAGE_MINUTE_RETENTION_DAYS"] folded into hourly rows, hourly rows older than
    PORTAL["USAGE_HOUR_RETENTION_DAYS"] and old staff-pool minutes deleted (portal.usage_retention)."""
    result = usage_retention_once()
    worked = any(result.values())
    logger.log(logging.INFO if worked else logging.DEBUG, "usage retention: %s", result)
    return result


# --- Signed outbound deliveries (integrations/deliveries.py) -----------------------------------------

@shared_task(acks_late=True, ignore_result=True, expires=10)
def deliver_due() -> dict:
    """Beat, every two seconds (CELERY_BEAT_SCHEDULE["deliveries"]): one pass over every kind of delivery
    (install/uninstall callbacks, webhooks), bounded in deliveries and seconds. Logs at INFO only when it did
    something."""
    result = deliveries.deliver_due()
    worked = any(value for figures in result.values() for value in figures.values())
    logger.log(logging.INFO if worked else logging.DEBUG, "deliveries: %s", result)
    return result


@shared_task(acks_late=True, ignore_result=True)
def deliver(kind: str, delivery_id: int) -> str:
    """Try one new delivery at once (when it is still due); failures wait for the dispatcher's retries."""
    return deliveries.deliver_one(kind, delivery_id)


@shared_task(acks_late=True, ignore_result=True)
def send_callback(installation_id: int, kind: str) -> str:
    """Only for messages queued before callbacks became deliveries: owe the callback unless a delivery for
    this turn exists already (the migration took over callbacks that were still being retried)."""
    installation = Installation.objects.select_related("app", "account").filter(pk=installation_id).first()
    if installation is None or kind not in callbacks.Kind.values:
        return "gone"
    recent = timezone.now() - timedelta(minutes=20)
    if installation.callback_deliveries.filter(kind=kind, created_at__gte=recent).exists():
        return "taken over"
    if callbacks.callback_is_stale(installation=installation, kind=kind):
        return "stale"
    delivery = callbacks.callback_schedule(installation=installation, kind=kind)
    return "scheduled" if delivery else "no url"


# --- Usage alerts (integrations/usage_alert_consumer.py) ---------------------------------------------------

@shared_task(acks_late=True, ignore_result=True, expires=10)
def usage_alerts() -> dict:
    """Beat, every 10 s (CELERY_BEAT_SCHEDULE["usage-alerts"]): the limiter's 80% / 100% entries into alerts,
    bounded per run. Logs at INFO only when it did something."""
    from integrations.usage_alert_consumer import consume_usage_alerts

    result = consume_usage_alerts()
    worked = any(value for key, value in result.items() if key != "stopped") or result["stopped"]
    logger.log(logging.INFO if worked else logging.DEBUG, "usage alerts: %s", result)
    return result
