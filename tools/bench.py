#!/usr/bin/env python3
"""`make bench`: measure the hot paths and print a table, then one JSON line.

Runs with no services configured: `make bench` wraps it in `python -m config.embedded_redis`, and it
uses a throwaway SQLite database of its own (unless BENCH_DATABASE_URL is set).

Figures:
- limiter_p50_ms / limiter_p99_ms: one limiter decision (one Redis round trip, local Redis).
- limiter_decisions_per_s: decisions per second from several processes on one Redis.
- gateway_overhead_ms: median extra time of an API call with auth, limiter and headers over the same
  handler called without them.
- token_exchanges_per_s: refresh-token exchanges per second at the token endpoint (in-process WSGI).
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

TARGETS = {
    "limiter_p50_ms": ("<=", 0.2),
    "limiter_p99_ms": ("<=", 1.0),
    "limiter_decisions_per_s": (">=", 20000),
    "gateway_overhead_ms": ("<=", 2.0),
    "token_exchanges_per_s": (">=", 200),
}


def _limiter():
    import redis

    from integrations.ratelimit import SlidingLogLimiter

    return SlidingLogLimiter(redis.Redis.from_url(os.environ["REDIS_URL"]))


def bench_limiter_latency(calls: int = 20000) -> dict:
    limiter = _limiter()
    pools = [f"bench-latency-{i}" for i in range(500)]
    for pool in pools[:50]:  # warm the script cache and the connection
        limiter.hit(pool, limit=200, window_s=60)
    samples = []
    for i in range(calls):
        started = time.perf_counter_ns()
        limiter.hit(pools[i % len(pools)], limit=200, window_s=60)
        samples.append((time.perf_counter_ns() - started) / 1e6)
    samples.sort()
    return {"limiter_p50_ms": samples[len(samples) // 2], "limiter_p99_ms": samples[int(len(samples) * 0.99)]}


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
    return {"limiter_decisions_per_s": total / max(elapsed - 0.5, seconds), "limiter_processes": processes}


def _setup_django(migrate: bool = True) -> None:
    if migrate:  # the first setup picks the database: never the one DATABASE_URL names for the portal
        db_dir = tempfile.mkdtemp(prefix="portal-bench-")
        os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{db_dir}/bench.sqlite3"
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


def _exchange_worker(database_url: str, secret: str, refresh: str, seconds: float, queue) -> None:
    os.environ["DATABASE_URL"] = database_url
    _setup_django(migrate=False)
    from django.test import Client

    client, count = Client(), 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        response = client.post("/oauth/token/benchco", {
            "grant_type": "refresh_token", "refresh_token": refresh, "client_id": "bench-app", "client_secret": secret})
        assert response.status_code == 200, response.content
        refresh = response.json()["refresh_token"]
        count += 1
    queue.put(count)


def bench_token_exchanges(world: dict, processes: int = 2, seconds: float = 4.0) -> dict:
    """Refresh exchanges (each rotates the refresh token: lookups, revoke, two inserts) from several
    processes, each following its own token chain, like app servers with several workers."""
    from integrations.models import RefreshToken

    chains = []
    for n in range(processes):
        RefreshToken.objects.create(user_id=world["owner_id"], application=world["app"], token=f"bench-chain-{n}",
                                    access_token=None, installation=world["installation"])
        chains.append(f"bench-chain-{n}")
    # Chains start without an access token; give each one so the toolkit accepts it.
    from datetime import timedelta

    from django.utils import timezone

    from integrations.models import AccessToken

    for n, chain in enumerate(chains):
        access = AccessToken.objects.create(
            user_id=world["owner_id"],
            application=world["app"],
            token=f"bench-chain-access-{n}",
            installation=world["installation"],
            scope="read write",
            expires=timezone.now() + timedelta(hours=1),
        )
        RefreshToken.objects.filter(token=chain).update(access_token=access)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(
            target=_exchange_worker, args=(os.environ["DATABASE_URL"], world["secret"], chain, seconds, queue)
        )
        for chain in chains
    ]
    for worker in workers:
        worker.start()
    total = sum(queue.get(timeout=seconds + 60) for _ in workers)
    for worker in workers:
        worker.join()
    return {"token_exchanges_per_s": total / seconds, "token_exchange_processes": processes}


def bench_gateway_overhead(world: dict, calls: int = 400) -> dict:
    """Median time of a real API call through the gateway minus the same handler called directly."""
    try:
        import gateway_bench
    except ImportError:
        return {"gateway_overhead_ms": None}
    return gateway_bench.measure(world, calls=calls)


def main() -> int:
    results: dict = {}
    print("Partner Portal benchmarks (this machine: %d cores)" % os.cpu_count(), flush=True)
    results.update(bench_limiter_latency())
    results.update(bench_decisions_per_s())
    _setup_django()
    world = _world()
    results.update(bench_token_exchanges(world))
    results.update(bench_gateway_overhead(world))
    print()
    print(f"{'figure':<28}{'value':>14}   target")
    print("-" * 56)
    for name, (op, target) in TARGETS.items():
        value = results.get(name)
        shown = "n/a" if value is None else (f"{value:,.0f}" if value >= 100 else f"{value:.3f}")
        ok = value is not None and (value <= target if op == "<=" else value >= target)
        print(f"{name:<28}{shown:>14}   {op} {target:,}  {'ok' if ok else 'MISSED'}")
    print()
    print(json.dumps({key: (round(value, 4) if isinstance(value, float) else value) for key, value in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
