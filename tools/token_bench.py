"""The token endpoint beside django-oauth-toolkit's defaults, for ``make bench`` (tools/bench.py).

Two kinds of exchange, from ``processes`` processes like an app server's workers:

- refresh exchanges: each one checks the client, finds and rotates the refresh token and writes a new
  pair; each process follows its own token chain;
- code exchanges (``authorization_code``): each one checks the client, redeems a code of the bench
  installation (issued beforehand, as the consent step leaves it, outside the timed part) and writes a pair.

Both against:

- ``ours``: ``/oauth/token/<account>``: the portal's token endpoint (integrations/oauth_views.py), client
  secrets hashed with one salted SHA-256 (48 random bytes: nothing to brute-force);
- ``peer``: django-oauth-toolkit's ``TokenView`` with its own validator and backend, for an app whose
  client secret is hashed with Django's password hasher (the toolkit's default: PBKDF2), on the same models
  (tools/bench_peers.py).

All run in the same worker processes, interleaved in rounds (ours, peer, ours, peer, ... for each kind),
each request handed to Django's WSGI handler as a server would (every middleware, no test client).
"""

import multiprocessing
import os
import time
from datetime import timedelta

NAMES = ("ours", "peer")
KINDS = ("refresh", "code")
REDIRECT_URI = "https://b.example.com/cb"  # the bench app's (tools/bench.py)
PATHS = {"ours": "/oauth/token/benchco", "peer": "/peer-oauth/token"}


def _worker(database_url: str, chains: dict, credentials: dict, world_ids: dict, commands, results) -> None:
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ["DATABASE_URL"] = database_url
    import bench

    bench._setup_django(migrate=False)
    import json

    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from portal.models import App

    settings.ROOT_URLCONF = "bench_peers"
    server, factory = WSGIHandler(), RequestFactory()  # what a WSGI server calls, without the test client
    apps = {name: App.objects.get(client_id=credentials[name][0]) for name in NAMES}
    codes = {name: [] for name in NAMES}
    most = dict.fromkeys(NAMES, 0)  # the most codes one timed round used, per name

    def exchange(name: str, kind: str) -> None:
        client_id, secret = credentials[name]
        data = {"client_id": client_id, "client_secret": secret}
        if kind == "refresh":
            data.update(grant_type="refresh_token", refresh_token=chains[name])
        else:
            data.update(grant_type="authorization_code", code=codes[name].pop(), redirect_uri=REDIRECT_URI)
        environ = factory.post(PATHS[name], data).environ
        response = server(environ, lambda status, headers, exc_info=None: None)
        assert response.status_code == 200, (name, kind, response.content)
        if kind == "refresh":
            chains[name] = json.loads(response.content)["refresh_token"]
        response.close()

    while (command := commands.get()) is not None:
        if command == "prepare":  # untimed: codes for the next round (at least twice the most a round used)
            for name in NAMES:
                wanted = max(2 * most[name] + 50, 500 if name == "ours" else 50)
                if len(codes[name]) < wanted:
                    codes[name] += make_grants(app=apps[name], world=world_ids, count=wanted - len(codes[name]),
                                               ours=name == "ours")
            results.put(("prepared", 0))
            continue
        name, kind, seconds = command
        count, deadline = 0, time.perf_counter() + seconds
        while (time.perf_counter() < deadline or count == 0) and (kind == "refresh" or codes[name]):
            exchange(name, kind)
            count += 1
        if kind == "code":
            most[name] = max(most[name], count)
        results.put((name, count))


def make_grants(*, app, world: dict, count: int, ours: bool) -> list[str]:
    """``count`` authorization codes of ``app`` in the bench account, as the consent step leaves them (the
    portal's rows hold the code's checksum and the installation; the toolkit's hold the code itself); returns
    the codes a client would send."""
    import secrets

    from django.utils import timezone

    from integrations.models import Grant
    from integrations.oauth import token_checksum

    codes = [secrets.token_urlsafe(30) for _ in range(count)]
    expires = timezone.now() + timedelta(hours=1)
    Grant.objects.bulk_create([
        Grant(user_id=world["owner_id"], application=app, code=token_checksum(code) if ours else code,
              expires=expires, redirect_uri=REDIRECT_URI, scope="read write",
              installation_id=world["installation_id"] if ours else None,
              account_id=world["account_id"] if ours else None)
        for code in codes], batch_size=500)
    return codes


def _chain(*, app, world: dict, name: str) -> str:
    from django.utils import timezone

    from integrations.models import AccessToken, RefreshToken

    access = AccessToken.objects.create(user_id=world["owner_id"], application=app, token=f"{name}-access",
                                        installation=world["installation"], scope="read write",
                                        expires=timezone.now() + timedelta(hours=1))
    RefreshToken.objects.create(user_id=world["owner_id"], application=app, token=name, access_token=access,
                                installation=world["installation"])
    return name


def peer_app(world: dict):
    """A second confidential app of the bench developer whose secret is stored as the toolkit's default
    stores it: Django's password hasher (PBKDF2)."""
    from django.contrib.auth.hashers import make_password

    from portal.models import App

    app = App.objects.get(pk=world["app"].pk)
    app.pk, app.id, app.client_id, app.name = None, None, "bench-peer-app", "Bench peer"
    app.client_secret = "placeholder"
    app.save()
    secret = "peer-" + world["secret"]
    App.objects.filter(pk=app.pk).update(client_secret=make_password(secret, hasher="default"))
    return App.objects.get(pk=app.pk), secret


def measure(world: dict, *, processes: int = 2, rounds: int = 4, seconds: float = 3.0) -> dict:
    app, secret = peer_app(world)
    credentials = {"ours": ("bench-app", world["secret"]), "peer": (app.client_id, secret)}
    world_ids = {"owner_id": world["owner_id"], "installation_id": world["installation"].pk,
                 "account_id": world["account"].pk}
    context = multiprocessing.get_context("spawn")
    commands, results = context.Queue(), context.Queue()
    workers = []
    for n in range(processes):
        chains = {"ours": _chain(app=world["app"], world=world, name=f"bench-ours-{n}"),
                  "peer": _chain(app=app, world=world, name=f"bench-peer-{n}")}
        workers.append(context.Process(target=_worker, args=(os.environ["DATABASE_URL"], chains, credentials,
                                                             world_ids, commands, results)))
    for worker in workers:
        worker.start()
    pairs = [(kind, name) for kind in KINDS for name in NAMES]
    counts, elapsed = dict.fromkeys(pairs, 0), dict.fromkeys(pairs, 0.0)
    try:
        for r in range(rounds + 1):  # the first round warms each process up (imports, connections)
            for kind, name in pairs:
                if kind == "code":
                    for _ in workers:
                        commands.put("prepare")
                    for _ in workers:
                        results.get(timeout=600)
                started = time.perf_counter()
                for _ in workers:
                    commands.put((name, kind, seconds))
                done = sum(results.get(timeout=seconds + 600)[1] for _ in workers)
                if r:
                    counts[kind, name] += done
                    elapsed[kind, name] += time.perf_counter() - started
    finally:
        for _ in workers:
            commands.put(None)
        for worker in workers:
            worker.join(timeout=60)
    rate = {pair: counts[pair] / elapsed[pair] for pair in pairs}
    figures = {
        "token_exchanges_per_s": rate["refresh", "ours"], "token_peer_exchanges_per_s": rate["refresh", "peer"],
        "token_exchanges": counts["refresh", "ours"], "token_peer_exchanges": counts["refresh", "peer"],
        "token_code_exchanges_per_s": rate["code", "ours"], "token_peer_code_exchanges_per_s": rate["code", "peer"],
        "token_code_exchanges": counts["code", "ours"], "token_peer_code_exchanges": counts["code", "peer"],
        "token_exchange_ratio": rate["refresh", "ours"] / rate["refresh", "peer"],
        "token_code_exchange_ratio": rate["code", "ours"] / rate["code", "peer"],
        "token_exchange_processes": processes,
    }
    for kind, key in (("refresh", "token_exchange_ratio"), ("code", "token_code_exchange_ratio")):
        print(f"  {kind} exchanges/s from {processes} processes: ours {rate[kind, 'ours']:,.1f}, django-oauth-toolkit "
              f"defaults {rate[kind, 'peer']:,.2f}: {figures[key]:,.1f}x", flush=True)
    return figures


def main() -> int:
    """The token part of `make bench` alone: ``python -m config.embedded_redis -- python tools/token_bench.py``."""
    import json
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench

    bench._setup_django()
    figures = measure(bench._world())
    print(json.dumps({key: (round(value, 4) if isinstance(value, float) else value) for key, value in figures.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
