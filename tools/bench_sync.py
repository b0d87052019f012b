#!/usr/bin/env python3
"""`make bench-sync`: run the sync engine for real and print its figures, then one JSON line.

N connected accounts (managed connections of one app) are synced from the built-in API served by a real
gunicorn process, by W Celery worker processes (queue "sync", thread pool) and one dispatcher process
that calls ``dispatch_once()`` every second. Limits are scaled down together (default 10 calls per 60 s
per installation) so that the 2-core machine is not what limits the figures.

Database: a private PostgreSQL cluster (initdb in a temporary directory, as our child, loopback only,
fsync off, max_connections 600: every running slice holds a connection) when the PostgreSQL binaries are
installed; else the server of BENCH_DATABASE_URL / DATABASE_URL or 127.0.0.1:5432 with a dedicated database
``partner_portal_bench`` (dropped and re-created); else a temporary SQLite file (far slower with many
writers). Redis: a private redis-server (``config.embedded_redis``), flushed first, unless BENCH_REDIS_URL.

Phases
- A (steady state): every account has enough products to stay backlogged. After a warm-up, a window of
  ``--seconds`` without incidents gives ``utilisation`` (accepted ÷ allowed, from the server's own access
  log, over the accounts backlogged the whole window) and ``jain_index`` (over their accepted calls). Then
  a window during which a random worker is SIGKILLed every ``--kill-every`` seconds and replaced gives
  ``utilisation_with_kills``. Then, at the same limit, every account finishes its run (at most
  ``--drain-seconds``): ``mirror_seconds`` is the time from turning the accounts on to the last run's end
  (``mirror_seconds_at_limit``: the same calls evenly spaced at exactly the limit's rate). The
  mirror is compared with the source: ``lost_records`` (source ids missing from the mirror) and
  ``duplicate_records`` (mirror rows beyond one per remote id, plus records created twice by runs).
  ``refresh_calls_per_expiry``: refresh requests seen by the token endpoint ÷ refresh tokens it issued,
  before any worker is killed; ``refresh_calls_per_expiry_with_kills`` over the whole run (a worker killed
  mid-refresh costs one replayed request, answered in the grace period with the same pair).
- B (small accounts): one huge account (backlogged throughout) and ``--small`` accounts of 1–2 pages are
  turned on together; ``small_account_p95_s`` is the 95th percentile of their first run's completion time.

Strategies (``--strategy``, tools/bench_sync_strategies.py): ``paced`` (the engine, the default), ``reactive``
(calls as fast as allowed, sleeps Retry-After on 503/429 and retries) and ``celery-rate-limit`` (the reactive
client under Celery's per-worker task ``rate_limit``: the accounts' combined limit ÷ workers, a task being a
page). Same accounts, data, limits, server and processes; only how a call waits differs. ``--strategy all``
runs the three one after another, each in its own run of this bench (fresh database, Redis, server and
workers; same seed), prints each one's table and JSON line (with ``strategy``), then a side-by-side table.

Every child process is stopped at the end, on errors and on Ctrl-C.
"""

import argparse
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
PY = sys.executable
APP_REF = "bench-sync-app"
SECRET_KEY = "bench-sync-only-secret-key-not-for-production-use-0000000000"

TARGETS = {
    "utilisation": (">=", 0.97),
    "rejected_calls": ("<=", 0),
    "jain_index": (">=", 0.95),
    "lost_records": ("<=", 0),
    "duplicate_records": ("<=", 0),
    "refresh_calls_per_expiry": ("==", 1.0),
}

STRATEGIES = ("reactive", "celery-rate-limit", "paced")  # tools/bench_sync_strategies.py
IDSET_MAX = 200  # ids per GET by ID set (sync.client.IDSET_MAX; the engine's default SYNC_IDSET_MAX)

CHILDREN: list[subprocess.Popen] = []


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(cmd: list[str], *, env: dict, stdout=None, **kwargs) -> subprocess.Popen:
    process = subprocess.Popen(cmd, cwd=BASE_DIR, env=env, start_new_session=True,
                               stdout=stdout or subprocess.DEVNULL, stderr=subprocess.STDOUT, **kwargs)
    CHILDREN.append(process)
    return process


def stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=5)


def stop_all() -> None:
    for process in reversed(CHILDREN):
        stop(process)


# --- Database ---------------------------------------------------------------------------------------

def _pg_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("postgres")
    return Path(found).parent if found and (Path(found).parent / "initdb").exists() else None


# A benchmark's cluster: nothing is kept if the machine stops, and every running slice holds a connection.
FAST_CLUSTER = ("max_connections=600", "fsync=off", "synchronous_commit=off", "full_page_writes=off",
                "shared_buffers=256MB", "max_wal_size=2GB")


def private_postgres(workdir: Path, *, settings=FAST_CLUSTER, database: str = "partner_portal_bench") -> str | None:
    """A private PostgreSQL cluster started with these server ``settings`` (no durability by default) and an
    empty ``database``; its URL, or None."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        return None
    data = workdir / "pgdata"
    run_as = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        os.chmod(workdir, 0o755)
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
    init = subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                           "--no-sync", "-E", "UTF8"], capture_output=True, text=True)
    if init.returncode:
        log(f"initdb failed ({init.stderr.strip()[:200]}); not using a private cluster")
        return None
    port = free_port()
    options = [part for setting in ("listen_addresses=127.0.0.1", *settings, "log_min_messages=fatal")
               for part in ("-c", setting)]
    process = spawn([*run_as, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(data),
                     *options], env=dict(os.environ))
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(f"postgres://postgres@127.0.0.1:{port}/postgres", autocommit=True,
                                 connect_timeout=2) as conn:
                conn.execute(f"CREATE DATABASE {database}")
            break
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                log("the private PostgreSQL cluster did not start")
                return None
            time.sleep(0.2)
    return f"postgres://postgres@127.0.0.1:{port}/{database}"


def shared_postgres() -> str | None:
    """A dedicated database on the configured or local PostgreSQL server (dropped and re-created)."""
    import psycopg

    base = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    if base and not base.startswith(("postgres://", "postgresql://")):
        base = ""
    base = base or "postgres://postgres@127.0.0.1:5432/postgres"
    head, _, _ = base.rpartition("/")
    try:
        with psycopg.connect(f"{head}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute("DROP DATABASE IF EXISTS partner_portal_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE partner_portal_bench")
    except Exception as error:  # noqa: BLE001
        log(f"no PostgreSQL server at {head}: {error}")
        return None
    return f"{head}/partner_portal_bench"


# --- Django in this process ---------------------------------------------------------------------------

def child_env(args, *, database_url: str, redis_url: str, site_url: str, log_dir: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url,
        "SITE_URL": site_url, "SYNC_PLATFORM_URL": site_url, "SYNC_ALLOW_HTTP": "1",
        "DEBUG": "0", "DEMO_MODE": "0", "SECRET_KEY": SECRET_KEY, "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "OAUTH_ACCESS_TOKEN_SECONDS": str(args.token_seconds),
        # Tokens live seconds here, so every account refreshes many times a minute from one address: the
        # token endpoint's per-client and per-address limits are for the real world, not this bench.
        "OAUTH_TOKEN_LIMIT_PER_CLIENT": "0", "OAUTH_TOKEN_LIMIT_PER_ADDRESS": "0",
        "SYNC_REFRESH_MARGIN_SECONDS": str(args.refresh_margin),
        "SYNC_PAGE_SIZE": str(args.page_size),
        "SYNC_MAX_IN_FLIGHT": str(args.in_flight),
        "SYNC_LEASE_SECONDS": str(args.lease),
        "SYNC_MAX_SLOT_WAIT_SECONDS": str(args.max_slot_wait),
        "SYNC_SLICE_MAX_PAGES": str(args.slice_pages),
        "SYNC_SLICE_MAX_SECONDS": str(args.slice_seconds),
        "SYNC_PACE_FACTOR": str(args.pace_factor),
        "CACHE_KEY_PREFIX": "bench-sync",
        "PYTHONPATH": os.pathsep.join([str(BASE_DIR), str(BASE_DIR / "tools"), env.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def setup_django(env: dict) -> None:
    os.environ.update(env)
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


def set_limit(calls: int, period: int) -> None:
    from portal.models import PlatformSettings

    PlatformSettings.objects.update_or_create(pk=1, defaults={"default_instance_limit": calls,
                                                              "limit_period_seconds": period})


def add_products(account_ids: list[int], counts: list[int]) -> None:
    from django.db import connection

    from integrations.models import Product

    if connection.vendor == "postgresql":
        table = Product._meta.db_table
        with connection.cursor() as cursor:
            for account_id, count in zip(account_ids, counts):
                # Distinct updatedOn per row (1 ms apart), like records changed one by one.
                cursor.execute(
                    f"INSERT INTO {table} (account_id, sku, name, barcode, ean, upc, isbn, mpn, stock_tracked, "
                    "category_ids, status, document, created_on, updated_on) "
                    "SELECT %s, 'SKU-' || g, 'Product ' || g, '', '', '', '', '', true, '[]'::jsonb, 'LIVE', "
                    "'{}'::jsonb, now() - interval '2 days', now() - interval '1 day' + g * interval '1 millisecond' "
                    "FROM generate_series(1, %s) g",
                    [account_id, count])
        return
    for account_id, count in zip(account_ids, counts):
        Product.objects.bulk_create([Product(account_id=account_id, sku=f"SKU-{g}", name=f"Product {g}")
                                     for g in range(1, count + 1)], batch_size=2000)


def build_world(args, codes: list[str], paused: set[str]) -> dict:
    """One app with managed sync, one owner of every account, an installation and a connection each."""
    from accounts.models import Account, DeveloperProfile, Membership, User
    from portal import services
    from portal.installations import installation_turn_on
    from portal.models import App, Stage
    from sync.models import Connection
    from sync.services import managed_connection_provision, sync_spec_save

    developer = User.objects.create_user(email="bench-sync-dev@example.com", password="x")
    DeveloperProfile.objects.create(user=developer, dev_ref="bench-sync-dev", company="Bench", contact_name="Bench",
                                    partner_status=DeveloperProfile.PartnerStatus.APPROVED)
    app, secret = services.app_register(actor=developer, app_ref=APP_REF, name="Bench Sync", short_description="b",
                                        client_type=App.CLIENT_CONFIDENTIAL, redirect_uris="https://b.example.com/cb")
    App.objects.filter(pk=app.pk).update(stage=Stage.RELEASED)
    app = App.objects.get(pk=app.pk)
    from django.db import transaction

    with transaction.atomic():
        sync_spec_save(app=app, actor=developer, is_enabled=True, resources=["product"],
                       interval_seconds=3600, client_secret=secret)
    owner = User.objects.create_user(email="bench-sync-owner@example.com", password="x")
    accounts = Account.objects.bulk_create([Account(code=code, name=code) for code in codes])
    Membership.objects.bulk_create([Membership(account=a, user=owner, role=Membership.Role.OWNER) for a in accounts])
    connections = {}
    for account in accounts:
        with transaction.atomic():
            installation = installation_turn_on(app=app, account=account, actor=owner)
            connection = managed_connection_provision(installation=installation, actor=owner)
            if account.code in paused:
                Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.PAUSED)
        connections[account.code] = connection.pk
    return {"accounts": {a.code: a.pk for a in accounts}, "connections": connections}


# --- Server log ----------------------------------------------------------------------------------------

class AccessLog:
    """Incremental reader of the gunicorn access log: (start time, status, method, path) per request."""

    def __init__(self, path: Path):
        self.path, self.offset, self.entries = path, 0, []

    def read(self) -> list[tuple[float, int, str, str]]:
        if not self.path.exists():
            return self.entries
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 4:
                try:
                    self.entries.append((float(parts[0]), int(parts[1]), parts[2], parts[3]))
                except ValueError:
                    pass
        return self.entries


def api_account(path: str) -> str | None:
    if path.startswith("/public-api/"):
        return path.split("/")[2]
    return None


def token_account(path: str) -> str | None:
    if path.startswith("/oauth/token/"):
        return path.split("/")[3]
    return None


def window_counts(entries, start: float, end: float):
    accepted, rejected, other = Counter(), Counter(), Counter()
    for at, status, _method, path in entries:
        if not start <= at < end:
            continue
        code = api_account(path)
        if code is None:
            continue
        if 200 <= status < 300:
            accepted[code] += 1
        elif status in (429, 503):
            rejected[code] += 1
        else:
            other[code] += 1
    return accepted, rejected, other


def jain(values: list[float]) -> float:
    if not values or not any(values):
        return 0.0
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# --- Processes -------------------------------------------------------------------------------------------

class Workers:
    def __init__(self, args, env: dict, log_dir: Path):
        self.args, self.env, self.log_dir = args, env, log_dir
        self.processes: list[subprocess.Popen] = []
        self.started = 0
        self.kills = 0

    def start_one(self) -> subprocess.Popen:
        self.started += 1
        out = open(self.log_dir / f"worker-{self.started}.log", "wb")
        # Every strategy's workers start the same way: this file's --worker mode installs the strategy's client
        # (and, for celery-rate-limit, the task's rate_limit), then runs Celery's worker.
        process = spawn([PY, str(Path(__file__).resolve()), "--worker", self.args.strategy, self.args.rate_limit or "-",
                         "worker", "-Q", "sync", "-P", "threads",
                         "-c", str(self.args.threads), "--without-mingle", "--without-gossip", "--without-heartbeat",
                         "-l", "warning", "-n", f"bench{self.started}@%h"], env=self.env, stdout=out)
        self.processes.append(process)
        return process

    def start(self) -> None:
        for _ in range(self.args.workers):
            self.start_one()

    def kill_random(self) -> int:
        alive = [p for p in self.processes if p.poll() is None]
        victim = random.choice(alive)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        self.processes.remove(victim)
        self.kills += 1
        self.start_one()
        return victim.pid


def wait_for_http(url: str, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not start")


def wait_for_workers(count: int, timeout: float = 90) -> int:
    """Wait until ``count`` Celery workers answer a ping (they consume from the broker); how many did."""
    from config.celery_app import app

    replies: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) >= count:
            break
    return len(replies)


def worker_main(argv: list[str]) -> int:
    """Child process: a Celery sync worker running ``strategy`` (argv: strategy, rate_limit or -, worker args)."""
    import django

    django.setup()
    import bench_sync_strategies

    from config.celery_app import app

    strategy, rate_limit, celery_argv = argv[0], argv[1], argv[2:]
    bench_sync_strategies.install(strategy, rate_limit="" if rate_limit == "-" else rate_limit)
    app.worker_main(celery_argv)
    return 0


def dispatcher_loop() -> int:
    """Child process: the beat's job, ``dispatch_once()`` every second."""
    import django

    django.setup()
    from django.db import close_old_connections

    from sync.dispatcher import dispatch_once

    while True:
        started = time.monotonic()
        try:
            dispatch_once()
        except Exception as error:  # noqa: BLE001 - keep dispatching; the next pass retries
            print(f"dispatch failed: {error!r}", flush=True)
            close_old_connections()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


# --- Figures from the database ---------------------------------------------------------------------------

def finished_at(connection_ids) -> dict[int, float]:
    """First successful run's end (unix seconds) per connection."""
    from sync.models import SyncRun

    done = {}
    for connection_id, at in (SyncRun.objects.filter(connection_id__in=list(connection_ids),
                                                     status=SyncRun.Status.SUCCEEDED)
                              .order_by("finished_at").values_list("connection_id", "finished_at")):
        done.setdefault(connection_id, at.timestamp())
    return done


def mirror_check(world: dict, codes: list[str], all_codes: list[str]) -> dict:
    from django.db.models import Sum

    from integrations.models import Product
    from sync.models import SyncRecord, SyncRun

    lost = mirrored = source = 0
    for code in codes:
        connection_id, account_id = world["connections"][code], world["accounts"][code]
        ids = set(Product.objects.filter(account_id=account_id).values_list("id", flat=True))
        have = set(int(x) for x in SyncRecord.objects.filter(connection_id=connection_id, resource="product")
                   .values_list("remote_id", flat=True))
        source += len(ids)
        mirrored += len(have & ids)
        lost += len(ids - have)
    connection_ids = [world["connections"][c] for c in all_codes]
    rows = SyncRecord.objects.filter(connection_id__in=connection_ids)
    total = rows.count()
    distinct = rows.values("connection_id", "resource", "remote_id").distinct().count()
    created = SyncRun.objects.filter(connection_id__in=connection_ids).aggregate(n=Sum("records_created"))["n"] or 0
    return {"source_records": source, "mirrored_records": mirrored, "lost_records": lost,
            "duplicate_rows": total - distinct, "records_created_by_runs": created,
            "created_beyond_distinct": max(0, created - distinct)}


# --- The benchmark ------------------------------------------------------------------------------------------

def calls_per_page(page_size: int) -> int:
    """A page costs its search and ceil(page size / ID-set max) GETs by ID set (the engine's call pattern)."""
    return 1 + math.ceil(page_size / IDSET_MAX)


def celery_rate_limit(*, accounts: int, limit: int, period_s: float, page_size: int, workers: int) -> str:
    """``sync_slice``'s ``rate_limit`` per worker for celery-rate-limit, as people set it: the accounts' combined
    limit, in tasks of one page, divided by the workers (200 accounts x 10 calls/60 s, 2 calls a page, 4
    workers: "250/m")."""
    if min(accounts, limit, workers) < 1 or period_s <= 0:
        raise ValueError("accounts, limit and workers must be at least 1 and the period positive")
    per_minute = accounts * limit * 60 / period_s / calls_per_page(page_size) / workers
    return f"{per_minute:.6g}/m"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategy", choices=[*STRATEGIES, "all"], default="paced",
                        help="client strategy (default: paced, the engine); all: the three, one after another")
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="threads per worker (default: enough for all slices)")
    parser.add_argument("--seconds", type=float, default=60, help="measured window without incidents")
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--kill-seconds", type=float, default=40, help="window with worker kills")
    parser.add_argument("--kill-every", type=float, default=10)
    parser.add_argument("--drain-seconds", type=float, default=150, help="most time to let every run finish")
    parser.add_argument("--limit", type=int, default=10, help="calls per period per installation")
    parser.add_argument("--period", type=int, default=60)
    parser.add_argument("--page-size", type=int, default=5)
    parser.add_argument("--small", type=int, default=60, help="small accounts of phase B")
    parser.add_argument("--phase-b-seconds", type=float, default=45)
    parser.add_argument("--token-seconds", type=int, default=45)
    parser.add_argument("--refresh-margin", type=int, default=10)
    parser.add_argument("--lease", type=int, default=15)
    parser.add_argument("--max-slot-wait", type=float, default=0, help="seconds (default: the engine's 4 s)")
    parser.add_argument("--in-flight", type=int, default=0, help="SYNC_MAX_IN_FLIGHT (default: from the rate)")
    parser.add_argument("--slice-pages", type=int, default=0,
                        help="SYNC_SLICE_MAX_PAGES (default 20; 1 for celery-rate-limit: a task is a page)")
    parser.add_argument("--slice-seconds", type=int, default=20)
    parser.add_argument("--pace-factor", type=float, default=0.99)
    parser.add_argument("--server-workers", type=int, default=3)
    parser.add_argument("--server-threads", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the logs directory")
    args = parser.parse_args(argv)
    if not args.max_slot_wait:
        # The engine's default: a slot further away than this hands the worker back, and the stream comes
        # back to the dispatcher a little before its slot (so a waiting stream holds no worker).
        args.max_slot_wait = 4.0
    args.rate_limit = ""
    if args.strategy == "celery-rate-limit":
        # A task is one page (a search and its GET by ID set): Celery's rate_limit counts tasks.
        args.slice_pages = args.slice_pages or 1
        args.rate_limit = celery_rate_limit(accounts=args.accounts, limit=args.limit, period_s=args.period,
                                            page_size=args.page_size, workers=args.workers)
        if not args.in_flight:
            # Tasks wait in their worker for the bucket: as many queued as a quarter of a lease's worth of the
            # rate. A task that waits longer than its lease finds its stream leased again (it does nothing but
            # still spends a token) while the new lease's task queues behind it: with half a lease's worth, a
            # loaded machine (tasks run slower than the rate) tipped 200 accounts into only such tasks.
            task_rate = args.accounts * args.limit / args.period / calls_per_page(args.page_size)
            args.in_flight = max(2 * args.workers, math.ceil(round(task_rate * args.lease / 4, 6)))
    args.slice_pages = args.slice_pages or 20
    if not args.in_flight:
        # Enough places for every call of the whole rate to wait up to max_slot_wait and run, with room.
        total_rate = (args.accounts + args.small + 1) * args.limit / args.period
        args.in_flight = max(32, math.ceil(total_rate * (args.max_slot_wait + 2) * 1.5))
    if not args.threads:
        args.threads = math.ceil(args.in_flight * 1.25 / args.workers)
    return args


SIDE_BY_SIDE = ("rejected_calls", "rejected_share", "utilisation", "mirror_seconds",
                "mirror_seconds_at_limit", "jain_index", "min_account_accepted", "max_account_accepted",
                "utilisation_with_kills", "rejected_in_kill_window", "lost_records", "duplicate_records",
                "runs_unfinished", "refresh_calls_per_expiry", "small_account_p95_s", "api_calls_total",
                "bench_seconds", "load_average_1m")


def without_strategy(argv: list[str]) -> list[str]:
    """``argv`` without its --strategy option (either spelling)."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--strategy":
            skip = True
        elif not arg.startswith("--strategy="):
            kept.append(arg)
    return kept


def side_by_side(results: dict[str, dict]) -> str:
    """The figures of each strategy's run in columns (a run that printed no JSON line shows n/a)."""
    names = list(results)
    lines = [f"{'figure':<28}" + "".join(f"{name:>20}" for name in names), "-" * (28 + 20 * len(names))]
    for key in SIDE_BY_SIDE:
        cells = []
        for name in names:
            value = results[name].get(key)
            cells.append("n/a" if value is None else (f"{value:,.4g}" if isinstance(value, float) else str(value)))
        lines.append(f"{key:<28}" + "".join(f"{cell:>20}" for cell in cells))
    return "\n".join(lines)


def run_all(argv: list[str]) -> int:
    """Each strategy in its own run of this bench, one after another (same arguments, same seed, so the same
    accounts and data; a fresh database, Redis, server and workers each), then the side-by-side table."""
    rest = without_strategy(argv)
    results: dict[str, dict] = {}
    status = 0
    for strategy in STRATEGIES:
        log(f"=== strategy {strategy} ===")
        process = subprocess.Popen([PY, str(Path(__file__).resolve()), *rest, "--strategy", strategy], cwd=BASE_DIR,
                                   stdout=subprocess.PIPE, text=True)
        CHILDREN.append(process)
        results[strategy] = {}
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.startswith("{"):
                results[strategy] = json.loads(line)
        status = process.wait() or status
    print()
    print("Side by side (same accounts, data, limits and server; one run each, one after another):")
    print(side_by_side(results))
    return status


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--dispatcher":
        return dispatcher_loop()
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker_main(sys.argv[2:])
    args = parse_args()
    if args.strategy == "all":
        return run_all(sys.argv[1:])
    random.seed(7)
    interval = args.period / (args.limit * args.pace_factor)
    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        return run(args, workdir, interval)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        stop_all()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"logs kept in {workdir}")


def run(args, workdir: Path, interval: float) -> int:
    started_at = time.time()
    print(f"Sync engine benchmark, strategy {args.strategy} (this machine: {os.cpu_count()} cores)", flush=True)
    database_url, database = private_postgres(workdir), "private PostgreSQL cluster"
    if database_url is None:
        database_url, database = shared_postgres(), "PostgreSQL (database partner_portal_bench)"
    if database_url is None:
        database_url, database = f"sqlite:///{workdir}/bench.sqlite3", "SQLite (far slower with many writers)"
    log(f"database: {database}")
    from config.embedded_redis import private_redis

    redis_cm = None
    redis_url = os.environ.get("BENCH_REDIS_URL")
    if not redis_url:
        redis_cm = private_redis()
        redis_url = redis_cm.__enter__()
    try:
        return _run(args, workdir, interval, database_url, database, redis_url, started_at)
    finally:
        if redis_cm is not None:
            redis_cm.__exit__(None, None, None)


def _run(args, workdir, interval, database_url, database, redis_url, started_at) -> int:
    import redis as redis_lib

    redis_lib.Redis.from_url(redis_url).flushdb()
    port = free_port()
    site_url = f"http://127.0.0.1:{port}"
    env = child_env(args, database_url=database_url, redis_url=redis_url, site_url=site_url, log_dir=workdir)
    setup_django(env)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    set_limit(args.limit, args.period)

    # --- World: phase A accounts (backlogged), phase B huge + small accounts (paused until B) ---
    rate = args.limit * args.pace_factor / args.period
    phase_a_s = args.warmup + args.seconds + args.kill_seconds
    # A page costs one search and ceil(page size / ID-set max) GETs by ID set (the engine's call pattern).
    page_calls = calls_per_page(args.page_size)
    pages_a = math.ceil(rate * phase_a_s * 1.15 / page_calls) + 2
    codes_a = [f"acct{i:05d}" for i in range(args.accounts)]
    code_huge = "huge00000"
    codes_small = [f"small{i:04d}" for i in range(args.small)]
    t = time.monotonic()
    world = build_world(args, codes_a + [code_huge] + codes_small, paused={code_huge, *codes_small})
    small_sizes = [random.randint(1, 2 * args.page_size) for _ in codes_small]
    add_products([world["accounts"][c] for c in codes_a], [pages_a * args.page_size] * len(codes_a))
    add_products([world["accounts"][code_huge]], [pages_a * args.page_size * 4])
    add_products([world["accounts"][c] for c in codes_small], small_sizes)
    from sync.models import Connection, SyncStream

    versions_before = sum(Connection.objects.values_list("token_version", flat=True))
    # Phase A streams wait until the processes are up; then start together.
    SyncStream.objects.update(next_run_at="2100-01-01T00:00:00Z")
    log(f"world: {len(codes_a)} + 1 + {len(codes_small)} accounts, {pages_a * args.page_size} products each "
        f"({pages_a} pages of {args.page_size}) in {time.monotonic() - t:.1f} s")

    # --- Processes ---
    access_log = workdir / "access.log"
    spawn([PY, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(args.server_workers),
          "--threads", str(args.server_threads), "--logger-class", "bench_sync_gunicorn.BenchLogger",
          "--access-logfile", str(access_log), "--access-logformat", "%(e)s %(s)s %(m)s %(U)s",
          "--error-logfile", str(workdir / "server-error.log"), "--backlog", "2048"], env=env)
    wait_for_http(site_url + "/")
    workers = Workers(args, env, workdir)
    workers.start()
    spawn([PY, str(Path(__file__).resolve()), "--dispatcher"], env=env,
          stdout=open(workdir / "dispatcher.log", "wb"))
    ready = wait_for_workers(args.workers)  # every strategy starts with its workers consuming
    log(f"{ready}/{args.workers} sync workers answer")
    log(f"server {site_url} ({args.server_workers} workers x {args.server_threads} threads), {args.workers} sync "
        f"workers x {args.threads} threads, strategy {args.strategy}"
        f"{f' (sync_slice rate_limit {args.rate_limit} per worker)' if args.rate_limit else ''}, "
        f"limit {args.limit}/{args.period} s, pace {args.pace_factor}, slices of at most {args.slice_pages} pages, "
        f"max slot wait {args.max_slot_wait} s, lease {args.lease} s, tokens live {args.token_seconds} s")
    reader = AccessLog(access_log)
    ids_a = [world["connections"][c] for c in codes_a]
    # Accounts are connected at different moments, not in one instant: their first calls are spread over
    # one pace interval (otherwise all accounts call in waves, and a window's count depends on where its
    # edges fall between waves).
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for connection_id in ids_a:
        SyncStream.objects.filter(connection_id=connection_id).update(
            next_run_at=now + timedelta(seconds=random.uniform(0, interval)))
    t0 = time.time()

    def progress(label: str, until: float, kill_every: float | None = None) -> None:
        next_kill = time.time() + kill_every if kill_every else None
        while time.time() < until:
            time.sleep(min(5.0, max(0.0, until - time.time())))
            if next_kill and time.time() >= next_kill and time.time() < until - 2:
                pid = workers.kill_random()
                log(f"  SIGKILL worker {pid}; replacement started")
                next_kill = time.time() + kill_every
            entries = reader.read()
            recent = [e for e in entries if e[0] >= time.time() - 6 and api_account(e[3])]
            last5 = [e for e in recent if time.time() - 5.5 <= e[0] < time.time() - 0.5]
            refused = sum(1 for e in recent if e[1] in (429, 503))
            log(f"  {label}: {len(last5) / 5:.1f} API calls/s (ideal {rate * len(codes_a):.1f}), refused {refused}")

    log(f"phase A: warm-up {args.warmup:.0f} s")
    progress("warm-up", t0 + args.warmup)
    window_start = time.time()
    window_end = window_start + args.seconds
    log(f"phase A: measured window {args.seconds:.0f} s (no incidents)")
    progress("steady", window_end)
    kill_start, kill_end = window_end, window_end + args.kill_seconds
    log(f"phase A: window with a worker SIGKILLed every {args.kill_every:.0f} s ({args.kill_seconds:.0f} s)")
    progress("kills", kill_end, kill_every=args.kill_every)
    time.sleep(2)
    entries = reader.read()

    done = finished_at(ids_a)
    backlogged = [c for c in codes_a if done.get(world["connections"][c], float("inf")) >= window_end]
    accepted, rejected, other = window_counts(entries, window_start, window_end)
    allowed = len(backlogged) * args.limit * args.seconds / args.period
    utilisation = sum(accepted[c] for c in backlogged) / allowed if allowed else 0.0
    jain_index = jain([accepted[c] for c in backlogged])
    # The same from the spacing of each account's calls (immune to where the window's edges fall).
    gaps, spans = 0, 0.0
    for code in backlogged:
        times = sorted(at for at, status, _m, path in entries
                       if window_start <= at < window_end and 200 <= status < 300 and api_account(path) == code)
        if len(times) > 1:
            gaps, spans = gaps + len(times) - 1, spans + times[-1] - times[0]
    utilisation_from_spacing = (gaps / spans) * args.period / args.limit if spans else 0.0
    backlogged_k = [c for c in codes_a if done.get(world["connections"][c], float("inf")) >= kill_end]
    accepted_k, rejected_k, _ = window_counts(entries, kill_start, kill_end)
    allowed_k = len(backlogged_k) * args.limit * args.kill_seconds / args.period
    utilisation_k = sum(accepted_k[c] for c in backlogged_k) / allowed_k if allowed_k else 0.0

    # --- Drain: every account finishes its run; then compare the mirror with the source ---
    # The limit stays as it was: when the last account's run finishes is the strategy's time to mirror
    # every record (mirror_seconds).
    log("phase A: drain (same limit, until every run finishes), then mirror check")
    drain_start = time.time()
    while True:
        done = finished_at(ids_a)
        if len(done) == len(ids_a) or time.time() - drain_start > args.drain_seconds:
            break
        time.sleep(2)
        if int(time.time() - drain_start) % 10 < 2:
            log(f"  drain: {len(done)}/{len(ids_a)} runs finished")
    log(f"  {len(done)}/{len(ids_a)} runs finished, drain took {time.time() - drain_start:.0f} s")
    # From the moment the accounts were turned on (their first calls spread over one pace interval) to the
    # last one's run finishing; the same calls at exactly the limit's rate, evenly spaced, take calls_at_limit_s.
    mirror_s = max(done.values()) - t0 if len(done) == len(ids_a) and done else None
    calls_per_account = pages_a * page_calls
    calls_at_limit_s = (calls_per_account - 1) * args.period / args.limit
    finished_codes = [c for c in codes_a if world["connections"][c] in done]
    check = mirror_check(world, finished_codes, codes_a)  # lost records only count where the run claims to be complete
    needs_reauth = Connection.objects.filter(status=Connection.Status.NEEDS_REAUTH).count()

    # --- Phase B: one huge account backlogged, small accounts turned on together ---
    ids_b = [world["connections"][c] for c in [code_huge] + codes_small]
    log(f"phase B: 1 huge account + {len(codes_small)} small accounts (1-2 pages) turned on together")
    b_start = time.time()

    Connection.objects.filter(pk__in=ids_b).update(status=Connection.Status.ACTIVE)
    SyncStream.objects.filter(connection_id__in=ids_b).update(next_run_at=timezone.now())
    small_ids = [world["connections"][c] for c in codes_small]
    while time.time() - b_start < args.phase_b_seconds:
        done_b = finished_at(small_ids)
        if len(done_b) == len(small_ids):
            break
        time.sleep(0.5)
    done_b = finished_at(small_ids)
    times = [done_b[i] - b_start for i in small_ids if i in done_b]
    huge_done = finished_at([world["connections"][code_huge]])
    small_p95 = percentile(times, 0.95) if len(times) == len(small_ids) else None
    entries = reader.read()
    huge_calls = sum(1 for e in entries if e[0] >= b_start and api_account(e[3]) == code_huge and 200 <= e[1] < 300)

    # --- Refreshes: token requests seen by the server vs token generations stored ---
    from sync.models import Connection as C

    versions_after = sum(C.objects.values_list("token_version", flat=True))
    generations = versions_after - versions_before
    token_calls = [e for e in entries if token_account(e[3]) and e[2] == "POST"]
    token_ok = sum(1 for e in token_calls if e[1] == 200)
    # The same before any worker was killed, both sides counted by the server: refresh requests in the
    # access log, refresh tokens it issued (a killed worker's lost answer is replayed once, in the grace
    # period, and returns the same pair: that costs one more request but no generation).
    from datetime import datetime, timezone as dt_timezone

    from integrations.models import RefreshToken

    calm_from, calm_to = (datetime.fromtimestamp(t, tz=dt_timezone.utc) for t in (t0, kill_start))
    calm_calls = sum(1 for e in token_calls if t0 <= e[0] < kill_start)
    calm_generations = RefreshToken.objects.filter(created__gte=calm_from, created__lt=calm_to).count()
    all_rejected = sum(1 for e in entries if api_account(e[3]) and e[1] in (429, 503))
    all_accepted = sum(1 for e in entries if api_account(e[3]) and 200 <= e[1] < 300)
    elapsed = time.time() - started_at

    results = {
        "strategy": args.strategy, "celery_rate_limit_per_worker": args.rate_limit or None,
        "slice_max_pages": args.slice_pages,
        "accounts": args.accounts, "workers": args.workers, "threads_per_worker": args.threads,
        "max_in_flight": args.in_flight, "max_slot_wait_s": args.max_slot_wait,
        "seconds": args.seconds, "limit": args.limit, "period_s": args.period, "pace_factor": args.pace_factor,
        "page_size": args.page_size, "database": database.split(" (")[0],
        "allowed_calls": round(allowed, 1), "accepted_calls": sum(accepted[c] for c in backlogged),
        "rejected_calls": all_rejected,
        "rejected_share": round(all_rejected / max(1, all_accepted + all_rejected), 4),
        "mirror_seconds": round(mirror_s, 1) if mirror_s is not None else None,
        "mirror_seconds_at_limit": round(calls_at_limit_s, 1), "calls_per_account": calls_per_account,
        "rejected_in_window": sum(rejected.values()),
        "other_errors_in_window": sum(other.values()),
        "backlogged_accounts": len(backlogged),
        "utilisation": round(utilisation, 4), "utilisation_from_spacing": round(utilisation_from_spacing, 4),
        "jain_index": round(jain_index, 4),
        "min_account_accepted": min((accepted[c] for c in backlogged), default=0),
        "max_account_accepted": max((accepted[c] for c in backlogged), default=0),
        "kill_window_s": args.kill_seconds, "workers_killed": workers.kills,
        "utilisation_with_kills": round(utilisation_k, 4), "rejected_in_kill_window": sum(rejected_k.values()),
        "small_accounts": len(codes_small), "small_accounts_done": len(times),
        "small_account_p50_s": round(percentile(times, 0.5), 2) if times else None,
        "small_account_p95_s": round(small_p95, 2) if small_p95 is not None else None,
        "huge_account_calls_phase_b": huge_calls, "huge_account_finished": bool(huge_done),
        "source_records": check["source_records"], "lost_records": check["lost_records"],
        "duplicate_records": check["duplicate_rows"] + check["created_beyond_distinct"],
        "runs_finished": len(done), "runs_unfinished": len(ids_a) - len(done),
        "refresh_calls": len(token_calls), "refresh_calls_ok": token_ok, "token_generations": generations,
        "refresh_calls_per_expiry": round(calm_calls / calm_generations, 4) if calm_generations else None,
        "refresh_calls_no_kills": calm_calls, "token_generations_no_kills": calm_generations,
        "refresh_calls_per_expiry_with_kills": round(len(token_calls) / generations, 4) if generations else None,
        "needs_reauth": needs_reauth,
        "api_calls_total": all_accepted, "bench_seconds": round(elapsed, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print()
    print(f"{'figure':<30}{'value':>14}   target")
    print("-" * 60)
    for name, value in results.items():
        target = TARGETS.get(name)
        shown = "n/a" if value is None else (f"{value:,.4g}" if isinstance(value, float) else str(value))
        verdict = ""
        if target:
            op, goal = target
            ok = value is not None and {"<=": value <= goal, ">=": value >= goal, "==": value == goal}[op]
            verdict = f"{op} {goal}  {'ok' if ok else 'MISSED'}"
        print(f"{name:<30}{shown:>14}   {verdict}")
    print()
    print(json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
