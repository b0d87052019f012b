#!/usr/bin/env python3
"""Where one token exchange's time goes (a development aid beside tools/token_bench.py, not part of `make bench`).

Prints the SQL of one refresh exchange and of one code exchange through Django's WSGI handler (every
middleware), their mean time over ``--exchanges`` runs, and, with ``--pyinstrument``, a profile of the refresh
loop. Run it like the bench: ``python -m config.embedded_redis -- python tools/token_profile.py``.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exchanges", type=int, default=300)
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--peer", action="store_true", help="profile django-oauth-toolkit's defaults instead")
    args = parser.parse_args()
    import bench

    bench._setup_django()
    world = bench._world()
    import token_bench
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    settings.ROOT_URLCONF = "bench_peers"
    server, factory = WSGIHandler(), RequestFactory()
    name = "peer" if args.peer else "ours"
    if args.peer:
        app, secret = token_bench.peer_app(world)
        client_id, path = app.client_id, "/peer-oauth/token"
    else:
        app, secret, client_id, path = world["app"], world["secret"], "bench-app", "/oauth/token/benchco"
    chain = token_bench._chain(app=app, world=world, name=f"profile-{name}")
    world_ids = {"owner_id": world["owner_id"], "installation_id": world["installation"].pk,
                 "account_id": world["account"].pk}
    codes = token_bench.make_grants(app=app, world=world_ids, count=args.exchanges + 20, ours=not args.peer)

    def refresh():
        nonlocal chain
        environ = factory.post(path, {"grant_type": "refresh_token", "refresh_token": chain,
                                      "client_id": client_id, "client_secret": secret}).environ
        response = server(environ, lambda status, headers, exc_info=None: None)
        assert response.status_code == 200, response.content
        chain = json.loads(response.content)["refresh_token"]

    def code_exchange():
        environ = factory.post(path, {"grant_type": "authorization_code", "code": codes.pop(),
                                      "redirect_uri": token_bench.REDIRECT_URI,
                                      "client_id": client_id, "client_secret": secret}).environ
        response = server(environ, lambda status, headers, exc_info=None: None)
        assert response.status_code == 200, response.content

    for kind, call in (("refresh", refresh), ("code", code_exchange)):
        for _ in range(10):
            call()
        with CaptureQueriesContext(connection) as queries:
            call()
        print(f"--- one {kind} exchange ({name}): {len(queries)} queries")
        for query in queries:
            print(f"    {query['time']:>6} {query['sql'][:int(os.environ.get('SQL_WIDTH', 220))]}")
        runs = args.exchanges if not args.peer else 5
        started = time.perf_counter()
        if args.pyinstrument and kind == "refresh":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        if args.cprofile and kind == "refresh":
            import cProfile
            import pstats

            with cProfile.Profile() as cprofiler:
                for _ in range(runs):
                    call()
            pstats.Stats(cprofiler).sort_stats("tottime").print_stats(35)
        for _ in range(runs):
            call()
        elapsed = time.perf_counter() - started
        if args.pyinstrument and kind == "refresh":
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        print(f"{kind}: {elapsed / runs * 1000:.2f} ms per exchange ({runs / elapsed:.0f}/s, one process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
