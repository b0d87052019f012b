#!/usr/bin/env python3
"""`make bench`: each hot path beside a peer, measured in the same run, then one JSON line.

Runs with no services configured: `make bench` wraps it in `python -m config.embedded_redis`, and it
uses a throwaway SQLite database of its own (unless BENCH_DATABASE_URL is set). Every pair is measured
interleaved (A, B, A, B, ...) on the same Django, database and Redis, so a busy machine slows both alike:
read the ratios.

- Limiter (tools/limiter_bench.py): ours against the `limits` library's moving window, a clock-aligned
  fixed-window counter (django-ratelimit's) and DRF's cache throttle: sequential decisions per second,
  p50, p99, and the most calls admitted in one rolling window on an edge burst and on racing processes.
- Token endpoint (tools/token_bench.py): refresh exchanges per second, ours against django-oauth-toolkit's
  defaults (secrets hashed with Django's password hasher).
- Gateway (tools/gateway_bench.py): overhead over the bare resource handler, ours against a DRF view with
  django-oauth-toolkit's OAuth2Authentication and DRF's throttle on the Redis cache; ours with the token's
  lookup from the process's copy (a client calling again) and from the database (copies off); and ours with
  and without the usage details (what they cost per call).
- Optimisation report (tools/report_bench.py): one installation with 14 days of 200 calls every minute; the
  report and the what-if, median wall and CPU time (target: the report under 200 ms).
"""

import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

# (figure, its peer, what is better) for the table; ratio = ours / peer (or peer / ours for times).
PAIRS = [
    ("limiter_decisions_per_s", "limiter_peer_decisions_per_s", "higher"),
    ("limiter_p50_ms", "limits_p50_ms", "lower"),
    ("limiter_p99_ms", "limits_p99_ms", "lower"),
    ("limiter_decisions_per_s", "fixed_decisions_per_s", "higher"),
    ("limiter_decisions_per_s", "drf_decisions_per_s", "higher"),
    ("limiter_max_in_window", "limits_max_in_window", "exact"),
    ("limiter_max_in_window", "fixed_window_max_in_window", "exact"),
    ("limiter_max_in_window", "drf_max_in_window", "exact"),
    ("token_exchanges_per_s", "token_peer_exchanges_per_s", "higher"),
    ("token_code_exchanges_per_s", "token_peer_code_exchanges_per_s", "higher"),
    ("gateway_overhead_ms", "gateway_peer_overhead_ms", "lower"),
    ("gateway_overhead_without_token_copy_ms", "gateway_peer_overhead_ms", "lower"),
    ("gateway_staff_overhead_ms", "gateway_peer_overhead_ms", "lower"),
    ("gateway_stack_overhead_ms", "gateway_peer_stack_overhead_ms", "lower"),
]
PEER_NAMES = {
    "limiter_peer_decisions_per_s": "limits moving window", "limits_p50_ms": "limits moving window",
    "limits_p99_ms": "limits moving window", "fixed_decisions_per_s": "fixed window (django-ratelimit)",
    "drf_decisions_per_s": "DRF cache throttle", "limits_max_in_window": "limits moving window",
    "fixed_window_max_in_window": "fixed window (django-ratelimit)", "drf_max_in_window": "DRF cache throttle",
    "token_peer_exchanges_per_s": "DOT defaults (PBKDF2 secret)",
    "token_peer_code_exchanges_per_s": "DOT defaults (PBKDF2 secret)",
    "gateway_peer_overhead_ms": "DRF + DOT auth + DRF throttle",
    "gateway_peer_stack_overhead_ms": "DRF + DOT auth + DRF throttle",
}


def _decision_worker(worker: int, seconds: float, batch: int, queue) -> None:
    import redis

    from integrations.ratelimit import SLIDING_LOG, pool_key

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    script = client.register_script(SLIDING_LOG)
    done, deadline, i = 0, time.perf_counter() + seconds, 0
    while time.perf_counter() < deadline:
        # Many clients' decisions travel together on one connection (pipelined); each one is still
        # its own atomic script call with its own answer.
        pipe = client.pipeline(transaction=False)
        for _ in range(batch):
            script(keys=[pool_key(f"bench-rate-{worker}-{i % 1000}")], args=[200, 60_000_000, 1], client=pipe)
            i += 1
        pipe.execute()
        done += batch
    queue.put(done)


def bench_decisions_per_s(processes: int = 4, seconds: float = 3.0, batch: int = 50) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_decision_worker, args=(n, seconds, batch, queue)) for n in range(processes)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    total = sum(queue.get(timeout=seconds + 30) for _ in workers)
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return {"limiter_pipelined_decisions_per_s": total / max(elapsed - 0.5, seconds), "limiter_processes": processes}


def _setup_django(migrate: bool = True) -> None:
    if migrate:  # the first setup picks the database: never the one DATABASE_URL names for the portal
        os.environ["DATABASE_URL"] = _bench_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-use-000")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
    # The token bench measures exchanges, not the token endpoint's rate limits (0 = no limit).
    os.environ.setdefault("OAUTH_TOKEN_LIMIT_PER_CLIENT", "0")
    os.environ.setdefault("OAUTH_TOKEN_LIMIT_PER_ADDRESS", "0")
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def _bench_database() -> str:
    """BENCH_DATABASE_URL; else a private PostgreSQL cluster (as in production) when its binaries are
    installed (BENCH_DATABASE=sqlite skips it); else a throwaway SQLite file."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    workdir = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    if os.environ.get("BENCH_DATABASE", "postgres") != "sqlite":
        import atexit

        import bench_sync

        url = bench_sync.private_postgres(workdir)
        if url:
            atexit.register(bench_sync.stop_all)
            return url
    return f"sqlite:///{workdir}/bench.sqlite3"


def _world():
    """A developer, an app, an account owner and an installation with a live token pair."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Account, DeveloperProfile, Membership, User
    from integrations.models import AccessToken, RefreshToken
    from portal import services
    from portal.installations import installation_turn_on
    from portal.models import App, Stage

    developer = User.objects.create_user(email="bench-dev@example.com", password="x")
    DeveloperProfile.objects.create(user=developer, dev_ref="bench-dev", company="Bench", contact_name="Bench")
    app, secret = services.app_register(actor=developer, app_ref="bench-app", name="Bench", short_description="b",
                                        client_type=App.CLIENT_CONFIDENTIAL, redirect_uris="https://b.example.com/cb")
    App.objects.filter(pk=app.pk).update(stage=Stage.RELEASED)
    owner = User.objects.create_user(email="bench-owner@example.com", password="x")
    account = Account.objects.create(code="benchco", name="Bench Co")
    Membership.objects.create(account=account, user=owner, role=Membership.Role.OWNER)
    installation = installation_turn_on(app=App.objects.get(pk=app.pk), account=account, actor=owner)
    access = AccessToken.objects.create(user=owner, application=app, token="bench-access-token",
                                        installation=installation, expires=timezone.now() + timedelta(hours=1),
                                        scope="read write")
    RefreshToken.objects.create(user=owner, application=app, token="bench-refresh-0", access_token=access,
                                installation=installation)
    return {"app": app, "secret": secret, "account": account, "installation": installation,
            "access": "bench-access-token", "owner_id": owner.pk}


def _shown(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"


def _ratio(ours, peer, better: str) -> str:
    if ours is None or peer is None:
        return "n/a"
    if better == "exact":
        return "exact" if ours <= peer else "-"
    if better == "higher":
        return f"{ours / peer:,.1f}x" if peer else "n/a"
    return f"{ours / peer:.2f}" if peer else "n/a"


def main() -> int:
    results: dict = {}
    print("Partner Portal benchmarks, each beside its peer (this machine: %d cores)" % os.cpu_count(), flush=True)
    _setup_django()
    world = _world()
    import gateway_bench  # these import Django models: after setup
    import limiter_bench
    import report_bench
    import token_bench

    print("limiter: speed, edge burst, racing processes ...", flush=True)
    limiter = {**limiter_bench.speed(), **limiter_bench.edge_burst(), **limiter_bench.race()}
    results.update(limiter_bench.summary(limiter))
    results["limit"] = limiter["race_limit"]
    results.update(limiter)
    results.update(bench_decisions_per_s())
    print("token endpoint ...", flush=True)
    results.update(token_bench.measure(world))
    print("gateway ...", flush=True)
    results.update(gateway_bench.measure(world))
    print("optimisation report ...", flush=True)
    results.update(report_bench.measure())
    results["load_average_1m"] = os.getloadavg()[0]
    results["database"] = os.environ["DATABASE_URL"].partition(":")[0]
    print()
    print(f"{'figure':<40}{'ours':>12}   {'peer':<34}{'peer value':>12}{'ratio':>10}")
    print("-" * 110)
    for ours_key, peer_key, better in PAIRS:
        ours, peer = results.get(ours_key), results.get(peer_key)
        print(f"{ours_key:<40}{_shown(ours):>12}   {PEER_NAMES[peer_key]:<34}{_shown(peer):>12}"
              f"{_ratio(ours, peer, better):>10}")
    print(f"(limit {results['limit']} calls per window in the exactness traces; ratios of times: ours / peer)")
    print(f"usage details (endpoint, outcome, Retry-After, expired token, alerts): "
          f"{_shown(results.get('usage_detail_cost_ms'))} ms per call through the view "
          f"(fastest tenth {_shown(results.get('usage_detail_cost_p10_ms'))} ms) "
          f"(overhead {_shown(results.get('gateway_overhead_ms'))} ms with, "
          f"{_shown(results.get('gateway_overhead_without_usage_detail_ms'))} ms without), "
          f"{_shown(results.get('usage_detail_stack_cost_ms'))} ms through the stack, "
          f"{_shown(results.get('usage_detail_search_cost_ms'))} ms on a repeated search, "
          f"parts alone {_shown(results.get('usage_detail_parts_ms'))} ms "
          f"(Python {_shown(results.get('usage_detail_python_us'))} us, script "
          f"{_shown(results.get('usage_detail_script_us'))} us); budget 0.1 ms")
    print()
    print(json.dumps({key: (round(value, 4) if isinstance(value, float) else value) for key, value in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
