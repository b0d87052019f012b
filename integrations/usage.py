"""API usage counters in Redis: cheap enough to write on every API request.

Where they are written
----------------------
The gateway counts each request inside the limiter's own script (:data:`RECORD_AFTER_DECISION`, appended to
``integrations.ratelimit``'s sliding log), so a request that ends in a 2xx costs exactly one Redis round trip,
decision and counting together. Everything the gateway knows *before* the view runs travels as script
arguments: the endpoint class and the search hash (computed in Python by :func:`request_fields`), whether the
gateway itself refuses the admitted request (expired token, wrong app reference, disabled installation,
account mismatch...: ``Identity.refusal``) and whether the access token had expired. A view's own 4xx or 5xx
is only known after the view: then, and only then (status >= 400), the gateway sends one more small pipeline
(:func:`record_status`) that adds it to the same minute. The hot path never pays for it.

The hashes
----------
Per installation and minute, one Redis hash ``usage:{<installation id>}:<epoch minute>``; per account's
staff-token pool and minute, ``usage:{staff:<account id>}:<epoch minute>``. Fields (all HINCRBY counters):

- ``calls``: requests admitted into the pool (including ones that then failed authorisation or validation:
  they used a slot all the same);
- ``throttled``: requests refused because the pool was full;
- ``failed`` (installations only): requests that named the installation (its app reference in its account)
  without valid credentials. They are counted in a pool of their own (``gateway.unauthenticated_pool``),
  never in the installation's, and shown apart from its calls; none of the fields below counts them;
- ``4xx`` / ``5xx``: admitted calls answered with such a status: the gateway's own refusals (counted in the
  script) and the view's answers (counted after the response by :func:`record_status`);
- ``wait``: requests (admitted or throttled) sent while a Retry-After the pool had been given had not run
  out. When the script refuses a request it stores the end of the wait it announces (now + the Retry-After
  seconds the gateway sends, ``max(1, ceil(reset_us / 1e6))``) in ``usage:{<id>}:wait`` (microseconds on
  Redis's clock, expiring with the wait); every request checks that key before anything else;
- ``expired``: requests sent with an access token past its expiry;
- ``off``: of the failed requests, those that named the installation while it was turned off;
- ``e|<endpoint class>``: requests (admitted or throttled) per endpoint class (:func:`endpoint_class`);
- ``sq|<search hash>``: how often one identical search (method, path and query, :func:`search_hash`) was
  sent in the minute; a working field, left out by the rollup;
- ``rep|<endpoint class>``: requests of a search endpoint that repeated an identical search already sent in
  the same minute (the ``sq|`` counter was above 1 after the increment).

Each hash expires after ``COUNTER_TTL_SECONDS`` (two hours), long enough for the rollup task
(integrations/tasks.py) to copy it into ``portal.models.UsageMinute`` (and ``StaffUsageMinute``) with
:func:`read_minutes` and :func:`read_staff_minutes`. The time of each installation's latest admitted call is
kept in the hash ``usage:last_call`` (field = installation id, value = epoch seconds); :func:`read_last_calls`
reads it. ``usage:last_failed`` does the same for failed calls, and ``usage:last_staff_call`` (field = account
id) for staff-token pools, so the rollup finds every pool that had something to count.
Running totals that never expire, for monitoring, are kept in the hash ``usage:totals`` (fields
``<installation id>:calls`` and ``<installation id>:throttled``), in the same round trip;
:func:`read_totals` reads them (``/metrics`` sums them by app). Staff pools have none.

Alerts signal
-------------
For installation pools, the script also tells when the pool nears or reaches its limit. After the decision,
the level is 100 when the request was refused or the pool is now full (``len >= limit``), else 80 when
``len >= ceil(0.8 * limit)``. For a level, ``SET usage:{<id>}:alert:<level>:<epoch day> 1 NX EX 90000``
(epoch day = whole days since 1970-01-01 on Redis's clock); only when that SET succeeds (the first time that
day), ``RPUSH`` onto the list :data:`ALERTS_KEY` (``usage:alerts``) the entry
``"<installation id>:<level>:<epoch seconds>:<requests in window>:<limit>"`` (:data:`ALERT_FORMAT`), where the
requests in the window are ``len``, plus one when refused, and ``limit`` is the pool's limit per window.
The alerts consumer (``integrations.usage_alert_consumer``) reads the list and removes each entry once it is stored.

Redis Cluster
-------------
The minute hashes, the wait key and the alert keys carry the pool's hash tag, but they are named inside the
script from Redis's clock, and the totals, latest-call hashes and the alerts list are shared by every pool:
none of them are in the pool key's slot. On a Redis Cluster these writes would have to move out of the
limiter's script (a second pipeline per call, or per-slot totals and alert lists); see docs/scaling.md.

Minutes are "epoch minutes": whole minutes since 1970-01-01T00:00Z, on Redis's clock when written by the
gateway. :func:`minute_of` and :func:`minute_start` convert.
"""

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone as dt_timezone

import redis

from integrations.redis_client import api_redis
from portal.minutes import minute_of, minute_start
from portal.models import UsageFigures

logger = logging.getLogger(__name__)

COUNTER_TTL_SECONDS = 2 * 3600
LAST_CALL_KEY = "usage:last_call"
LAST_FAILED_KEY = "usage:last_failed"
LAST_STAFF_CALL_KEY = "usage:last_staff_call"
TOTALS_KEY = "usage:totals"
ALERTS_KEY = "usage:alerts"
# One entry of ALERTS_KEY: installation id, level (80 or 100), when (epoch seconds, Redis's clock), requests in
# the window then (admitted, plus the refused one), and the pool's limit per window.
ALERT_FORMAT = "<installation id>:<level>:<epoch seconds>:<requests in window>:<limit>"
ALERT_KEY_TTL_SECONDS = 90_000  # a day and a bit: the key only has to outlive its epoch day

# Hash fields (see the module docstring).
CALLS, THROTTLED, FAILED = "calls", "throttled", "failed"
STATUS_4XX, STATUS_5XX, IN_RETRY_WAIT, EXPIRED_TOKEN, WHILE_OFF = "4xx", "5xx", "wait", "expired", "off"
ENDPOINT_PREFIX, SEARCH_PREFIX, REPEAT_PREFIX = "e|", "sq|", "rep|"


@dataclass(frozen=True)
class UsageCount:
    """What one pool (an installation's, or an account's staff-token pool: ``installation_id`` is then the
    account's id) did in one minute."""

    installation_id: int
    minute: int  # epoch minute
    calls: int
    throttled: int
    failed: int = 0
    status_4xx: int = 0
    status_5xx: int = 0
    in_retry_wait: int = 0
    expired_token: int = 0
    while_off: int = 0
    endpoints: dict[str, int] = field(default_factory=dict, hash=False)
    repeated_searches: dict[str, int] = field(default_factory=dict, hash=False)

    @property
    def minute_start(self) -> datetime:
        return minute_start(self.minute)

    def figures(self) -> dict:
        """The figures by the names of ``portal.models.UsageFigures``'s fields."""
        return {**{name: getattr(self, name) for name in UsageFigures.COUNTERS},
                **{name: dict(getattr(self, name)) for name in UsageFigures.BY_ENDPOINT}}


def installation_prefix(installation_id: int) -> str:
    """What the keys of an installation's usage start with: ``usage:{<id>}:`` (then the minute, ``wait`` or
    ``alert:<level>:<day>``)."""
    return f"usage:{{{installation_id}}}:"


def staff_prefix(account_id: int) -> str:
    return f"usage:{{staff:{account_id}}}:"


def minute_key(installation_id: int, minute: int) -> str:
    """Redis key of one installation's counters for one epoch minute ({hash tag} per installation)."""
    return f"{installation_prefix(installation_id)}{minute}"


def staff_minute_key(account_id: int, minute: int) -> str:
    """Redis key of one account's staff-token pool counters for one epoch minute."""
    return f"{staff_prefix(account_id)}{minute}"


# --- Endpoint classes ----------------------------------------------------------------------------------

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_RESOURCE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_ID_CHARS = frozenset("0123456789,-")
MAX_RESOURCE_SEGMENTS = 3
MAX_SEGMENT_LENGTH = 40
API_PREFIX = "public-api"


def _is_id(segment: str) -> bool:
    """``5``, ``1,2,3``, ``1-200``, ``1-3,7``: digits, with commas between items and one hyphen per range."""
    if segment.isdigit():
        return segment.isascii()
    if not _ID_CHARS.issuperset(segment):
        return False
    for item in segment.split(","):
        low, dash, high = item.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            return False
    return True


def _segments(path: str) -> list[str]:
    """The path's non-empty segments after ``/public-api/<account>/`` (a path without that prefix is taken as
    already relative to the account), without the query string."""
    segments = [segment for segment in path.partition("?")[0].split("/") if segment]
    if segments and segments[0] == API_PREFIX:
        return segments[2:]
    return segments


def _classify(method: str, segments: list[str]) -> str:
    method = method.upper()
    if method not in _METHODS:
        method = "OTHER"
    resource: list[str] = []
    has_id = id_set = False
    for segment in segments:
        if _is_id(segment):
            has_id = True
            id_set = id_set or "," in segment or "-" in segment
        elif len(segment) > MAX_SEGMENT_LENGTH or not _RESOURCE_CHARS.issuperset(segment):
            return f"{method} other other"
        else:
            resource.append(segment)
    if not resource:
        return f"{method} other other"
    del resource[MAX_RESOURCE_SEGMENTS:]
    if resource[-1].endswith("-search"):
        kind = "search"
    elif id_set:
        kind = "idset"
    elif has_id:
        kind = "single"
    else:
        kind = "collection"
    return f"{method} {'/'.join(resource)} {kind}"


def endpoint_class(method: str, path: str) -> str:
    """The endpoint class of an API request: ``"<METHOD> <resource path> <kind>"``, three words separated by
    single spaces (split them with ``key.split(" ")``).

    ``path`` is the request's path (``/public-api/<account>/...``; the query string, if any, and empty segments
    are dropped). ID segments are digits, commas and hyphen ranges (``5``, ``1,2,3``, ``1-200``, ``1-3,7``); the
    resource path is the other segments, the first three of them, joined by ``/``; each must be made of
    ``[a-z0-9-]`` and at most 40 characters long, or the class is ``"<METHOD> other other"`` (also when there is
    no resource segment). The kind is ``search`` when the last resource segment kept ends in ``-search``, else
    ``idset`` when an ID segment holds a comma or a range, else ``single`` when there is an ID, else
    ``collection``. Methods other than GET, POST, PUT, PATCH, DELETE, HEAD and OPTIONS are ``OTHER``.

    ``("GET", "/public-api/acme/product-service/product/5/custom-field")`` ->
    ``"GET product-service/product/custom-field single"``."""
    return _classify(method, _segments(path))


def search_hash(method: str, path: str, query: str = "") -> str:
    """12 hex characters naming one search: the method, the path's segments after the account and the query
    string's parameters in sorted order (so ``?a=1&b=2`` and ``?b=2&a=1`` are the same search)."""
    return _search_hash(method, _segments(path), query)


def _search_hash(method: str, segments: list[str], query: str) -> str:
    if "&" in query:
        query = "&".join(sorted(part for part in query.split("&") if part))
    normal = f"{method.upper()} {'/'.join(segments)}?{query}"
    return hashlib.blake2b(normal.encode("utf-8", "surrogateescape"), digest_size=6).hexdigest()


def request_fields(method: str, path: str, query: str) -> tuple[str, str, str]:
    """The hash fields one request increments (script arguments): ``e|<class>``, and for a search ``sq|<hash>``
    and ``rep|<class>`` (empty strings otherwise)."""
    segments = _segments(path)
    klass = _classify(method, segments)
    if not klass.endswith(" search"):
        return ENDPOINT_PREFIX + klass, "", ""
    return ENDPOINT_PREFIX + klass, SEARCH_PREFIX + _search_hash(method, segments, query), REPEAT_PREFIX + klass


# --- Counting in the limiter's script ------------------------------------------------------------------

# The counting, as Lua that runs in the limiter's script right after its decision (``SlidingLogLimiter``'s
# ``then``): the gateway's one round trip. ``allowed``, ``now`` (Redis's clock, microseconds), ``len``,
# ``limit`` and ``reset_us`` come from the decision.
# KEYS[2] = the totals hash, KEYS[3] = the latest-call hash (installation, failed or staff), KEYS[4] = the
# alerts list. ARGV[4] = 'call' (an installation's pool), 'staff' (an account's staff pool) or 'failed' (a
# failed request naming an installation), ARGV[5] = the installation's (or account's) id, ARGV[6] = the prefix
# of its usage keys (``installation_prefix``), ARGV[7] = the minute hashes' lifetime (seconds), ARGV[8] = '1'
# to count the details below ('0': calls/throttled/failed only; for 'failed', '1' when the installation is
# turned off), ARGV[9] = '1' when the gateway refuses the
# request itself, ARGV[10] = '1' when its access token had expired, ARGV[11] = its 'e|<class>' field,
# ARGV[12] = its 'sq|<hash>' field or '', ARGV[13] = its 'rep|<class>' field or ''.
RECORD_AFTER_DECISION = """
local kind = ARGV[4]
local prefix = ARGV[6]
local ttl = tonumber(ARGV[7])
local at_s = string.format('%d', math.floor(now / 1000000))
local minute_key = prefix .. string.format('%d', math.floor(now / 60000000))
if kind == 'failed' then
  redis.call('HINCRBY', minute_key, 'failed', 1)
  if ARGV[8] == '1' then redis.call('HINCRBY', minute_key, 'off', 1) end
  redis.call('EXPIRE', minute_key, ttl)
  redis.call('HSET', KEYS[3], ARGV[5], at_s)
else
  local detail = ARGV[8] == '1'
  if detail then
    local wait_key = prefix .. 'wait'
    local wait_end = tonumber(redis.call('GET', wait_key) or '0')
    if wait_end > now then redis.call('HINCRBY', minute_key, 'wait', 1) end
    if allowed == 0 then
      local retry_us = math.max(1, math.ceil(reset_us / 1000000)) * 1000000
      if now + retry_us > wait_end then
        redis.call('SET', wait_key, string.format('%d', now + retry_us), 'PX', string.format('%d', retry_us / 1000))
      end
    elseif ARGV[9] == '1' then
      redis.call('HINCRBY', minute_key, '4xx', 1)
    end
    if ARGV[10] == '1' then redis.call('HINCRBY', minute_key, 'expired', 1) end
    redis.call('HINCRBY', minute_key, ARGV[11], 1)
    if ARGV[12] ~= '' and redis.call('HINCRBY', minute_key, ARGV[12], 1) > 1 then
      redis.call('HINCRBY', minute_key, ARGV[13], 1)
    end
  end
  local field = 'throttled'
  if allowed == 1 then field = 'calls' end
  redis.call('HINCRBY', minute_key, field, 1)
  redis.call('EXPIRE', minute_key, ttl)
  if kind == 'call' then
    redis.call('HINCRBY', KEYS[2], ARGV[5] .. ':' .. field, 1)
  end
  if allowed == 1 then redis.call('HSET', KEYS[3], ARGV[5], at_s) end
  if detail and kind == 'call' then
    local level = 0
    if allowed == 0 or len >= limit then level = 100 elseif len >= math.ceil(4 * limit / 5) then level = 80 end
    if level > 0 then
      local day = string.format('%d', math.floor(now / 86400000000))
      if redis.call('SET', prefix .. 'alert:' .. level .. ':' .. day, 1, 'NX', 'EX', ALERT_KEY_TTL) then
        local seen = len
        if allowed == 0 then seen = len + 1 end
        redis.call('RPUSH', KEYS[4], ARGV[5] .. ':' .. level .. ':' .. at_s .. ':' .. seen .. ':' .. limit)
      end
    end
  end
end
""".replace("ALERT_KEY_TTL", str(ALERT_KEY_TTL_SECONDS))

_NO_DETAIL = ("0", "0", "0", "", "", "")


def record_keys_args(*, installation_id: int | None = None, failed: bool = False, staff_account_id: int | None = None,
                     refused: bool = False, expired_token: bool = False, while_off: bool = False,
                     fields: tuple[str, str, str] | None = None) -> tuple[list[str], list]:
    """The ``then_keys`` and ``then_args`` of :data:`RECORD_AFTER_DECISION` for one request: a call of the
    installation, or of the account's staff pool (``staff_account_id``), counted as a call or as throttled by
    the decision; or a failed request naming the installation (``failed``; ``while_off`` when the installation
    is turned off: the app kept calling after the account turned it off).

    ``fields`` (from :func:`request_fields`) turns on the detailed figures: ``refused`` (the gateway refuses
    the admitted request itself: a 4xx), ``expired_token``, the endpoint and the repeated search; without it
    only calls, throttled and failed are counted, as before the details existed (the benchmark's baseline)."""
    if staff_account_id is not None:
        kind, pk, prefix, last = "staff", staff_account_id, staff_prefix(staff_account_id), LAST_STAFF_CALL_KEY
    elif failed:
        kind, pk, prefix, last = "failed", installation_id, installation_prefix(installation_id), LAST_FAILED_KEY
    else:
        kind, pk, prefix, last = "call", installation_id, installation_prefix(installation_id), LAST_CALL_KEY
    if failed:
        detail = ("1" if while_off else "0", *_NO_DETAIL[1:])
    else:
        detail = _NO_DETAIL if fields is None else ("1", "1" if refused else "0", "1" if expired_token else "0",
                                                    *fields)
    return [TOTALS_KEY, last, ALERTS_KEY], [kind, str(pk), prefix, COUNTER_TTL_SECONDS, *detail]


def record_status(*, status: int, at_us: int, installation_id: int | None = None, staff_account_id: int | None = None,
                  client: redis.Redis | None = None) -> None:
    """Count a view's own 4xx or 5xx answer to an admitted call, in the minute the call was counted in
    (``at_us``: the decision's time on Redis's clock). One small pipeline, sent only for statuses >= 400."""
    if status < 400:
        return
    minute = at_us // 60_000_000
    if staff_account_id is not None:
        key = staff_minute_key(staff_account_id, minute)
    else:
        key = minute_key(installation_id, minute)
    pipe = (client or api_redis()).pipeline(transaction=False)
    pipe.hincrby(key, STATUS_5XX if status >= 500 else STATUS_4XX, 1)
    pipe.expire(key, COUNTER_TTL_SECONDS)
    pipe.execute()


def record_call(*, installation_id: int, throttled: bool, at_us: int | None = None,
                client: redis.Redis | None = None) -> None:
    """Count one request of an installation in the minute of ``at_us`` (microseconds since the
    epoch; now when omitted) and remember it as the installation's latest call (calls and throttled only: for
    tests and tools; the gateway counts in its script).

    One pipelined round trip."""
    at_seconds = at_us / 1_000_000 if at_us else time.time()
    key = minute_key(installation_id, minute_of(at_seconds))
    field_name = THROTTLED if throttled else CALLS
    pipe = (client or api_redis()).pipeline(transaction=False)
    pipe.hincrby(key, field_name, 1)
    pipe.expire(key, COUNTER_TTL_SECONDS)
    pipe.hincrby(TOTALS_KEY, f"{installation_id}:{field_name}", 1)
    if not throttled:
        pipe.hset(LAST_CALL_KEY, str(installation_id), int(at_seconds))
    pipe.execute()


def record_failed(*, installation_id: int, at_us: int | None = None, client: redis.Redis | None = None) -> None:
    """Count one request that named this installation but failed authentication (see the module
    docstring). It is not a call of the installation: ``usage:last_call`` is left alone."""
    at_seconds = at_us / 1_000_000 if at_us else time.time()
    key = minute_key(installation_id, minute_of(at_seconds))
    pipe = (client or api_redis()).pipeline(transaction=False)
    pipe.hincrby(key, FAILED, 1)
    pipe.expire(key, COUNTER_TTL_SECONDS)
    pipe.hset(LAST_FAILED_KEY, str(installation_id), int(at_seconds))
    pipe.execute()


# --- Reading -------------------------------------------------------------------------------------------

_SCALARS = {CALLS: "calls", THROTTLED: "throttled", FAILED: "failed", STATUS_4XX: "status_4xx",
            STATUS_5XX: "status_5xx", IN_RETRY_WAIT: "in_retry_wait", EXPIRED_TOKEN: "expired_token",
            WHILE_OFF: "while_off"}


def _count_of(pk: int, minute: int, raw: dict) -> UsageCount:
    scalars: dict[str, int] = {}
    endpoints: dict[str, int] = {}
    repeated: dict[str, int] = {}
    for name, value in raw.items():
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
        if name in _SCALARS:
            scalars[_SCALARS[name]] = int(value)
        elif name.startswith(ENDPOINT_PREFIX):
            endpoints[name[len(ENDPOINT_PREFIX):]] = int(value)
        elif name.startswith(REPEAT_PREFIX):
            repeated[name[len(REPEAT_PREFIX):]] = int(value)
        # SEARCH_PREFIX fields only serve the script
    counters = {name: scalars.get(name, 0) for name in _SCALARS.values()}
    return UsageCount(installation_id=pk, minute=minute, **counters, endpoints=endpoints, repeated_searches=repeated)


# Reads the hashes of KEYS and answers, as one JSON array, for each one with something counted its position
# (1-based) then its fields and values (as HGETALL gives them): ``[3, ["calls", "7"], 9, [...]]``. One command
# per batch instead of one per key, nothing sent back for the many minutes without calls, and one string to
# parse instead of a reply per field. Read-only. (On a Redis Cluster, one call may only name keys of one slot:
# one installation's minutes share its hash tag.)
READ_HASHES = """
local found = {}
for i, key in ipairs(KEYS) do
  local fields = redis.call('HGETALL', key)
  if #fields > 0 then
    found[#found + 1] = i
    found[#found + 1] = fields
  end
end
if #found == 0 then return '[]' end
return cjson.encode(found)
"""
# Keys per script call: each call keeps Redis to itself for about 0.3 ms, which a gateway call may have to wait.
READ_KEYS_PER_CALL = 250


def _read(key_of, ids, since_minute, until_minute, client) -> list[UsageCount]:
    since = minute_of(since_minute) if isinstance(since_minute, datetime) else int(since_minute)
    until = minute_of(until_minute) if isinstance(until_minute, datetime) else int(until_minute)
    wanted = [(pk, minute) for pk in sorted({int(pk) for pk in ids}) for minute in range(since, until)]
    if not wanted:
        return []
    client = client or api_redis()
    script = client.register_script(READ_HASHES)
    counts = []
    for start in range(0, len(wanted), READ_KEYS_PER_CALL):
        chunk = wanted[start:start + READ_KEYS_PER_CALL]
        found = json.loads(script(keys=[key_of(pk, minute) for pk, minute in chunk]).decode("utf-8", "replace"))
        for position, flat in zip(found[::2], found[1::2]):
            pk, minute = chunk[position - 1]
            counts.append(_count_of(pk, minute, dict(zip(flat[::2], flat[1::2]))))
    return counts


def read_minutes(installation_ids, since_minute: int | datetime, until_minute: int | datetime,
                 *, client: redis.Redis | None = None) -> list[UsageCount]:
    """The counters of these installations for the epoch minutes in [since_minute, until_minute)
    (half-open: the minute ``until_minute`` is not included; pass the current minute to leave out
    the one still being counted). Datetimes are converted with :func:`minute_of`.

    Returns only minutes with something counted, ordered by installation and minute.
    Reading does not delete: counters expire by themselves, so rolling the same minute up twice
    yields the same numbers (write them with an upsert, not an increment)."""
    return _read(minute_key, installation_ids, since_minute, until_minute, client)


def read_staff_minutes(account_ids, since_minute: int | datetime, until_minute: int | datetime,
                       *, client: redis.Redis | None = None) -> list[UsageCount]:
    """:func:`read_minutes` for accounts' staff-token pools (``installation_id`` holds the account's id)."""
    return _read(staff_minute_key, account_ids, since_minute, until_minute, client)


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
    for name, value in (client or api_redis()).hgetall(TOTALS_KEY).items():
        pk, _, kind = name.decode().partition(":")
        if pk.isdigit() and kind in ("calls", "throttled"):
            totals.setdefault(int(pk), {})[kind] = int(value)
    return {pk: UsageCount(installation_id=pk, minute=0, calls=row.get("calls", 0), throttled=row.get("throttled", 0))
            for pk, row in totals.items()}
