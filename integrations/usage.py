"""API usage counters in Redis: cheap enough to write on every API request.

Per installation and minute, one Redis hash ``usage:{<installation id>}:<epoch minute>`` holds two
counters, written with HINCRBY in one pipeline round trip:

- ``calls``: requests admitted into the installation's pool (including ones that then failed
  authentication or validation: they used a slot all the same);
- ``throttled``: requests refused because the pool was full;
- ``failed``: requests that named the installation (its app reference in its account) without valid
  credentials. They are counted in a pool of their own (``gateway.unauthenticated_pool``), never in
  the installation's, and shown apart from its calls.

Each hash expires after ``COUNTER_TTL_SECONDS`` (two hours), long enough for the rollup task
(integrations/tasks.py) to copy it into ``portal.models.UsageMinute`` with :func:`read_minutes`.
The time of each installation's latest call is kept in the hash ``usage:last_call``
(field = installation id, value = epoch seconds); :func:`read_last_calls` reads it. The hash
``usage:last_failed`` does the same for failed calls, so the rollup finds installations that only
had those.
Running totals that never expire, for monitoring, are kept in the hash ``usage:totals`` (fields
``<installation id>:calls`` and ``<installation id>:throttled``), in the same round trip;
:func:`read_totals` reads them (``/metrics`` sums them by app).

Minutes are "epoch minutes": whole minutes since 1970-01-01T00:00Z, on Redis's clock when written
by the gateway. :func:`minute_of` and :func:`minute_start` convert.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

import redis

from integrations.redis_client import api_redis
from portal.minutes import minute_of, minute_start

logger = logging.getLogger(__name__)

COUNTER_TTL_SECONDS = 2 * 3600
LAST_CALL_KEY = "usage:last_call"
LAST_FAILED_KEY = "usage:last_failed"
TOTALS_KEY = "usage:totals"


@dataclass(frozen=True)
class UsageCount:
    """What one installation did in one minute."""

    installation_id: int
    minute: int  # epoch minute
    calls: int
    throttled: int
    failed: int = 0

    @property
    def minute_start(self) -> datetime:
        return minute_start(self.minute)


def minute_key(installation_id: int, minute: int) -> str:
    """Redis key of one installation's counters for one epoch minute ({hash tag} per installation)."""
    return f"usage:{{{installation_id}}}:{minute}"


def record_call(*, installation_id: int, throttled: bool, at_us: int | None = None,
                client: redis.Redis | None = None) -> None:
    """Count one request of an installation in the minute of ``at_us`` (microseconds since the
    epoch; now when omitted) and remember it as the installation's latest call.

    One pipelined round trip. Raises redis errors; the gateway catches and logs them."""
    at_seconds = at_us / 1_000_000 if at_us else time.time()
    key = minute_key(installation_id, minute_of(at_seconds))
    field = "throttled" if throttled else "calls"
    pipe = (client or api_redis()).pipeline(transaction=False)
    pipe.hincrby(key, field, 1)
    pipe.expire(key, COUNTER_TTL_SECONDS)
    pipe.hincrby(TOTALS_KEY, f"{installation_id}:{field}", 1)
    if not throttled:
        pipe.hset(LAST_CALL_KEY, str(installation_id), int(at_seconds))
    pipe.execute()


# The same counting as record_call / record_failed, as Lua that runs in the limiter's script right after
# its decision (``integrations.ratelimit.SlidingLogLimiter``'s ``then``): the gateway's one round trip.
# ``allowed`` and ``now`` (Redis's clock, microseconds) come from the decision. KEYS[2] = the totals hash,
# KEYS[3] = the last-call (or last-failed) hash; ARGV[4] = 'call' or 'failed', ARGV[5] = installation id,
# ARGV[6] = the minute keys' prefix (``minute_key`` without the minute), ARGV[7] = their lifetime (seconds).
# The minute key is named from Redis's clock inside the script, so it is not among KEYS: on a Redis
# Cluster the gateway would send these writes apart (see docs/scaling.md).
RECORD_AFTER_DECISION = """
local kind = ARGV[4]
local at_s = math.floor(now / 1000000)
local minute_key = ARGV[6] .. string.format('%d', math.floor(now / 60000000))
local field = 'failed'
if kind == 'call' then
  field = 'throttled'
  if allowed == 1 then field = 'calls' end
end
redis.call('HINCRBY', minute_key, field, 1)
redis.call('EXPIRE', minute_key, tonumber(ARGV[7]))
if kind == 'call' then
  redis.call('HINCRBY', KEYS[2], ARGV[5] .. ':' .. field, 1)
end
if kind == 'failed' or allowed == 1 then
  redis.call('HSET', KEYS[3], ARGV[5], string.format('%d', at_s))
end
"""


def record_keys_args(*, installation_id: int, failed: bool) -> tuple[list[str], list]:
    """The ``then_keys`` and ``then_args`` of :data:`RECORD_AFTER_DECISION` for one request: a call of
    the installation (counted as a call or as throttled, by the decision) or a failed request naming it."""
    prefix = minute_key(installation_id, 0)[:-1]
    last = LAST_FAILED_KEY if failed else LAST_CALL_KEY
    return [TOTALS_KEY, last], ["failed" if failed else "call", str(installation_id), prefix, COUNTER_TTL_SECONDS]


def record_failed(*, installation_id: int, at_us: int | None = None, client: redis.Redis | None = None) -> None:
    """Count one request that named this installation but failed authentication (see the module
    docstring). It is not a call of the installation: ``usage:last_call`` is left alone."""
    at_seconds = at_us / 1_000_000 if at_us else time.time()
    key = minute_key(installation_id, minute_of(at_seconds))
    pipe = (client or api_redis()).pipeline(transaction=False)
    pipe.hincrby(key, "failed", 1)
    pipe.expire(key, COUNTER_TTL_SECONDS)
    pipe.hset(LAST_FAILED_KEY, str(installation_id), int(at_seconds))
    pipe.execute()


def read_minutes(installation_ids, since_minute: int | datetime, until_minute: int | datetime,
                 *, client: redis.Redis | None = None) -> list[UsageCount]:
    """The counters of these installations for the epoch minutes in [since_minute, until_minute)
    (half-open: the minute ``until_minute`` is not included; pass the current minute to leave out
    the one still being counted). Datetimes are converted with :func:`minute_of`.

    Returns only minutes with at least one call or refusal, ordered by installation and minute.
    Reading does not delete: counters expire by themselves, so rolling the same minute up twice
    yields the same numbers (write them with an upsert, not an increment)."""
    since = minute_of(since_minute) if isinstance(since_minute, datetime) else int(since_minute)
    until = minute_of(until_minute) if isinstance(until_minute, datetime) else int(until_minute)
    ids = sorted({int(pk) for pk in installation_ids})
    wanted = [(pk, minute) for pk in ids for minute in range(since, until)]
    if not wanted:
        return []
    pipe = (client or api_redis()).pipeline(transaction=False)
    for pk, minute in wanted:
        pipe.hmget(minute_key(pk, minute), "calls", "throttled", "failed")
    counts = []
    for (pk, minute), (calls, throttled, failed) in zip(wanted, pipe.execute()):
        if calls is None and throttled is None and failed is None:
            continue
        counts.append(UsageCount(installation_id=pk, minute=minute, calls=int(calls or 0),
                                 throttled=int(throttled or 0), failed=int(failed or 0)))
    return counts


def read_last_calls(installation_ids, *, client: redis.Redis | None = None) -> dict[int, datetime]:
    """When each of these installations last made an admitted API call (installations with no
    recorded call are left out). Copy it to ``Installation.last_call_at`` in the rollup."""
    ids = [int(pk) for pk in installation_ids]
    if not ids:
        return {}
    values = (client or api_redis()).hmget(LAST_CALL_KEY, [str(pk) for pk in ids])
    return {
        pk: datetime.fromtimestamp(int(value), tz=dt_timezone.utc)
        for pk, value in zip(ids, values) if value is not None
    }


def read_totals(*, client: redis.Redis | None = None) -> dict[int, UsageCount]:
    """Every installation's running totals since Redis started counting (``minute`` is 0): monotonic
    counters for monitoring, not for billing (they restart from zero if Redis loses its data)."""
    totals: dict[int, dict[str, int]] = {}
    for field, value in (client or api_redis()).hgetall(TOTALS_KEY).items():
        pk, _, kind = field.decode().partition(":")
        if pk.isdigit() and kind in ("calls", "throttled"):
            totals.setdefault(int(pk), {})[kind] = int(value)
    return {pk: UsageCount(installation_id=pk, minute=0, calls=row.get("calls", 0), throttled=row.get("throttled", 0))
            for pk, row in totals.items()}
