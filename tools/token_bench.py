"""The token endpoint beside django-oauth-toolkit's defaults, for ``make bench`` (tools/bench.py).

Refresh exchanges (each one checks the client, finds and rotates the refresh token and writes a new pair)
from ``processes`` processes, each following its own token chain, like an app server's workers:

- ``ours``: ``/oauth/token/<account>``: the portal's validator, client secrets hashed with one salted
  SHA-256 (48 random bytes: nothing to brute-force);
- ``peer``: django-oauth-toolkit's ``TokenView`` with its own validator and backend, for an app whose
  client secret is hashed with Django's password hasher (the toolkit's default: PBKDF2), on the same models
  (tools/bench_peers.py).

Both run in the same worker processes, interleaved in rounds (ours, peer, ours, peer, ...), each request
handed to Django's WSGI handler as a server would (every middleware, no test client).
"""

import multiprocessing
import os
import time
from datetime import timedelta

NAMES = ("ours", "peer")


def _worker(database_url: str, chains: dict, credentials: dict, commands, results) -> None:
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ["DATABASE_URL"] = database_url
    import bench

    bench._setup_django(migrate=False)
    import json

    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    settings.ROOT_URLCONF = "bench_peers"
    server, factory = WSGIHandler(), RequestFactory()  # what a WSGI server calls, without the test client
    paths = {"ours": "/oauth/token/benchco", "peer": "/peer-oauth/token"}
    while (command := commands.get()) is not None:
        name, seconds = command
        count, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline or count == 0:
            client_id, secret = credentials[name]
            environ = factory.post(paths[name], {"grant_type": "refresh_token", "refresh_token": chains[name],
                                                 "client_id": client_id, "client_secret": secret}).environ
            response = server(environ, lambda status, headers, exc_info=None: None)
            assert response.status_code == 200, (name, response.content)
            chains[name] = json.loads(response.content)["refresh_token"]
            response.close()
            count += 1
        results.put((name, count))


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
    context = multiprocessing.get_context("spawn")
    commands, results = context.Queue(), context.Queue()
    workers = []
    for n in range(processes):
        chains = {"ours": _chain(app=world["app"], world=world, name=f"bench-ours-{n}"),
                  "peer": _chain(app=app, world=world, name=f"bench-peer-{n}")}
        workers.append(context.Process(target=_worker, args=(os.environ["DATABASE_URL"], chains, credentials,
                                                             commands, results)))
    for worker in workers:
        worker.start()
    counts, elapsed = dict.fromkeys(NAMES, 0), dict.fromkeys(NAMES, 0.0)
    try:
        for r in range(rounds + 1):  # the first round warms each process up (imports, connections)
            for name in NAMES:
                started = time.perf_counter()
                for _ in workers:
                    commands.put((name, seconds))
                done = sum(results.get(timeout=seconds + 120)[1] for _ in workers)
                if r:
                    counts[name] += done
                    elapsed[name] += time.perf_counter() - started
    finally:
        for _ in workers:
            commands.put(None)
        for worker in workers:
            worker.join(timeout=60)
    ours, peer = counts["ours"] / elapsed["ours"], counts["peer"] / elapsed["peer"]
    return {"token_exchanges_per_s": ours, "token_peer_exchanges_per_s": peer,
            "token_exchanges": counts["ours"], "token_peer_exchanges": counts["peer"],
            "token_exchange_processes": processes}
