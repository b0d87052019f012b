"""The engine with real Celery worker processes (threads pool) on the sync queue, a live server, and the
shared Redis: the pool's limit holds across workers (counted by the server), a worker killed with SIGKILL
mid-slice loses and duplicates nothing, and a 503 with Retry-After holds every worker back."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection as db_connection

from integrations import gateway
from integrations.models import Contact, Product
from integrations.ratelimit import Decision
from portal.models import PlatformSettings
from sync import services as sync_services
from sync.dispatcher import dispatch_once
from sync.models import SyncRecord, SyncRun, SyncStream
from tests.integrations.test_ratelimit import most_in_any_window
from tests.sync.conftest import redis_url, seed_products

BASE_DIR = Path(__file__).resolve().parents[2]


def database_url() -> str:
    settings = db_connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


class Workers:
    """Celery worker processes on the sync queue, killed with SIGKILL or stopped at the end."""

    def __init__(self, live_url: str):
        self.env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": redis_url(), "SITE_URL": live_url,
                    "SYNC_PLATFORM_URL": live_url, "SYNC_ALLOW_HTTP": "1", "SYNC_PAGE_SIZE": "10",
                    "SYNC_SLICE_MAX_PAGES": "5", "SYNC_LEASE_SECONDS": "4", "SYNC_MAX_SLOT_WAIT_SECONDS": "2",
                    "DJANGO_SETTINGS_MODULE": "config.settings",
                    "CELERY_TASK_ALWAYS_EAGER": "0", "LOG_LEVEL": "WARNING"}
        self.processes: list[subprocess.Popen] = []

    def start(self, concurrency: int = 4) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "sync", "-P", "threads",
             "-c", str(concurrency), "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "warning"],
            cwd=BASE_DIR, env=self.env, start_new_session=True)
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def workers(platform, settings):
    from config.celery_app import app

    app.conf.task_always_eager = False  # slices go to the real broker and the worker processes
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "LEASE_SECONDS": 4}
    pool = Workers(platform.url)
    yield pool
    pool.stop_all()


@pytest.fixture
def server_log(monkeypatch):
    """Every decision of the live server's limiter: (Redis time in µs, pool, admitted)."""
    decisions, lock = [], threading.Lock()
    original = gateway._admit

    def recording(pool):
        decision = original(pool)
        with lock:
            if decision is not None:
                decisions.append((decision.at_us, pool.name, decision.allowed))
        return decision

    monkeypatch.setattr(gateway, "_admit", recording)
    return decisions


def drive(until, *, timeout_s: float = 60) -> None:
    """Dispatch every 0.3 s (as beat would, a little faster) until ``until()`` holds."""
    deadline = time.monotonic() + timeout_s
    while not until():
        assert time.monotonic() < deadline, "the sync did not finish in time"
        dispatch_once()
        time.sleep(0.3)


def runs_done(connection) -> bool:
    return not SyncStream.objects.filter(connection=connection, watermark__isnull=True).exists()


def test_several_workers_on_one_connection_never_exceed_its_limit(connected, workers, server_log):
    # given a pool of 10 calls per 2 s and two resources of 12 pages each, read by 2 worker processes
    PlatformSettings.objects.filter(pk=1).update(default_instance_limit=10, limit_period_seconds=2)
    sync_services.sync_spec_save(app=connected["app"], actor=connected["developer"], is_enabled=True,
                                 resources=["product", "contact"], interval_seconds=300)
    seed_products(connected["account"], 97, start=100)
    Contact.objects.bulk_create([Contact(account=connected["account"], first_name="C", last_name=str(i))
                                 for i in range(120)])
    workers.start()
    workers.start()
    # when the connection syncs
    drive(lambda: runs_done(connected["connection"]))
    # then the server refused nothing, never admitted more than 10 in any 2 s, and everything is mirrored
    pool = f"installation:{connected['installation'].pk}"
    admitted = [at for at, name, allowed in server_log if name == pool and allowed]
    refused = [at for at, name, allowed in server_log if name == pool and not allowed]
    assert refused == []
    assert most_in_any_window(admitted, 2_000_000) <= 10
    assert len(admitted) == 48  # 12 pages of each resource (a search and a GET each), nothing read twice
    assert SyncRecord.objects.filter(resource="product").count() == 120
    assert SyncRecord.objects.filter(resource="contact").count() == 120


def test_a_worker_killed_mid_slice_loses_and_duplicates_nothing(connected, workers):
    # given 150 products (15 pages) paced at 5 calls per second, read by one worker process
    PlatformSettings.objects.filter(pk=1).update(default_instance_limit=10, limit_period_seconds=2)
    seed_products(connected["account"], 127, start=100)
    connection, stream = connected["connection"], connected["connection"].streams.get()
    first = workers.start(concurrency=2)
    # when the worker is killed with SIGKILL after a few pages, in the middle of its slice
    drive(lambda: SyncRun.objects.filter(stream=stream, pages__gte=3).exists())
    workers.kill(first)
    pages_at_kill = SyncRun.objects.get(stream=stream).pages
    # and a new worker takes over once the dead one's lease has expired
    workers.start(concurrency=2)
    drive(lambda: runs_done(connection))
    # then the run finished once, every product is mirrored exactly once, and at most a page was re-read
    run = SyncRun.objects.get(stream=stream)
    assert 3 <= pages_at_kill < 15
    assert run.status == "succeeded" and run.records_created == 150
    assert run.records_seen <= 150 + 10
    ids = list(SyncRecord.objects.filter(connection=connection).values_list("remote_id", flat=True))
    assert len(ids) == len(set(ids)) == 150
    assert set(ids) == {str(pk) for pk in Product.objects.values_list("pk", flat=True)}


def test_a_503_with_retry_after_holds_back_every_worker(connected, workers, server_log, monkeypatch):
    # given a server that refuses one call of the pool with 503 and Retry-After: 2
    sync_services.sync_spec_save(app=connected["app"], actor=connected["developer"], is_enabled=True,
                                 resources=["product", "contact"], interval_seconds=300)
    seed_products(connected["account"], 57, start=100)
    Contact.objects.bulk_create([Contact(account=connected["account"], first_name="C", last_name=str(i))
                                 for i in range(80)])
    recording, refused_at = gateway._admit, []

    def refuse_the_third(pool):
        decision = recording(pool)
        if decision is not None and decision.allowed and pool.name.startswith("installation:"):
            admitted = sum(1 for _, name, allowed in server_log if name == pool.name and allowed)
            if admitted == 3 and not refused_at:
                refused_at.append(decision.at_us)
                server_log[-1] = (decision.at_us, pool.name, False)
                return Decision(False, pool.limit, 0, 2000, decision.at_us)
        return decision

    monkeypatch.setattr(gateway, "_admit", refuse_the_third)
    workers.start()
    workers.start()
    # when two worker processes sync both resources
    drive(lambda: runs_done(connected["connection"]))
    # then, apart from calls already on their way when the 503 was sent (they arrive within moments), no
    # worker sent a call to the pool until the 2 s were over, and the sync completed
    assert refused_at
    later = [at - refused_at[0] for at, name, allowed in server_log if allowed and at > refused_at[0]]
    in_flight = [delay for delay in later if delay < 500_000]
    assert len(in_flight) <= 2
    assert not [delay for delay in later if 500_000 <= delay < 1_950_000]
    assert [delay for delay in later if delay >= 1_950_000]
    assert SyncRun.objects.filter(status="succeeded").count() == 2
    assert SyncRun.objects.filter(throttled=1).count() == 1
    assert SyncRecord.objects.count() == 80 + 80
