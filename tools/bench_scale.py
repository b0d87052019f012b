#!/usr/bin/env python3
"""`make bench-scale`: the portal's hot paths at internet scale, on PostgreSQL and Redis (issue 13, section 3).

Prints a table, then one JSON line. Four measurements, each on the real code path:

- Dispatcher: ``--connections`` managed connections (100,000) of one app, three streams each (300,000). One
  connection in 20 needs re-authorisation (its streams were dispatched long ago, so they come first in the
  dispatcher's order and must be stepped over). Two states: ``backlog`` (every stream due at once: a fleet
  switched on, or the dispatcher back after an outage) and ``steady`` (runs every 900 s, spread evenly, so a
  few hundred streams are due at any moment). A pass is ``sync.dispatcher.dispatch_once()`` itself: the
  Redis lock, the in-flight count, the candidate query (``FOR UPDATE SKIP LOCKED``), one fenced lease
  ``UPDATE`` per stream and the ``sync_slice`` messages published to the Celery broker on Redis (checked by
  the queue's length afterwards). Leases are cleared between passes (slices finishing), untimed. The
  candidate query's ``EXPLAIN (ANALYZE, BUFFERS)`` and the indexes it used are printed.
- Limiter: ``MEMORY USAGE`` of one saturated pool at 200 and at 10,000 calls a minute, filled through the real
  script (``integrations.ratelimit.SlidingLogLimiter``); the same for the exact alternative that was not built
  (a hash of per-second counts); then ``--pools`` pools (100,000) filled to their limit of 200 (timestamps
  spread over the window, written with LPUSH in the script's own format) and random decisions timed one by
  one, with the plain limiter and with the gateway's script (the usage counting after the decision).
- Usage rollup: every installation calls in each of the 7 minutes a steady beat pass reads; the counters
  are written through ``integrations.usage.record_call`` (its keys, its fields), pipelined. Then
  ``integrations.tasks.rollup_usage_once`` as the beat runs it a minute after the previous pass: once when
  the minutes are new (inserts) and once more over the same minutes (as each minute is re-read during the
  grace period: unchanged, so nothing is written).
- Sync records: ``--records`` mirrored products (1,000,000), 1,000 per connection, written page by page (200)
  by ``sync.engine.upsert_records`` in one transaction per page, with change events (apps with a webhook):
  rows per second for new records, for changed ones and for unchanged ones (read, hashed, skipped), and the
  table and index bytes per record, extrapolated to 100 million.

Database: BENCH_DATABASE_URL or DATABASE_URL (a PostgreSQL server: a dedicated database ``portal_bench_scale``
is created there and dropped at the end); else a private PostgreSQL cluster (initdb in a temporary directory,
our child, loopback only, production durability: fsync and synchronous commit on; shared_buffers 1 GB);
else the server at 127.0.0.1:5432 with the dedicated database. PostgreSQL only (COPY-speed inserts, plans).
Redis: a private redis-server (``config.embedded_redis``) unless BENCH_REDIS_URL (flushed first).

``--quick`` runs a tenth of the sizes (for development); ``--smallest`` a few hundred rows of each (a smoke run).
"""

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "tools"))

import bench_sync  # noqa: E402  (its process helpers: _pg_bin, spawn, stop_all, free_port)

DB_NAME = "portal_bench_scale"
SECRET_KEY = "bench-scale-only-secret-key-not-for-production-use-000000000"
TARGETS = {"dispatcher_pass_ms": 50.0}
SIZES = {
    "full": {"connections": 100_000, "pools": 100_000, "records": 1_000_000, "engine_records": 20_000,
             "probe": 5_000, "decisions": 20_000, "passes": 20, "rollup_minutes_with_calls": 2, "rollup_passes": 2},
    "quick": {"connections": 10_000, "pools": 10_000, "records": 100_000, "engine_records": 10_000, "probe": 2_000,
              "decisions": 5_000, "passes": 20, "rollup_minutes_with_calls": 7, "rollup_passes": 2},
    "smallest": {"connections": 300, "pools": 300, "records": 4_000, "engine_records": 2_000, "probe": 1_000,
                 "decisions": 500, "passes": 5, "rollup_minutes_with_calls": 7, "rollup_passes": 2},
}
RECORDS_PER_CONNECTION = 1_000
PAGE = 200  # records per page: the engine's default SYNC_PAGE_SIZE
ROLLUP_MINUTES = 7  # minutes a steady pass reads: since = last pass's "through" + 1 - GRACE_MINUTES, to now
PROJECTION = 100_000_000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- PostgreSQL -----------------------------------------------------------------------------------------

def _create_database(server_url: str) -> str | None:
    import psycopg

    head, _, _ = server_url.rpartition("/")
    try:
        with psycopg.connect(f"{head}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    except Exception as error:  # noqa: BLE001 - any failure: try the next option
        log(f"no PostgreSQL server at {head}: {error}")
        return None
    return f"{head}/{DB_NAME}"


def _drop_database(url: str) -> None:
    import psycopg

    head, _, _ = url.rpartition("/")
    try:
        with psycopg.connect(f"{head}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    except Exception as error:  # noqa: BLE001
        log(f"could not drop {DB_NAME}: {error}")


def _private_cluster(workdir: Path) -> str | None:
    """A private PostgreSQL cluster with production durability (fsync, synchronous commit); its URL or None."""
    return bench_sync.private_postgres(workdir, settings=("shared_buffers=1GB", "max_wal_size=4GB"), database=DB_NAME)


def choose_database(workdir: Path) -> tuple[str, str, bool]:
    """(url, description, drop at the end)."""
    configured = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    if configured.startswith(("postgres://", "postgresql://")):
        url = _create_database(configured)
        if url:
            return url, f"PostgreSQL server of (BENCH_)DATABASE_URL, database {DB_NAME}", True
    url = _private_cluster(workdir)
    if url:
        return url, "private PostgreSQL cluster (fsync on, shared_buffers 1 GB)", False
    url = _create_database("postgres://postgres@127.0.0.1:5432/postgres")
    if url:
        return url, f"PostgreSQL at 127.0.0.1:5432, database {DB_NAME}", True
    raise SystemExit("bench-scale needs PostgreSQL: no BENCH_DATABASE_URL, no binaries, no server at 127.0.0.1:5432")


def setup_django(database_url: str, redis_url: str) -> None:
    os.environ.update({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "0", "DEMO_MODE": "0", "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver", "CACHE_KEY_PREFIX": "bench-scale", "LOG_LEVEL": "WARNING",
    })
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def sql(statement: str, params=()) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def clone(model, template_pk: int, *, source: str, overrides: dict[str, str], where: str = "") -> int:
    """Copy the template row once per row of ``source`` (extra FROM items) in one INSERT ... SELECT: every
    column as the template has it, except ``overrides`` (column -> SQL expression over ``source``)."""
    from django.db import connection

    table = model._meta.db_table
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    values = [overrides.get(column, f"t.{qn(column)}") for column in columns]
    statement = (f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) SELECT {', '.join(values)} "
                 f"FROM {qn(table)} t, {source} WHERE t.id = %s {('AND ' + where) if where else ''}")
    with connection.cursor() as cursor:
        cursor.execute(statement, [template_pk])
        return cursor.rowcount


# --- World: accounts, installations, connections, streams -----------------------------------------------

def build_world(n: int) -> dict:
    """One app with managed sync of the three resources; one account made through the services (the
    template), then n - 1 more accounts, installations, connections and streams cloned from it in SQL."""
    from django.db import transaction

    from accounts.models import Account, DeveloperProfile, Membership, User
    from portal import services
    from portal.installations import installation_turn_on
    from portal.models import App, Installation, Stage
    from sync.models import Connection, SyncStream
    from sync.services import managed_connection_provision, sync_spec_save

    developer = User.objects.create_user(email="bench-scale-dev@example.com", password="x")
    DeveloperProfile.objects.create(user=developer, dev_ref="bench-scale-dev", company="Bench", contact_name="Bench",
                                    partner_status=DeveloperProfile.PartnerStatus.APPROVED)
    app, secret = services.app_register(actor=developer, app_ref="bench-scale-app", name="Bench Scale",
                                        short_description="b", client_type=App.CLIENT_CONFIDENTIAL,
                                        redirect_uris="https://b.example.com/cb")
    App.objects.filter(pk=app.pk).update(stage=Stage.RELEASED)
    app = App.objects.get(pk=app.pk)
    with transaction.atomic():
        sync_spec_save(app=app, actor=developer, is_enabled=True, resources=["product", "order", "contact"],
                       interval_seconds=900, client_secret=secret)
    owner = User.objects.create_user(email="bench-scale-owner@example.com", password="x")
    account = Account.objects.create(code="scale000000", name="scale000000")
    Membership.objects.create(account=account, user=owner, role=Membership.Role.OWNER)
    with transaction.atomic():
        installation = installation_turn_on(app=app, account=account, actor=owner)
        connection = managed_connection_provision(installation=installation, actor=owner)
    streams = SyncStream.objects.filter(connection=connection).count()
    if streams != 3:
        raise SystemExit(f"the template connection has {streams} streams, not 3")
    t = time.monotonic()
    with transaction.atomic():
        clone(Account, account.pk, source=f"generate_series(1, {n - 1}) g",
              overrides={"code": "'scale' || lpad(g::text, 6, '0')", "name": "'scale' || lpad(g::text, 6, '0')"})
        clone(Installation, installation.pk, source="accounts_account a",
              overrides={"account_id": "a.id"}, where=f"a.code LIKE 'scale%%' AND a.id <> {account.pk}")
        clone(Connection, connection.pk, source="portal_installation i JOIN accounts_account a ON a.id = i.account_id",
              overrides={"installation_id": "i.id", "account_code": "a.code", "name": "a.name"},
              where=f"i.app_id = {app.pk} AND i.id <> {installation.pk}")
        template_streams = list(SyncStream.objects.filter(connection=connection).values_list("pk", flat=True))
        for stream_pk in template_streams:
            clone(SyncStream, stream_pk, source=f"{Connection._meta.db_table} c",
                  overrides={"connection_id": "c.id"}, where=f"c.app_id = {app.pk} AND c.id <> {connection.pk}")
        # One connection in 20 waits for its account to re-authorise (it stays so for days).
        sql(f"UPDATE {Connection._meta.db_table} SET status = %s WHERE app_id = %s AND id %% 20 = 0",
            [Connection.Status.NEEDS_REAUTH, app.pk])
        # Their streams are parked, as the service that changes a status does (sync.services._park_streams).
        sql(f"UPDATE {SyncStream._meta.db_table} s SET parked = true FROM {Connection._meta.db_table} c "
            "WHERE c.id = s.connection_id AND c.status <> 'active'")
    sql("ANALYZE")
    counts = {"accounts": Account.objects.count(), "installations": Installation.objects.count(),
              "connections": Connection.objects.count(), "streams": SyncStream.objects.count()}
    log(f"world: {counts} in {time.monotonic() - t:.1f} s")
    return {"app": app, "account": account, "installation": installation, "connection": connection, **counts}


# --- 1. Dispatcher ----------------------------------------------------------------------------------------

def set_scenario(name: str) -> None:
    from sync.models import Connection, SyncStream

    streams, connections = SyncStream._meta.db_table, Connection._meta.db_table
    if name == "backlog":  # every stream due; a third never dispatched, the rest in the last hour
        sql(f"UPDATE {streams} SET lease_expires_at = NULL, next_run_at = now() - random() * interval '600 s', "
            "last_dispatched_at = CASE WHEN random() < 0.33 THEN NULL "
            "ELSE now() - random() * interval '3600 s' END")
    else:  # steady: runs every 900 s, evenly spread; the ones due now became due in the last second
        sql(f"UPDATE {streams} SET lease_expires_at = NULL, "
            "next_run_at = now() + (random() * 900 - 1) * interval '1 s'")
        sql(f"UPDATE {streams} SET last_dispatched_at = next_run_at - interval '900 s'")
    # Streams of connections waiting for re-authorisation were last dispatched days ago.
    sql(f"UPDATE {streams} s SET last_dispatched_at = now() - interval '3 days' - random() * interval '1 day' "
        f"FROM {connections} c WHERE c.id = s.connection_id AND c.status <> 'active'")
    sql(f"VACUUM ANALYZE {streams}")
    if name == "steady":  # streams that fell due while the table was being set up: due later, as they would be
        sql(f"UPDATE {streams} s SET next_run_at = now() + random() * interval '899 s' FROM {connections} c "
            "WHERE c.id = s.connection_id AND c.status = 'active' AND s.next_run_at <= now() - interval '1 s'")
        sql(f"UPDATE {streams} s SET last_dispatched_at = next_run_at - interval '900 s' FROM {connections} c "
            "WHERE c.id = s.connection_id AND c.status = 'active' "
            "AND s.last_dispatched_at < s.next_run_at - interval '900 s'")
        sql(f"ANALYZE {streams}")


def _plan(query, free: int) -> tuple[str, list[str], float]:
    query = query.select_for_update(skip_locked=True, of=("self",)).values_list("id", "epoch")[:free]
    statement, params = query.query.get_compiler(using="default").as_sql()
    plan = "\n".join(row[0] for row in sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, list(params)))
    indexes = sorted(set(re.findall(r"Index (?:Only )?Scan(?: Backward)? using (\S+)", plan)))
    match = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return plan, indexes, float(match.group(1)) if match else float("nan")


def explain(free: int) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of the dispatcher's pick: its queries (``pick_queries``), and the single
    sorting query it replaced (``runnable_streams`` keeps that order). Rolled back: they take row locks."""
    from django.db import transaction
    from django.utils import timezone

    from sync import dispatcher

    now = timezone.now()
    with transaction.atomic():
        picks = [_plan(query, free) for query in getattr(dispatcher, "pick_queries", lambda now: [])(now)]
        single = _plan(dispatcher.runnable_streams(now), free)
        transaction.set_rollback(True)
    return {"picks": picks, "single": single}


class Stopwatch:
    """Times calls of some module functions while active (they are called through, unchanged)."""

    def __init__(self, module, names):
        self.module, self.names, self.spent = module, [n for n in names if hasattr(module, n)], {}

    def __enter__(self):
        self.originals = {name: getattr(self.module, name) for name in self.names}
        for name, original in self.originals.items():
            setattr(self.module, name, self._wrap(name, original))
        return self

    def _wrap(self, name, original):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent.setdefault(name, []).append((time.perf_counter() - t) * 1000)
        return timed

    def __exit__(self, *exc):
        for name, original in self.originals.items():
            setattr(self.module, name, original)


def time_passes(passes: int, free: int, redis_client) -> tuple[list[float], int, dict]:
    from django.conf import settings
    from django.test import override_settings

    from sync import dispatcher
    from sync.models import SyncStream

    times, leased = [], 0
    with override_settings(SYNC_ENGINE={**settings.SYNC_ENGINE, "MAX_IN_FLIGHT": free}), \
            Stopwatch(dispatcher, ["in_flight_count", "pick_streams", "_enqueue"]) as watch:
        for _ in range(passes):
            # The slices of the last pass ended (untimed): every place is free again.
            SyncStream.objects.filter(lease_expires_at__isnull=False).update(lease_expires_at=None)
            t = time.perf_counter()
            leased += dispatcher.dispatch_once(redis_client=redis_client)
            times.append((time.perf_counter() - t) * 1000)
    return times, leased, {name: statistics.median(values) for name, values in watch.spent.items()}


def phase_dispatcher(size: dict, world: dict, redis_client, results: dict, rows: list) -> None:
    from sync.conf import sync_settings

    queue = sync_settings.QUEUE
    default_free = int(sync_settings.MAX_IN_FLIGHT)
    results["dispatcher_streams"] = world["streams"]
    results["dispatcher_max_in_flight"] = default_free
    indexes_used = set()
    for scenario in ("backlog", "steady"):
        set_scenario(scenario)
        due = sql("SELECT count(*) FROM integrations_syncstream WHERE next_run_at <= now()")[0][0]
        plans = explain(default_free)
        for number, (plan, indexes, _) in enumerate(plans["picks"], 1):
            indexes_used.update(indexes)
            print(f"\n--- EXPLAIN (ANALYZE, BUFFERS), pick query {number} of {len(plans['picks'])}, {scenario} "
                  f"({due:,} streams due) ---\n{plan}", flush=True)
        plan, _, single_ms = plans["single"]
        print(f"\n--- for comparison, the single sorting query (runnable_streams' order), {scenario} ---\n{plan}",
              flush=True)
        query_ms = sum(ms for _, _, ms in plans["picks"]) if plans["picks"] else single_ms
        redis_client.delete(queue)
        for free in (default_free, 256):
            times, leased, parts = time_passes(size["passes"], free, redis_client)
            queued = redis_client.llen(queue)
            redis_client.delete(queue)
            if queued != leased:
                raise SystemExit(f"{leased} streams leased but {queued} messages on the broker queue")
            median, p95 = statistics.median(times), percentile(times, 0.95)
            log(f"dispatcher {scenario}, {free} places: {leased} leased and enqueued in {len(times)} passes; "
                f"pass median {median:.1f} ms, p95 {p95:.1f} ms; medians of its parts (ms): "
                + ", ".join(f"{name} {ms:.1f}" for name, ms in parts.items()))
            key = f"dispatcher_{scenario}" + ("" if free == default_free else f"_{free}")
            results[f"{key}_pass_ms"] = round(median, 2)
            results[f"{key}_pass_p95_ms"] = round(p95, 2)
            rows.append((f"dispatcher pass, {scenario}, {free} places (median / p95)",
                         f"{median:.1f} / {p95:.1f} ms", "<= 50 ms" if free == default_free else ""))
        results[f"dispatcher_{scenario}_query_ms"] = round(query_ms, 2)
        results[f"dispatcher_{scenario}_sorting_query_ms"] = round(single_ms, 2)
        results[f"dispatcher_{scenario}_due"] = due
        rows.append((f"  pick queries alone, {scenario}", f"{query_ms:.1f} ms", ""))
        rows.append((f"  the single sorting query it replaced, {scenario}", f"{single_ms:.1f} ms", ""))
    results["dispatcher_index"] = sorted(indexes_used)
    # The headline: the slower of the two states at the default number of places.
    results["dispatcher_pass_ms"] = max(results["dispatcher_backlog_pass_ms"], results["dispatcher_steady_pass_ms"])


# --- 2. Limiter -----------------------------------------------------------------------------------------

def memory_usage(client, key: str) -> int:
    used = client.execute_command("MEMORY", "USAGE", key, "SAMPLES", "0")
    if used is None:
        raise SystemExit(f"no key {key} to measure")
    return int(used)


def phase_limiter(size: dict, client, results: dict, rows: list) -> None:
    from integrations import usage
    from integrations.ratelimit import SlidingLogLimiter, installation_pool_name, pool_key

    limiter = SlidingLogLimiter(client)
    for limit in (200, 10_000):
        pool = f"bench-scale-memory-{limit}"
        decisions = [limiter.hit(pool, limit=limit, window_s=60) for _ in range(limit + 1)]
        if sum(d.allowed for d in decisions) != limit or client.llen(pool_key(pool)) != limit:
            raise SystemExit(f"the pool at {limit}/min did not saturate at its limit")
        log_bytes = memory_usage(client, pool_key(pool))
        # The exact alternative, not built: one hash per pool, field = epoch second, value = calls admitted in
        # it (a window of 60 s holds at most 61 fields), summed over the window on each decision.
        buckets = f"bench-scale-buckets:{{{pool}}}"
        now = int(client.time()[0])
        per_second, extra = divmod(limit, 60)
        client.hset(buckets, mapping={str(now - s): per_second + (1 if s < extra else 0) for s in range(60)})
        client.expire(buckets, 61)
        bucket_bytes = memory_usage(client, buckets)
        results[f"limiter_bytes_per_pool_{limit}"] = log_bytes
        results[f"buckets_bytes_per_pool_{limit}"] = bucket_bytes
        rows.append((f"limiter memory, one saturated pool at {limit:,}/min", f"{log_bytes:,} B", ""))
        rows.append((f"  per-second buckets (hash) at {limit:,}/min, not built", f"{bucket_bytes:,} B", ""))
        log(f"pool at {limit}/min: sliding log {log_bytes:,} B, per-second bucket hash {bucket_bytes:,} B")

    # Many pools, each full (200 admits spread over the last 50 s, in the script's format: microseconds,
    # newest at the head), under the gateway's real key names: 50 variants written once, then copied in Redis
    # (COPY), so that filling takes seconds and the pools are still full when the decisions are timed.
    pools = size["pools"]
    before = int(client.info("memory")["used_memory"])
    now_us = int(client.time()[0]) * 1_000_000
    for v in range(50):
        offset = random.randint(0, 5_000_000)
        client.lpush(f"bench-scale-variant:{v}", *[now_us - 50_000_000 - offset + k * 250_000 for k in range(200)])
    t = time.monotonic()
    pipe = client.pipeline(transaction=False)
    for i in range(1, pools + 1):
        key = pool_key(installation_pool_name(i))
        pipe.copy(f"bench-scale-variant:{i % 50}", key, replace=True)
        pipe.pexpire(key, 60_000)
        if i % 2000 == 0:
            pipe.execute()
    pipe.execute()
    client.delete(*[f"bench-scale-variant:{v}" for v in range(50)])
    after = int(client.info("memory")["used_memory"])
    sample = memory_usage(client, pool_key(installation_pool_name(1)))
    per_pool = (after - before) / pools
    log(f"{pools:,} full pools written in {time.monotonic() - t:.1f} s: used_memory +{after - before:,} B "
        f"({per_pool:,.0f} B a pool; MEMORY USAGE of one: {sample:,} B)")
    results["limiter_pools"] = pools
    results["limiter_used_memory_per_pool_200"] = round(per_pool)

    gateway = SlidingLogLimiter(client, then=usage.RECORD_AFTER_DECISION)

    def timed(decide, n: int) -> list[float]:
        times = []
        for _ in range(n):
            i = random.randint(1, pools)
            t = time.perf_counter()
            decide(i)
            times.append((time.perf_counter() - t) * 1000)
        return times

    def plain(i):
        return limiter.hit(installation_pool_name(i), limit=200, window_s=60)

    def with_usage(i):
        keys, args = usage.record_keys_args(installation_id=i, failed=False)
        return gateway.hit(installation_pool_name(i), limit=200, window_s=60, then_keys=keys, then_args=args)

    n = size["decisions"]
    timed(plain, min(500, n))  # warm the connection and the script cache
    one_pool = timed(lambda i: plain(1), n)
    many = timed(plain, n)
    many_gateway = timed(with_usage, n)
    for label, key, values in (("limiter decision, one pool", "limiter_p99_ms_1_pool", one_pool),
                               (f"limiter decision, {pools:,} full pools", "limiter_p99_ms_100k_pools", many),
                               (f"gateway script (decision + usage), {pools:,} pools",
                                "gateway_script_p99_ms_100k_pools", many_gateway)):
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        results[key] = round(p99, 3)
        results[key.replace("p99", "p50")] = round(p50, 3)
        rows.append((f"{label} (p50 / p99)", f"{p50:.3f} / {p99:.3f} ms", ""))
        log(f"{label}: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {len(values):,} decisions")
    # How many saturated pools fit in a given Redis (the sliding log's memory as the limit).
    for limit in (200, 10_000):
        per = results[f"limiter_bytes_per_pool_{limit}"]
        for gib in (8, 64):
            results[f"limiter_saturated_pools_in_{gib}gib_{limit}"] = int(gib * 2**30 * 0.75 // per)
    client.flushdb()


# --- 3. Usage rollup ------------------------------------------------------------------------------------

class _DeferredPipeline:
    """Lets ``usage.record_call`` write its commands into one shared pipeline: its ``pipeline()`` is this
    object and its ``execute()`` waits for :meth:`flush`, so many calls share a round trip."""

    def __init__(self, client):
        self._pipe = client.pipeline(transaction=False)

    def pipeline(self, transaction=False):
        return self

    def execute(self):
        return None

    def flush(self):
        self._pipe.execute()

    def __getattr__(self, name):
        return getattr(self._pipe, name)


def phase_rollup(size: dict, world: dict, client, results: dict, rows: list) -> None:
    from integrations import tasks, usage
    from portal.models import Installation, UsageMinute

    ids = list(Installation.objects.order_by("pk").values_list("pk", flat=True))
    seconds, micros = client.time()
    now_us = int(seconds) * 1_000_000 + int(micros)
    now_minute = int(seconds) // 60
    minutes = range(now_minute - size["rollup_minutes_with_calls"] + 1, now_minute + 1)
    t = time.monotonic()
    batch = _DeferredPipeline(client)
    written = 0
    for minute in minutes:
        at_us = now_us if minute == now_minute else minute * 60_000_000 + 1_000_000
        for pk in ids:
            usage.record_call(installation_id=pk, throttled=False, at_us=at_us, client=batch)
            if pk % 7 == 0:
                usage.record_call(installation_id=pk, throttled=True, at_us=at_us, client=batch)
            written += 1
            if written % 2000 == 0:
                batch.flush()
    batch.flush()
    log(f"usage counters: {len(ids):,} installations x {len(minutes)} minutes written through record_call "
        f"in {time.monotonic() - t:.1f} s")
    timings = {}
    for label in ("insert", "update")[:size["rollup_passes"]]:
        # As the beat finds it a minute after its previous pass.
        client.set(tasks.ROLLED_THROUGH_KEY, now_minute - 2)
        with Stopwatch(tasks, ["usage_minutes_record"]) as db_part, Stopwatch(usage, ["read_minutes"]) as redis_part:
            t = time.perf_counter()
            outcome = tasks.rollup_usage_once(client)
            timings[label] = time.perf_counter() - t
        spent_db = sum(db_part.spent.get("usage_minutes_record", [])) / 1000
        spent_redis = sum(redis_part.spent.get("read_minutes", [])) / 1000
        results[f"rollup_{label}_redis_s"], results[f"rollup_{label}_db_s"] = round(spent_redis, 2), round(spent_db, 2)
        results[f"rollup_{label}_rows_written"] = outcome["rows"]
        log(f"rollup pass ({label}s): {outcome['installations']:,} installations, {outcome['read']:,} minutes with "
            f"counts read, {outcome['rows']:,} minute rows written "
            f"in {timings[label]:.1f} s (reading Redis {spent_redis:.1f} s, writing the database {spent_db:.1f} s)")
    stored = UsageMinute.objects.count()
    expected = len(ids) * len(minutes)
    if stored != expected:
        raise SystemExit(f"rollup stored {stored} minute rows, expected {expected}")
    sql(f"VACUUM ANALYZE {UsageMinute._meta.db_table}")
    minute_bytes = table_bytes(UsageMinute)["total"] / stored
    results["usage_minute_row_bytes"] = round(minute_bytes)
    rows.append(("  usage minute row (heap + indexes)", f"{minute_bytes:,.0f} B", ""))
    scale = 100_000 / len(ids)
    results["rollup_installations"] = len(ids)
    results["rollup_minute_rows"] = stored
    results["rollup_minutes_read"] = ROLLUP_MINUTES
    results["rollup_minutes_with_calls"] = len(minutes)
    for label, seconds in timings.items():
        results[f"rollup_seconds_{label}"] = round(seconds, 2)
    worst = max(timings.values())
    if len(ids) >= 100_000:
        results["rollup_seconds_100k"] = round(worst, 2)
    else:  # smaller runs say what they measured and its linear projection, not a 100k figure
        results["rollup_seconds_100k_projected"] = round(worst * scale, 2)
    rows.append((f"usage rollup pass, {len(ids):,} installations, {len(minutes)} of {ROLLUP_MINUTES} minutes with calls"
                 + (" (new / re-read)" if len(timings) > 1 else ""),
                 " / ".join(f"{seconds:.1f}" for seconds in timings.values()) + " s", "< 60 s (beat period)"))


# --- 4. Sync records ------------------------------------------------------------------------------------

def product_template(world: dict) -> dict:
    """One real GET record of a product, as the platform API answers it."""
    from integrations import resources
    from integrations.models import Product

    product = Product.objects.create(account=world["account"], sku="SKU-TEMPLATE", name="A product of fair size",
                                     barcode="5012345678900", ean="5012345678900", mpn="MPN-000001",
                                     category_ids=[275, 276], status="LIVE")
    [record] = resources.products(account=world["account"], id_set=str(product.pk))
    return record


def table_bytes(model) -> dict:
    table = model._meta.db_table
    heap, indexes, total = sql("SELECT pg_relation_size(%s), pg_indexes_size(%s), pg_total_relation_size(%s)",
                               [table, table, table])[0]
    return {"heap": heap, "indexes": indexes, "toast": total - heap - indexes, "total": total}


def clone_mirror(first_connection_id: int, connection_ids: list[int]) -> None:
    """Copy the records and change events the engine wrote for one connection to each of these connections
    (same payloads, so the same bytes per row), 100 connections per statement."""
    from sync.models import ChangeEvent, SyncRecord

    for start in range(0, len(connection_ids), 100):
        chunk = ",".join(str(pk) for pk in connection_ids[start:start + 100])
        for model in (SyncRecord, ChangeEvent):
            clone_all(model, source=f"(SELECT id FROM integrations_connection WHERE id IN ({chunk})) c",
                      overrides={"connection_id": "c.id"}, where=f"t.connection_id = {first_connection_id}")


def clone_all(model, *, source: str, overrides: dict[str, str], where: str) -> int:
    """Like :func:`clone`, with every template row that ``where`` selects (aliased ``t``)."""
    from django.db import connection

    table = model._meta.db_table
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    values = [overrides.get(column, f"t.{qn(column)}") for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) "
                       f"SELECT {', '.join(values)} FROM {qn(table)} t, {source} WHERE {where}")
        return cursor.rowcount


def phase_records(size: dict, world: dict, results: dict, rows: list) -> None:
    from django.db import transaction

    from integrations.resources import RESOURCES
    from sync.engine import upsert_records
    from sync.models import ChangeEvent, Connection, SyncRecord

    resource = RESOURCES["product"]
    template = product_template(world)
    per_connection = RECORDS_PER_CONNECTION
    needed = size["records"] // per_connection + 2 * max(1, size["probe"] // per_connection) + 1
    connections = list(Connection.objects.filter(app=world["app"]).order_by("pk")[:needed])
    id_key = "id" if "id" in template else resource.id_column.name

    def pages(connection_index: int, version: int):
        base = connection_index * per_connection
        for start in range(0, per_connection, PAGE):
            page = []
            for k in range(start, min(start + PAGE, per_connection)):
                record = dict(template)
                record[id_key] = base + k + 1
                record["sku"] = f"SKU-{base + k + 1}"
                record["updatedOn"] = f"2026-11-{1 + version:02d}T10:{k % 60:02d}:00.000Z"
                page.append(record)
            yield page

    def write(indexes, version: int) -> tuple[int, int, int, float]:
        created = updated = seen = 0
        t = time.perf_counter()
        for index in indexes:
            for page in pages(index, version):
                with transaction.atomic():  # one page, one transaction (the engine's checkpoint)
                    c, u = upsert_records(connection=connections[index], resource=resource, records=page,
                                          emit_events=True)
                created, updated, seen = created + c, updated + u, seen + len(page)
        return created, updated, seen, time.perf_counter() - t

    # 1. The engine writes the first records into an empty table.
    first = range(max(1, size["engine_records"] // per_connection))
    created, _, seen, elapsed = write(first, 0)
    if created != seen:
        raise SystemExit(f"{seen} records written, {created} created")
    log(f"sync records: the engine wrote {created:,} new records in {elapsed:.1f} s ({created / elapsed:,.0f} rows/s)")
    # 2. The table grows to its size with copies of those rows (SQL; the same bytes a row).
    target_connections = size["records"] // per_connection
    t = time.monotonic()
    clone_mirror(connections[0].pk, [c.pk for c in connections[len(first):target_connections]])
    sql("VACUUM ANALYZE integrations_syncrecord")
    sql("VACUUM ANALYZE integrations_changeevent")
    log(f"  grown to {SyncRecord.objects.count():,} records in {time.monotonic() - t:.1f} s")
    # 3. The engine on the full table: new records, every record of some connections changed, then unchanged.
    probe = range(target_connections, target_connections + max(1, size["probe"] // per_connection))
    new_created, _, _, new_s = write(probe, 0)
    resample = range(len(probe))
    _, changed, _, changed_s = write(resample, 1)
    _, _, unchanged_seen, unchanged_s = write(resample, 1)
    new_rate, changed_rate, unchanged_rate = new_created / new_s, changed / changed_s, unchanged_seen / unchanged_s
    log(f"  at {SyncRecord.objects.count():,} records: {new_created:,} new ({new_rate:,.0f} rows/s), {changed:,} "
        f"changed ({changed_rate:,.0f} rows/s), {unchanged_seen:,} unchanged ({unchanged_rate:,.0f} rows/s)")
    sql("VACUUM ANALYZE integrations_syncrecord")
    sql("VACUUM ANALYZE integrations_changeevent")
    records, events = table_bytes(SyncRecord), table_bytes(ChangeEvent)
    count, event_count = SyncRecord.objects.count(), ChangeEvent.objects.count()
    per_record, per_event = records["total"] / count, events["total"] / event_count
    log(f"  table bytes: records {records}, events {events}")
    results.update({
        "records": count, "record_payload_bytes": len(json.dumps(template, separators=(",", ":"))),
        "upsert_empty_table_rows_per_s": round(created / elapsed),
        "upsert_new_rows_per_s": round(new_rate), "upsert_changed_rows_per_s": round(changed_rate),
        "upsert_unchanged_rows_per_s": round(unchanged_rate),
        "record_bytes": round(per_record), "record_heap_bytes": round(records["heap"] / count),
        "record_index_bytes": round(records["indexes"] / count), "record_toast_bytes": round(records["toast"] / count),
        "event_bytes": round(per_event),
        "records_100m_gb": round(per_record * PROJECTION / 1e9, 1),
        "events_100m_gb": round(per_event * PROJECTION / 1e9, 1),
    })
    rows.append((f"sync upsert into {count:,} records: new / changed / unchanged",
                 f"{new_rate:,.0f} / {changed_rate:,.0f} / {unchanged_rate:,.0f} rows/s", ""))
    rows.append((f"  record bytes (heap + toast + indexes; payload {results['record_payload_bytes']:,} B JSON)",
                 f"{per_record:,.0f} B", ""))
    rows.append(("  100 M records, on paper (+ one change event each)",
                 f"{per_record * PROJECTION / 1e9:,.0f} GB (+ {per_event * PROJECTION / 1e9:,.0f} GB)", ""))


# --- Main -----------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes (development)")
    parser.add_argument("--smallest", action="store_true", help="a few hundred rows of each (a smoke run)")
    parser.add_argument("--connections", type=int, help="connections (three streams each; installations too)")
    parser.add_argument("--pools", type=int, help="limiter pools filled for the decision timing")
    parser.add_argument("--records", type=int, help="mirrored records written")
    parser.add_argument("--only", default="dispatcher,limiter,rollup,records",
                        help="comma-separated phases to run (default: all)")
    args = parser.parse_args()
    size = dict(SIZES["smallest" if args.smallest else "quick" if args.quick else "full"])
    for key in ("connections", "pools", "records"):
        if getattr(args, key):
            size[key] = getattr(args, key)
    phases = set(args.only.split(","))
    random.seed(13)
    workdir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    database_url, drop = None, False
    try:
        database_url, database, drop = choose_database(workdir)
        from config.embedded_redis import private_redis

        if os.environ.get("BENCH_REDIS_URL"):
            return run(args, size, phases, database_url, database, os.environ["BENCH_REDIS_URL"])
        with private_redis() as redis_url:
            return run(args, size, phases, database_url, database, redis_url)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if database_url and drop:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: BLE001 - Django may not be set up yet
                pass
            _drop_database(database_url)
        bench_sync.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, size: dict, phases: set, database_url: str, database: str, redis_url: str) -> int:
    import redis

    started = time.monotonic()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    print(f"Partner Portal at scale (this machine: {os.cpu_count()} cores)", flush=True)
    log(f"database: {database}; Redis: {client.info('server')['redis_version']}")
    setup_django(database_url, redis_url)
    pg_version = sql("SHOW server_version")[0][0]
    results: dict = {"machine_cores": os.cpu_count(), "load_average_at_start": round(os.getloadavg()[0], 1),
                     "postgresql": pg_version, "redis": client.info("server")["redis_version"]}
    rows: list[tuple[str, str, str]] = []
    world = build_world(size["connections"])
    if "dispatcher" in phases:
        phase_dispatcher(size, world, client, results, rows)
    if "limiter" in phases:
        phase_limiter(size, client, results, rows)
    if "records" in phases:
        phase_records(size, world, results, rows)
    if "rollup" in phases:
        client.flushdb()
        phase_rollup(size, world, client, results, rows)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["load_average_at_end"] = round(os.getloadavg()[0], 1)
    width = max(len(row[0]) for row in rows) if rows else 10
    print(f"\n{'measure':<{width}}  {'figure':>22}  target")
    for label, figure, target in rows:
        print(f"{label:<{width}}  {figure:>22}  {target}")
    ok = all(results.get(key, 0) <= limit for key, limit in TARGETS.items())
    results["targets_met"] = ok
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
