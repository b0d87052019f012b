"""Client-side pacing (GCRA reserve mode) against a real Redis."""

import os
import threading
import time
import uuid

import pytest
import redis

from integrations.ratelimit import PacedReserver, SlidingLogLimiter
from tests.integrations.test_ratelimit import most_in_any_window


@pytest.fixture
def client():
    connection = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    yield connection
    connection.close()


def test_reservations_from_many_threads_are_evenly_spaced(client):
    # given 6 threads each reserving slots of one pool paced at 50 per second
    pool, slots, lock = f"pace-{uuid.uuid4().hex}", [], threading.Lock()

    def worker():
        reserver = PacedReserver(redis.Redis.from_url(os.environ["REDIS_URL"]))
        for _ in range(10):
            reservation = reserver.reserve(pool, limit=50, window_s=1.0, max_wait_s=5)
            assert reservation.reserved
            with lock:
                slots.append(reservation.slot_us)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then the 60 slots, on Redis's clock, are distinct and exactly one interval (20 ms) apart or more
    slots.sort()
    gaps = [b - a for a, b in zip(slots, slots[1:])]
    assert len(slots) == 60
    assert min(gaps) >= 20_000


def test_paced_calls_never_trip_the_servers_sliding_log(client):
    # given a client paced a little under the server's limit of 20 per 0.5 s (18: even a late call leaves room)
    pool = f"pace-{uuid.uuid4().hex}"
    reserver, server = PacedReserver(client), SlidingLogLimiter(client)
    admitted, refused = [], 0
    for _ in range(45):
        reservation = reserver.reserve(pool, limit=18, window_s=0.5, max_wait_s=2)
        time.sleep(reservation.wait_s)
        decision = server.hit(pool, limit=20, window_s=0.5)
        if decision.allowed:
            admitted.append(decision.at_us)
        else:
            refused += 1
    # then the server refused nothing and saw at most its limit in any window
    assert refused == 0
    assert most_in_any_window(admitted, 500_000) <= 20


def test_a_long_wait_reserves_nothing(client):
    pool = f"pace-{uuid.uuid4().hex}"
    reserver = PacedReserver(client)
    assert reserver.reserve(pool, limit=1, window_s=10, max_wait_s=1).reserved
    later = reserver.reserve(pool, limit=1, window_s=10, max_wait_s=1)
    assert not later.reserved and 9 < later.wait_s <= 10
    # nothing was taken, so the next free slot is still the same
    assert 9 < reserver.reserve(pool, limit=1, window_s=10, max_wait_s=1).wait_s <= 10


def test_a_pause_holds_every_caller_of_the_pool(client):
    pool = f"pace-{uuid.uuid4().hex}"
    reserver = PacedReserver(client)
    reserver.pause(pool, seconds=3)
    other = PacedReserver(redis.Redis.from_url(os.environ["REDIS_URL"]))
    reservation = other.reserve(pool, limit=100, window_s=1, max_wait_s=10)
    assert reservation.reserved and 2.9 < reservation.wait_s <= 3.0
