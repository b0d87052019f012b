"""`make bench-sync --strategy`: its arguments, and the bench-only reactive client against the real server."""

import sys
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from integrations.ratelimit import pace_key, pause_key
from portal.models import PlatformSettings
from sync import client as sync_client, engine
from sync.models import SyncRecord, SyncStream
from tests.sync.conftest import redis_url
from tests.sync.test_engine import lease

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import bench_sync  # noqa: E402
import bench_sync_strategies  # noqa: E402


def set_limit(calls: int, period_s: int) -> None:
    PlatformSettings.objects.update_or_create(pk=1, defaults={"default_instance_limit": calls,
                                                             "limit_period_seconds": period_s})


# --- Arguments ---------------------------------------------------------------------------------------------

def test_the_engine_is_the_default_strategy_and_keeps_its_slices():
    args = bench_sync.parse_args([])
    assert args.strategy == "paced" and args.rate_limit == "" and args.slice_pages == 20


def test_celery_rate_limit_splits_the_accounts_limit_per_worker_in_tasks_of_one_page():
    # 200 accounts x 10 calls a minute, a page is a search and one GET (2 calls), 4 workers
    args = bench_sync.parse_args(["--strategy", "celery-rate-limit"])
    assert args.rate_limit == "250/m" and args.slice_pages == 1
    # queued tasks wait about a quarter of a lease for their worker's bucket (1000 tasks/min, lease 15 s)
    assert args.in_flight == 63
    assert bench_sync.celery_rate_limit(accounts=1, limit=200, period_s=60, page_size=5, workers=4) == "25/m"
    assert bench_sync.celery_rate_limit(accounts=3, limit=200, period_s=60, page_size=300, workers=2) == "100/m"
    with pytest.raises(ValueError):
        bench_sync.celery_rate_limit(accounts=3, limit=10, period_s=60, page_size=5, workers=0)


def test_unknown_strategies_are_refused_and_all_runs_each_with_the_other_arguments(capsys):
    with pytest.raises(SystemExit):
        bench_sync.parse_args(["--strategy", "greedy"])
    assert "invalid choice" in capsys.readouterr().err
    assert bench_sync.parse_args(["--strategy", "all"]).strategy == "all"
    argv = ["--accounts", "20", "--strategy", "all", "--small", "5", "--strategy=all"]
    assert bench_sync.without_strategy(argv) == ["--accounts", "20", "--small", "5"]


def test_the_side_by_side_table_has_a_column_per_strategy_and_says_what_is_missing():
    table = bench_sync.side_by_side({"reactive": {"rejected_calls": 12, "utilisation": 0.98765},
                                     "paced": {"rejected_calls": 0, "mirror_seconds": None}})
    header, _rule, rejected, _share, utilisation, *_ = table.splitlines()  # rows in SIDE_BY_SIDE order
    assert header.split() == ["figure", "reactive", "paced"]
    assert rejected.split() == ["rejected_calls", "12", "0"]
    assert utilisation.split() == ["utilisation", "0.9877", "n/a"]


# --- The reactive client --------------------------------------------------------------------------------------

def test_install_swaps_the_engines_client_and_sets_the_tasks_rate_limit(monkeypatch):
    from config.celery_app import app

    task = app.tasks[bench_sync_strategies.SLICE_TASK]
    monkeypatch.setattr(engine, "SyncClient", engine.SyncClient)
    monkeypatch.setattr(task, "rate_limit", task.rate_limit)
    bench_sync_strategies.install("paced")
    assert engine.SyncClient is sync_client.SyncClient
    with pytest.raises(ValueError):
        bench_sync_strategies.install("celery-rate-limit")  # needs its rate
    with pytest.raises(ValueError):
        bench_sync_strategies.install("greedy")
    bench_sync_strategies.install("celery-rate-limit", rate_limit="250/m")
    assert engine.SyncClient is bench_sync_strategies.ReactiveClient and task.rate_limit == "250/m"


def test_the_reactive_client_sleeps_retry_after_and_sends_the_call_again(connected, settings):
    # given an installation limited to 2 calls a second, already used up
    set_limit(2, 1)
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "MAX_SLOT_WAIT_SECONDS": 2}
    client = bench_sync_strategies.ReactiveClient(connected["connection"],
                                                  redis_client=redis.Redis.from_url(redis_url()))
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        bench_sync_strategies.time.sleep(seconds)

    client.sleep = sleep
    for _ in range(2):
        client.get("/product-service/product-search", params={"pageSize": 1})
    # when it makes a third call at once
    response = client.get("/product-service/product-search", params={"pageSize": 1})
    # then the server refused it once, the client slept what Retry-After said, and the same call went through
    assert response.status_code == 200
    assert waits == [1.0] and client.throttled == 1 and client.retries == 1 and client.calls == 4
    # and nothing was paced or paused for other workers
    pool = connected["connection"].pool_name
    shared = redis.Redis.from_url(redis_url())
    assert not shared.exists(pace_key(pool)) and not shared.exists(pause_key(pool))


def test_a_long_retry_after_gives_the_stream_back_until_then_without_holding_the_worker(connected, monkeypatch,
                                                                                          settings):
    # given the reactive client installed and an installation allowed 3 calls a minute
    monkeypatch.setattr(engine, "SyncClient", engine.SyncClient)
    bench_sync_strategies.install("reactive")
    set_limit(3, 60)
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "MAX_SLOT_WAIT_SECONDS": 2}
    stream = connected["connection"].streams.get()
    # when a slice runs: its calls go out back to back until the server refuses one
    before = timezone.now()
    result = engine.run_slice(stream_id=stream.pk, epoch=lease(stream))
    # then the slice stops throttled after 3 accepted calls (a search and GETs of 10 records, then a search),
    # and the stream is runnable again once the server's Retry-After (about a minute) has passed
    stream = SyncStream.objects.get(pk=stream.pk)
    assert result.outcome == "throttled"
    assert SyncRecord.objects.filter(connection=connected["connection"]).count() == 10
    assert 50 <= (stream.next_run_at - before).total_seconds() <= 61
    assert stream.lease_expires_at is None
    run = stream.current_run
    assert run.calls == 4 and run.throttled == 1
    pool = connected["connection"].pool_name
    assert not redis.Redis.from_url(redis_url()).exists(pace_key(pool))
