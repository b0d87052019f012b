"""The limiter beside its peers, for ``make bench`` (tools/bench.py). Needs Django set up (DRF's throttle
and the fixed-window counter use the Django cache, on the same Redis as the others).

Four limiters, each asked "may this call go?" for one pool at ``limit`` calls per ``window_s``:

- ``ours``: the sliding log (integrations.ratelimit), one Lua script, Redis's clock;
- ``limits``: the `limits` library's moving window on Redis (also one Lua script, also exact);
- ``fixed``: a counter per clock-aligned window, as django-ratelimit counts (cache ``add`` then ``incr``);
- ``drf``: Django REST framework's ``SimpleRateThrottle`` on the Redis cache (reads the history list, then
  writes it back: two round trips, not atomic).

Speed: sequential decisions, interleaved in rounds (A, B, C, D, A, B, ...), per-call p50 and p99.
Exactness: the most calls any of them admitted inside one rolling window, on two adversarial traces: an
edge burst (``limit`` calls just before a clock-aligned window boundary, ``limit`` more just after), and
many processes racing on one pool. Admission times are bounded by each call's send and answer times; a
call counts inside a window only when both fall inside it, so a count above the limit proves a breach.
"""

import multiprocessing
import os
import time
import uuid

NAMES = ("ours", "limits", "fixed", "drf")


class _Request:
    """Enough of a DRF request for SimpleRateThrottle (which reads nothing from it here)."""


def make_limiters(limit: int, window_s: int) -> dict:
    """name -> allow(key) -> bool, each on its own key space of the same Redis."""
    import redis
    from django.core.cache import cache
    from limits import RateLimitItemPerSecond, storage, strategies
    from rest_framework.throttling import SimpleRateThrottle

    from integrations.ratelimit import SlidingLogLimiter

    url = os.environ["REDIS_URL"]
    ours = SlidingLogLimiter(redis.Redis.from_url(url))
    moving = strategies.MovingWindowRateLimiter(storage.storage_from_string(url))
    item = RateLimitItemPerSecond(limit, window_s)

    def fixed(key: str) -> bool:
        # django-ratelimit's counting: one counter per window that starts on the clock's multiples.
        bucket = f"bench-fixed:{key}:{int(time.time() // window_s)}"
        cache.add(bucket, 0, window_s + 1)
        try:
            return cache.incr(bucket) <= limit
        except ValueError:  # expired between add and incr
            cache.add(bucket, 1, window_s + 1)
            return True

    class Throttle(SimpleRateThrottle):
        rate = f"{limit}/s"

        def __init__(self, key):
            self.key_value = key
            super().__init__()

        def parse_rate(self, rate):
            return limit, window_s

        def get_cache_key(self, request, view):
            return f"bench-drf:{self.key_value}"

    request = _Request()
    return {
        "ours": lambda key: ours.hit(key, limit=limit, window_s=window_s).allowed,
        "limits": lambda key: moving.hit(item, "bench", key),
        "fixed": fixed,
        "drf": lambda key: Throttle(key).allow_request(request, None),
    }


def speed(*, rounds: int = 8, calls: int = 1000) -> dict:
    """Sequential decisions per second, p50 and p99 of each limiter, interleaved in rounds. The pools
    are 500 (limit 200 per 60 s) as for the gateway, so no call is refused and no history grows long."""
    limiters = make_limiters(200, 60)
    tag = uuid.uuid4().hex[:8]
    pools = [f"{tag}-{n}" for n in range(500)]
    samples = {name: [] for name in NAMES}
    elapsed = dict.fromkeys(NAMES, 0.0)
    for name in NAMES:  # warm connections and script caches
        for pool in pools[:20]:
            limiters[name](f"warm-{pool}")
    for r in range(rounds):
        for name in NAMES:
            allow, out = limiters[name], samples[name]
            began = time.perf_counter()
            for i in range(calls):
                started = time.perf_counter_ns()
                allow(pools[(r * calls + i) % len(pools)])
                out.append((time.perf_counter_ns() - started) / 1e6)
            elapsed[name] += time.perf_counter() - began
    figures = {}
    for name in NAMES:
        ordered = sorted(samples[name])
        figures[f"{name}_decisions_per_s"] = len(ordered) / elapsed[name]
        figures[f"{name}_p50_ms"] = ordered[len(ordered) // 2]
        figures[f"{name}_p99_ms"] = ordered[int(len(ordered) * 0.99)]
    return figures


def most_in_window(calls: list[tuple[float, float]], window_s: float) -> int:
    """The most admitted calls certainly inside one rolling window: for each call's send time, the calls
    sent at or after it and answered within ``window_s`` of it."""
    calls = sorted(calls)
    best = 0
    for i, (start, _) in enumerate(calls):
        horizon = start + window_s
        count = 0
        for sent, answered in calls[i:]:
            if sent > horizon:
                break
            if answered <= horizon:
                count += 1
        best = max(best, count)
    return best


def edge_burst(*, limit: int = 20, window_s: int = 1) -> dict:
    """``limit`` calls just before a clock-aligned window boundary and ``limit`` more just after, for
    each limiter on its own fresh pool."""
    limiters = make_limiters(limit, window_s)
    tag = uuid.uuid4().hex[:8]
    figures = {}
    for name in NAMES:
        allow, key, admitted = limiters[name], f"edge-{tag}-{name}", []
        boundary = (time.time() // window_s + 1) * window_s
        if boundary - time.time() < 0.3:
            boundary += window_s
        time.sleep(max(0.0, boundary - 0.15 - time.time()))
        for burst in range(2):
            if burst:
                time.sleep(max(0.0, boundary + 0.01 - time.time()))
            for _ in range(limit):
                sent = time.time()
                if allow(key):
                    admitted.append((sent, time.time()))
        figures[f"{name}_edge_max_in_window"] = most_in_window(admitted, window_s)
    return figures


def _racer(keys: dict, limit: int, window_s: int, seconds: float, barrier, queue) -> None:
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench

    bench._setup_django(migrate=False)
    limiters = make_limiters(limit, window_s)
    admitted = {}
    for name in NAMES:
        allow, key, mine = limiters[name], keys[name], []
        barrier.wait(timeout=300)  # every process ready: they start together
        deadline = time.time() + seconds
        while time.time() < deadline:
            sent = time.time()
            if allow(key):
                mine.append((sent, time.time()))
        admitted[name] = mine
    queue.put(admitted)


def race(*, processes: int = 8, limit: int = 20, window_s: int = 1, seconds: float = 3.0) -> dict:
    """``processes`` processes calling as fast as they can on one pool, each limiter in turn."""
    context = multiprocessing.get_context("spawn")
    tag = uuid.uuid4().hex[:8]
    keys = {name: f"race-{tag}-{name}" for name in NAMES}
    queue, barrier = context.Queue(), context.Barrier(processes + 1)
    workers = [context.Process(target=_racer, args=(keys, limit, window_s, seconds, barrier, queue))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    for _ in NAMES:
        barrier.wait(timeout=300)
    results = [queue.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join()
    figures = {}
    for name in NAMES:
        admitted = [call for result in results for call in result[name]]
        figures[f"{name}_race_max_in_window"] = most_in_window(admitted, window_s)
        figures[f"{name}_race_admitted"] = len(admitted)
    figures["race_processes"], figures["race_limit"] = processes, limit
    return figures


def summary(figures: dict) -> dict:
    """The JSON keys the issue names, from the figures above."""
    return {
        "limiter_decisions_per_s": figures["ours_decisions_per_s"],
        "limiter_peer_decisions_per_s": figures["limits_decisions_per_s"],
        "limiter_p50_ms": figures["ours_p50_ms"],
        "limiter_p99_ms": figures["ours_p99_ms"],
        "limiter_max_in_window": max(figures["ours_edge_max_in_window"], figures["ours_race_max_in_window"]),
        "fixed_window_max_in_window": max(figures["fixed_edge_max_in_window"], figures["fixed_race_max_in_window"]),
        "drf_max_in_window": max(figures["drf_edge_max_in_window"], figures["drf_race_max_in_window"]),
        "limits_max_in_window": max(figures["limits_edge_max_in_window"], figures["limits_race_max_in_window"]),
    }
