"""The API rate limiter: an exact sliding log in one atomic Redis script.

"200 calls per 60 s" means at most 200 calls admitted in *any* rolling 60 seconds, bursts allowed.
Each pool keeps the admit times of its most recent calls in a
Redis list (newest first), on Redis's own clock, so every process and machine shares one exact
budget. A call is admitted when fewer than ``limit`` admits fall inside the window. Limits travel
with every call, so a raised (or lowered) limit applies at the next request.

One script call = one round trip; the list never holds more than ``limit`` entries and expires
with the window when the pool goes idle.
"""

from dataclasses import dataclass

import redis

# KEYS[1] = pool key; ARGV = limit, window (microseconds), cost (0 = peek without admitting).
# Leaves allowed, remaining, reset_us and now (Redis's clock, microseconds) in locals.
SLIDING_LOG_DECIDE = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local horizon = now - window
local len = redis.call('LLEN', key)
while len > 0 do
  local oldest = tonumber(redis.call('LINDEX', key, -1))
  if oldest > horizon then break end
  redis.call('RPOP', key)
  len = len - 1
end
local allowed = 0
if cost > 0 and len < limit then
  redis.call('LPUSH', key, now)
  len = len + 1
  if len > limit then
    redis.call('LTRIM', key, 0, limit - 1)
    len = limit
  end
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  allowed = 1
end
local remaining = limit - len
if remaining < 0 then remaining = 0 end
-- A slot frees when the entry that keeps the count at the limit leaves the window; below the
-- limit, report when the oldest admit leaves (the period "resets" for it).
local reset_us = 0
if len > 0 then
  local from_tail = 0
  if len >= limit then from_tail = len - limit end
  reset_us = tonumber(redis.call('LINDEX', key, -1 - from_tail)) + window - now
end
"""
SLIDING_LOG_ANSWER = "return {allowed, remaining, reset_us, now}\n"
SLIDING_LOG = SLIDING_LOG_DECIDE + SLIDING_LOG_ANSWER


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_ms: int  # until the next slot frees (0 when idle)
    at_us: int = 0  # Redis's clock when the decision was taken (microseconds)

    @property
    def retry_after_s(self) -> int:
        """Whole seconds to wait before a refused call can succeed (for the Retry-After header)."""
        return max(1, -(-self.reset_ms // 1000)) if not self.allowed else 0


def installation_pool_name(installation_id: int) -> str:
    """The pool of an installation's API calls: the gateway admits into it, the sync engine paces it."""
    return f"installation:{installation_id}"


def pool_key(pool: str) -> str:
    """Redis key of a pool; the {hash tag} keeps one pool on one Redis Cluster slot."""
    return f"ratelimit:{{{pool}}}"


class SlidingLogLimiter:
    """The limiter on one client. ``then`` is Lua run in the same script after each decision, with
    ``allowed`` and ``now`` in scope: its own keys follow the pool's (``KEYS[2]``...) and its arguments
    the limiter's (``ARGV[4]``...), given to :meth:`hit` as ``then_keys`` and ``then_args``. The gateway
    counts usage there, so that an API call costs one Redis round trip.

    ``first`` is Lua run before the decision; it may end the script with ``return {-1, 0, 0, 0}``, and then
    :meth:`hit` returns None: nothing was decided or counted. Its keys and arguments come last (the gateway
    checks there that its copy of a token's lookup is still current: ``integrations.token_cache``)."""

    def __init__(self, client: redis.Redis, *, first: str = "", then: str = ""):
        self._client = client
        self._script = client.register_script(first + SLIDING_LOG_DECIDE + then + SLIDING_LOG_ANSWER)

    def hit(self, pool: str, *, limit: int, window_s: float, then_keys=(), then_args=()) -> Decision | None:
        """Admit one call to ``pool`` if the limit allows it; always report what is left (None only when
        ``first`` ended the script)."""
        return self._run(pool, limit=limit, window_s=window_s, cost=1, then_keys=then_keys, then_args=then_args)

    def peek(self, pool: str, *, limit: int, window_s: float) -> Decision:
        """What is left in ``pool`` without using a slot."""
        return self._run(pool, limit=limit, window_s=window_s, cost=0)

    def _run(self, pool: str, *, limit: int, window_s: float, cost: int, then_keys=(), then_args=()) -> Decision | None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be at least 1 and the window positive")
        allowed, remaining, reset_us, now_us = self._script(
            keys=[pool_key(pool), *then_keys], args=[limit, int(window_s * 1_000_000), cost, *then_args]
        )
        if allowed == -1:
            return None
        return Decision(allowed=bool(allowed), limit=limit, remaining=int(remaining),
                        reset_ms=-(-int(reset_us) // 1000), at_us=int(now_us))


# Client side (the sync engine): GCRA in reserve mode with no burst. Each caller reserves a distinct
# future slot ``interval`` after the previous one, on Redis's clock, so callers in many processes are
# paced evenly and never trip the server's sliding log. KEYS[1] = pace key; ARGV = interval (µs),
# most wait accepted (µs; a longer wait reserves nothing), key lifetime (ms).
GCRA_RESERVE = """
local key = KEYS[1]
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end
local wait = tat - now
if wait > max_wait then return {0, wait, tat} end
redis.call('SET', key, tat + interval, 'PX', tonumber(ARGV[3]) + math.ceil(wait / 1000))
return {1, wait, tat}
"""

# Push the pool's next slot to at least now + pause (after a 503/429 with Retry-After).
GCRA_PAUSE = """
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_us = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', key) or '0')
local ttl = math.ceil(tonumber(ARGV[1]) / 1000) + tonumber(ARGV[2])
if tat < until_us then
  redis.call('SET', key, until_us, 'PX', ttl)
end
-- Calls already given a slot before the pause must not go out either: they check this key last.
local held = tonumber(redis.call('GET', KEYS[2]) or '0')
if held < until_us then
  redis.call('SET', KEYS[2], until_us, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1)
end
return until_us
"""

# Microseconds the pool is still paused for (0 when it is not).
GCRA_PAUSED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
if held > now then return held - now end
return 0
"""


@dataclass(frozen=True)
class Reservation:
    reserved: bool
    wait_s: float  # how long until the slot (or, when not reserved, until the next free slot)
    slot_us: int = 0  # the slot on Redis's clock (microseconds)


def pace_key(pool: str) -> str:
    return f"pace:{{{pool}}}"


def pause_key(pool: str) -> str:
    return f"pace-hold:{{{pool}}}"


class PacedReserver:
    """Evenly paced call slots for one pool, shared by every worker (client side)."""

    def __init__(self, client: redis.Redis):
        self._reserve = client.register_script(GCRA_RESERVE)
        self._pause = client.register_script(GCRA_PAUSE)
        self._paused_for = client.register_script(GCRA_PAUSED_FOR)

    def reserve(self, pool: str, *, limit: int, window_s: float, max_wait_s: float) -> Reservation:
        """Reserve the next slot of ``pool`` at ``limit`` calls per ``window_s``, if it comes within
        ``max_wait_s``; otherwise reserve nothing and say how long until a slot is free."""
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be at least 1 and the window positive")
        interval_us = max(1, int(window_s * 1_000_000 / limit))
        reserved, wait_us, slot_us = self._reserve(
            keys=[pace_key(pool)], args=[interval_us, int(max_wait_s * 1_000_000), int(window_s * 1000)]
        )
        return Reservation(reserved=bool(reserved), wait_s=int(wait_us) / 1_000_000, slot_us=int(slot_us))

    def pause(self, pool: str, *, seconds: float) -> None:
        """No slot of ``pool`` before ``seconds`` from now (the server said to wait)."""
        self._pause(keys=[pace_key(pool), pause_key(pool)], args=[int(seconds * 1_000_000), 60_000])

    def paused_for(self, pool: str) -> float:
        """Seconds the pool is still paused for (0.0 when it is not): checked right before sending, so
        that a call whose slot was reserved before the pause does not go out during it."""
        return int(self._paused_for(keys=[pause_key(pool)])) / 1_000_000
