"""Celery tasks of the integrations: the usage rollup (beat, every minute) and install/uninstall callbacks.

Tasks take ids, re-fetch, and call one function; they are short and bounded.
"""

import logging
from datetime import datetime
from datetime import timezone as dt_timezone

import redis
from celery import shared_task

from integrations import callbacks, usage
from integrations.redis_client import worker_redis
from portal import owner_notices
from portal.models import Installation
from portal.usage import usage_minutes_record

logger = logging.getLogger(__name__)

# --- Usage rollup ----------------------------------------------------------------------------------
# The gateway counts every call in Redis (integrations/usage.py): one HASH per installation and minute,
#   usage:{<installation id>}:<unix time // 60>   fields "calls" (admitted) and "throttled" (refused),
# which expires after two hours, and the hash usage:last_call (installation id -> unix seconds of its
# latest admitted call). Every minute the rollup copies the minutes since its last run (less a grace
# period, for calls counted late, and including the minute still being counted) into UsageMinute as
# absolute figures, so re-reading a minute never double counts. Only installations that called in the
# window are read: a throttled call implies an admitted one less than a window earlier.

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
    active = sorted(pk for pk, at in last_calls.items() if at // 60 >= since - 1)
    rows = 0
    for start in range(0, len(active), BATCH):
        ids = active[start:start + BATCH]
        counts = usage.read_minutes(ids, since, now_minute + 1, client=client)
        rows += usage_minutes_record(
            counts={(c.installation_id, c.minute_start): (c.calls, c.throttled) for c in counts},
            last_calls={pk: datetime.fromtimestamp(last_calls[pk], tz=dt_timezone.utc) for pk in ids},
        )
    client.set(ROLLED_THROUGH_KEY, now_minute - 1, ex=MAX_LOOKBACK_MINUTES * 60)
    return {"installations": len(active), "minutes": [since, now_minute], "rows": rows}


@shared_task(acks_late=True, ignore_result=True, expires=55)
def rollup_usage() -> dict:
    """Beat, every minute (CELERY_BEAT_SCHEDULE["rollup-usage"])."""
    result = rollup_usage_once()
    if result["rows"]:
        logger.info("usage rollup: %(rows)s minutes of %(installations)s installations", result)
    return result


# --- Install / uninstall callbacks -----------------------------------------------------------------

CALLBACK_MAX_RETRIES = 5
CALLBACK_FIRST_DELAY = 30  # seconds; doubled after each failure: 30, 60, 120, 240, 480


def callback_retry_delay(retries: int) -> int:
    return CALLBACK_FIRST_DELAY * 2 ** retries


def _deliver(installation_id: int, kind: str, retries: int) -> str:
    """One attempt; returns what happened, "retry" when a later attempt should follow."""
    installation = Installation.objects.select_related("app", "account").filter(pk=installation_id).first()
    if installation is None:
        logger.info("installation %s is gone; no %s callback", installation_id, kind)
        return "gone"
    if kind not in callbacks.Kind.values:
        logger.warning("unknown callback kind %r for installation %s", kind, installation_id)
        return "unknown kind"
    if retries and callbacks.callback_is_stale(installation=installation, kind=kind):
        logger.info("installation %s changed state; %s callback retries stop", installation_id, kind)
        return "stale"
    attempt = callbacks.callback_send(installation=installation, kind=kind, attempt=retries + 1)
    if attempt is None:
        return "no url"
    if callbacks.callback_succeeded(attempt):
        return "delivered"
    if attempt.refused or retries >= CALLBACK_MAX_RETRIES:
        if kind == callbacks.Kind.INSTALL:
            owner_notices.tell_owners_install_callback_failing(installation=installation, attempts=retries + 1)
    if attempt.refused:
        return "refused"
    if retries >= CALLBACK_MAX_RETRIES:
        logger.warning("%s callback of installation %s failed %s times; giving up", kind, installation_id, retries + 1)
        return "failed"
    return "retry"


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=CALLBACK_MAX_RETRIES)
def send_callback(self, installation_id: int, kind: str) -> str:
    """Call the app's install or uninstall callback for one installation; retry a failure up to
    CALLBACK_MAX_RETRIES times, after 30 s, 1, 2, 4 and 8 minutes. Every attempt is logged."""
    retries = self.request.retries
    while (outcome := _deliver(installation_id, kind, retries)) == "retry":
        if not self.request.is_eager:
            raise self.retry(countdown=callback_retry_delay(retries))
        retries += 1  # eager (tests, CELERY_TASK_ALWAYS_EAGER): no broker holds a delayed retry; go again now
    return outcome
