"""The sliding-log limiter against a real Redis: never more than the limit in any window."""

import multiprocessing
import os
import random
import threading
import time
import uuid

import pytest
import redis

from integrations.ratelimit import SlidingLogLimiter, pool_key


@pytest.fixture
def client():
    connection = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    yield connection
    connection.close()


@pytest.fixture
def limiter(client):
    return SlidingLogLimiter(client)


def pool() -> str:
    return f"test-{uuid.uuid4().hex}"


def most_in_any_window(admit_times_us: list[int], window_us: int) -> int:
    """The largest number of admits inside any half-open window (t - W, t]."""
    times = sorted(admit_times_us)
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window_us:
            start += 1
        best = max(best, end - start + 1)
    return best


class FixedWindowLimiter:
    """A deliberately naive counter per calendar window, to show the checker catches it."""

    def __init__(self, client):
        self._script = client.register_script("""
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
            local bucket = KEYS[1] .. ':' .. math.floor(now / tonumber(ARGV[2]))
            local n = redis.call('INCR', bucket)
            redis.call('PEXPIRE', bucket, 10000)
            if n <= tonumber(ARGV[1]) then return {1, now} end
            return {0, now}
        """)

    def hit(self, name, *, limit, window_s):
        allowed, now = self._script(keys=[name], args=[limit, int(window_s * 1_000_000)])
        return bool(allowed), int(now)


def edge_burst_trace(hit, *, limit, window_s, redis_now_us):
    """Wait until shortly before a window edge (on Redis's clock), then burst every 30 ms across it."""
    window_us = int(window_s * 1_000_000)
    for _attempt in range(5):
        admitted = []
        now_us = redis_now_us()
        edge = (now_us // window_us + 1) * window_us
        if edge - now_us < 100_000:
            edge += window_us
        time.sleep(max(0.0, (edge - now_us) / 1_000_000 - 0.045))
        started_at = None
        for _ in range(4):
            for _ in range(limit + 5):
                allowed, at = hit()
                started_at = at if started_at is None else started_at
                if allowed:
                    admitted.append(at)
            time.sleep(0.03)
        # A busy machine may wake up too late: then the burst did not start before the edge; try again two
        # windows on, so that this attempt's calls are out of every window of the next.
        if started_at < edge:
            return admitted
        time.sleep(window_s)
    raise AssertionError("could not burst across a window edge in five attempts")


def redis_clock(client):
    def now_us():
        seconds, micros = client.time()
        return seconds * 1_000_000 + micros

    return now_us


def test_checker_catches_a_naive_fixed_window_limiter(client):
    # given a fixed-window limiter hit with bursts at a window edge
    naive = FixedWindowLimiter(client)
    name = pool()
    admitted = edge_burst_trace(lambda: naive.hit(name, limit=20, window_s=0.5), limit=20, window_s=0.5,
                                redis_now_us=redis_clock(client))
    # then the window checker sees more than the limit admitted in one rolling window
    assert most_in_any_window(admitted, 500_000) > 20


def test_edge_bursts_never_exceed_the_limit(limiter, client):
    name = pool()
    admitted = edge_burst_trace(lambda: _hit(limiter, name, 20, 0.5), limit=20, window_s=0.5,
                                redis_now_us=redis_clock(client))
    assert len(admitted) >= 20
    assert most_in_any_window(admitted, 500_000) <= 20


def _hit(limiter, name, limit, window_s):
    decision = limiter.hit(name, limit=limit, window_s=window_s)
    return decision.allowed, decision.at_us


def test_random_trace_is_exact_and_uses_the_budget(limiter):
    # given a random mix of bursts and pauses over several windows
    rng = random.Random(7)
    name, limit, window_s = pool(), 25, 0.4
    admitted, deadline = [], time.monotonic() + 2.0
    while time.monotonic() < deadline:
        for _ in range(rng.randint(1, 15)):
            allowed, at = _hit(limiter, name, limit, window_s)
            if allowed:
                admitted.append(at)
        time.sleep(rng.choice([0, 0, 0.005, 0.02, 0.1]))
    # then the limit holds in every window, and the limiter admitted close to what it allows
    assert most_in_any_window(admitted, int(window_s * 1_000_000)) == limit


def test_many_threads_on_one_key(client):
    name, limit, window_s = pool(), 50, 1.0
    admitted, lock = [], threading.Lock()

    def worker():
        local = SlidingLogLimiter(redis.Redis.from_url(os.environ["REDIS_URL"]))
        for _ in range(60):
            allowed, at = _hit(local, name, limit, window_s)
            if allowed:
                with lock:
                    admitted.append(at)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == limit  # 480 attempts within a second: exactly the limit admitted
    assert most_in_any_window(admitted, 1_000_000) == limit


def _process_worker(url, name, limit, window_s, attempts, queue):
    local = SlidingLogLimiter(redis.Redis.from_url(url))
    times = []
    for _ in range(attempts):
        decision = local.hit(name, limit=limit, window_s=window_s)
        if decision.allowed:
            times.append(decision.at_us)
    queue.put(times)


def test_many_processes_on_one_key():
    name, limit, window_s = pool(), 40, 0.5
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_process_worker, args=(os.environ["REDIS_URL"], name, limit, window_s, 400, queue))
        for _ in range(4)
    ]
    for process in processes:
        process.start()
    admitted = [at for _ in processes for at in queue.get(timeout=60)]
    for process in processes:
        process.join(timeout=30)
    assert most_in_any_window(admitted, 500_000) <= limit
    assert len(admitted) >= limit


def test_headers_values_count_down_and_report_when_a_slot_frees(limiter):
    name = pool()
    decisions = [limiter.hit(name, limit=3, window_s=60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(59_000 <= d.reset_ms <= 60_000 for d in decisions)
    assert decisions[-1].retry_after_s == 60
    # peeking does not use a slot
    assert limiter.peek(name, limit=4, window_s=60).remaining == 1
    assert limiter.peek(name, limit=4, window_s=60).remaining == 1


def test_a_raised_limit_applies_at_once_and_a_lowered_one_too(limiter):
    name = pool()
    for _ in range(3):
        limiter.hit(name, limit=3, window_s=60)
    assert not limiter.hit(name, limit=3, window_s=60).allowed
    # raising: the next call with the new limit is admitted
    assert limiter.hit(name, limit=5, window_s=60).allowed
    # falling back: with the default again, nothing more is admitted and remaining is 0
    fallback = limiter.hit(name, limit=3, window_s=60)
    assert not fallback.allowed and fallback.remaining == 0


def test_slots_free_as_the_window_slides(limiter):
    # given two calls admitted a little apart in a 3 s window
    name = pool()
    first = limiter.hit(name, limit=2, window_s=3)
    assert first.allowed
    time.sleep(0.15)
    assert limiter.hit(name, limit=2, window_s=3).allowed
    # then the third waits exactly until the first leaves the window (on Redis's clock)...
    refused = limiter.hit(name, limit=2, window_s=3)
    assert not refused.allowed
    assert abs(refused.reset_ms - (first.at_us + 3_000_000 - refused.at_us) / 1000) <= 1
    # ... and is admitted once it has
    time.sleep(refused.reset_ms / 1000 + 0.01)
    assert limiter.hit(name, limit=2, window_s=3).allowed


def test_idle_pools_expire(limiter, client):
    name = pool()
    limiter.hit(name, limit=5, window_s=1)
    assert client.exists(pool_key(name))
    # the key expires after the window: wait for it rather than for a fixed time
    deadline = time.monotonic() + 15
    while client.exists(pool_key(name)):
        assert time.monotonic() < deadline, "the idle pool's key did not expire"
        time.sleep(0.1)


def test_bad_limits_are_refused(limiter):
    with pytest.raises(ValueError):
        limiter.hit(pool(), limit=0, window_s=60)
