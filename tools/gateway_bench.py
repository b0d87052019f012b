"""What the gateway costs per API call, beside the usual Django stack, for ``make bench`` (tools/bench.py).

The same resource call (20 products) is timed three ways per round, interleaved, on fresh requests:

- ``ours``: through :func:`gateway.api_endpoint` (token lookup with the installation's limit, one Redis
  script for the limiter decision and the usage counters, headers);
- ``peer``: through a DRF view with django-oauth-toolkit's ``OAuth2Authentication``, ``IsAuthenticated``
  and DRF's user throttle on the Redis cache (tools/bench_peers.py), at the same limit;
- ``bare``: the resource handler called directly with a ready-made caller.

Overhead = median minus the bare handler's median. Twice: calling the views (``gateway_overhead_ms``,
``gateway_peer_overhead_ms``: the gateway alone, as the figure was first defined), and through Django's
whole WSGI handler with every middleware and URL routing (``*_stack_overhead_ms``: what a server runs).
"""

import statistics
import time

import bench_peers
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory
from django.test.client import FakePayload

from integrations import api_views
from integrations.gateway import Caller
from integrations.management.commands.seed_api_data import seed_account
from portal.selectors import platform_settings

REST = "product-service/product/1-20"


def _median_overheads(samples: dict) -> dict:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return medians, medians["ours"] - medians["bare"], medians["peer"] - medians["bare"]


def measure(world: dict, *, calls: int = 400) -> dict:
    """``world`` holds ``account``, ``installation`` and ``access`` (a live access token of it)."""
    account, installation = world["account"], world["installation"]
    seed_account(account, products=50, contacts=0, orders=0)
    row = platform_settings()
    saved_limit = row.default_instance_limit
    limit = 10 * calls + 100  # measure admitted calls, not refusals: the same limit for both
    row.default_instance_limit = limit
    row.save(update_fields=["default_instance_limit"])
    bench_peers.PeerThrottle.rate = f"{limit}/{row.limit_period_seconds}"
    headers = {"Authorization": f"Bearer {world['access']}", "brightpearl-app-ref": installation.app.client_id}
    factory = RequestFactory()
    ours_path, peer_path = f"/public-api/{account.code}/{REST}", f"/peer-api/{account.code}/{REST}"
    caller = Caller(account=account, app_ref=installation.app.client_id, installation=installation)
    gated, peer_view = api_views.endpoint, bench_peers.PeerResourceView.as_view()

    def view_calls():
        return {
            "ours": lambda r: gated(r, account_code=account.code, rest=REST),
            "peer": lambda r: peer_view(r, account_code=account.code, rest=REST),
            "bare": lambda r: bench_peers.handler(r, caller, rest=REST),
        }

    saved_urlconf = settings.ROOT_URLCONF
    settings.ROOT_URLCONF = "bench_peers"
    server = WSGIHandler()
    environs = {"ours": factory.get(ours_path, headers=headers).environ,
                "peer": factory.get(peer_path, headers=headers).environ}

    def through_server(name):
        def call(_request):
            environ = dict(environs[name], **{"wsgi.input": FakePayload(b"")})
            body = server(environ, lambda status, headers, exc_info=None: None)
            assert body.status_code == 200, body.content[:300]
            body.close()
        return call

    stack_calls = {"ours": through_server("ours"), "peer": through_server("peer"),
                   "bare": view_calls()["bare"]}
    try:
        figures = {}
        for label, ways in (("", view_calls()), ("stack_", stack_calls)):
            samples = {name: [] for name in ways}
            for n in range(calls + 20):
                for name, way in ways.items():  # interleaved: ours, peer, bare, ours, ...
                    request = factory.get(ours_path if name != "peer" else peer_path, headers=headers)
                    started = time.perf_counter_ns()
                    response = way(request)
                    elapsed = (time.perf_counter_ns() - started) / 1e6
                    if response is not None:
                        assert response.status_code == 200, (name, response.content[:300])
                    if n >= 20:  # the first rounds warm connections, caches and scripts
                        samples[name].append(elapsed)
            medians, ours, peer = _median_overheads(samples)
            figures[f"gateway_{label}overhead_ms"] = ours
            figures[f"gateway_peer_{label}overhead_ms"] = peer
            figures[f"api_call_{label}ours_ms"] = medians["ours"]
            figures[f"api_call_{label}peer_ms"] = medians["peer"]
            figures[f"api_call_{label}bare_ms"] = medians["bare"]
    finally:
        settings.ROOT_URLCONF = saved_urlconf
        row.default_instance_limit = saved_limit
        row.save(update_fields=["default_instance_limit"])
    return figures
