"""What the gateway costs per API call, beside the usual Django stack, for ``make bench`` (tools/bench.py).

The same resource call (20 products) is timed four ways per round, interleaved, on fresh requests:

- ``ours``: through :func:`gateway.api_endpoint` (the token resolved from the process's copy of its lookup, one
  Redis script for the copy's stamp check, the limiter decision and the usage counters with their details,
  headers): a client calling again with its token, as clients do;
- ``staff``: the same call with a staff token (a script's credentials: the token and the staff pool's limit
  read with two prepared queries, no copies) (``gateway_staff_overhead_ms``);
- ``nocopy``: the same with the copies off (``PORTAL["TOKEN_CACHE_SECONDS"] = 0``): the token lookup read from
  the database on every call, as for the first call of a token in a process
  (``gateway_overhead_without_token_copy_ms``);
- ``basic``: the same, with the usage details turned off (``gateway._usage_detail``): calls and throttled
  counted only, as before the endpoint, outcome, Retry-After, expired-token and alert figures existed;
- ``peer``: through a DRF view with django-oauth-toolkit's ``OAuth2Authentication``, ``IsAuthenticated``
  and DRF's user throttle on the Redis cache (tools/bench_peers.py), at the same limit;
- ``bare``: the resource handler called directly with a ready-made caller.

Overhead = median minus the bare handler's median. Twice: calling the views (``gateway_overhead_ms``,
``gateway_peer_overhead_ms``: the gateway alone, as the figure was first defined), and through Django's
whole WSGI handler with every middleware and URL routing (``*_stack_overhead_ms``: what a server runs).
``gateway_overhead_without_usage_detail_ms`` (and its stack twin) is the ``basic`` way's overhead, and
``usage_detail_cost_ms`` the difference of the two (the budget is 0.1 ms; ``usage_detail_cost_p10_ms``: the
same between the fastest tenths of the calls, which other processes disturb least). A search
(``usage_detail_search_cost_ms``: a repeated search, the dearest case: a hash and two more counters) is timed
with and without the details in a loop of its own. Whole calls vary by more than 0.1 ms on a busy machine,
so the details' two parts are also timed alone, interleaved with their baseline: the Python work
(``usage_detail_python_us``) and the script (``usage_detail_script_us``: Redis round trips with and without
the details, no Django); their sum is ``usage_detail_parts_ms``.
"""

import statistics
import time

import bench_peers
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory
from django.test.client import FakePayload

from integrations import api_views, gateway, token_cache, usage
from integrations.gateway import Caller
from integrations.management.commands.seed_api_data import seed_account
from integrations.ratelimit import SlidingLogLimiter
from integrations.redis_client import api_redis
from portal.selectors import platform_settings

REST = "product-service/product/1-20"
SEARCH_REST, SEARCH_QUERY = "product-service/product-search", "productName=Oak&pageSize=20"


def _median_overheads(samples: dict) -> dict:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return medians, medians["ours"] - medians["bare"], medians["peer"] - medians["bare"]


def _p10(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[0]


def _paired_cost(samples: dict, with_detail: str, without: str) -> float:
    """The median of the per-round differences (the two ways ran one after the other in each round)."""
    return statistics.median(a - b for a, b in zip(samples[with_detail], samples[without]))


def _without_usage_detail(call):
    """``call`` with the gateway's usage details off (calls and throttled counted only)."""
    def run(request):
        gateway._usage_detail = False
        try:
            return call(request)
        finally:
            gateway._usage_detail = True
    return run


def _without_token_copy(call):
    """``call`` with the gateway's copies of token lookups off (the database read on every call)."""
    def run(request):
        saved = token_cache.copy_seconds
        token_cache.copy_seconds = lambda: 0
        try:
            return call(request)
        finally:
            token_cache.copy_seconds = saved
    return run


def python_cost(request, account_code: str, *, blocks: int = 40, per_block: int = 500) -> dict:
    """The gateway's Python work for the usage details (endpoint class, search hash, the pool with its details,
    the script's arguments) against the arguments without them, in alternate blocks: microseconds per call
    (median of the per-block differences)."""
    identity = gateway.identify(request, account_code=account_code)
    pk = identity.pool.installation_id

    def detailed():
        pool = gateway._with_usage_detail(identity, request)
        refused, expired, fields = pool.detail
        usage.record_keys_args(installation_id=pk, refused=refused, expired_token=expired, fields=fields)

    def basic():
        usage.record_keys_args(installation_id=pk)

    samples = {"detail": [], "basic": []}
    for _ in range(blocks):
        for name, way in (("detail", detailed), ("basic", basic)):
            started = time.perf_counter_ns()
            for _ in range(per_block):
                way()
            samples[name].append((time.perf_counter_ns() - started) / 1e3 / per_block)
    return {"usage_detail_python_us": _paired_cost(samples, "detail", "basic")}


def script_cost(installation_id: int, *, calls: int = 3000) -> dict:
    """The limiter's script with and without the usage details, interleaved, straight to Redis (no Django):
    what the details add to the one round trip, in microseconds (median of per-pair differences)."""
    limiter = SlidingLogLimiter(api_redis(), then=usage.RECORD_AFTER_DECISION)
    fields = usage.request_fields("GET", f"/public-api/bench/{SEARCH_REST}", SEARCH_QUERY)
    detailed = usage.record_keys_args(installation_id=installation_id, fields=fields)
    basic = usage.record_keys_args(installation_id=installation_id)
    pool, limit = f"bench-script-{installation_id}", 10 * calls + 100
    samples = {"detail": [], "basic": []}
    for n in range(calls + 100):
        for name, (keys, args) in (("detail", detailed), ("basic", basic)):
            started = time.perf_counter_ns()
            limiter.hit(pool, limit=limit, window_s=60, then_keys=keys, then_args=args)
            if n >= 100:
                samples[name].append((time.perf_counter_ns() - started) / 1e3)
    return {"usage_detail_script_us": _paired_cost(samples, "detail", "basic"),
            "usage_script_with_detail_us": statistics.median(samples["detail"]),
            "usage_script_without_detail_us": statistics.median(samples["basic"])}


def _staff_token_headers(account, member_id: int, *, limit: int) -> dict:
    """A staff token of ``account`` (a script's credentials) and its headers; the staff pool at ``limit``."""
    from accounts.models import PrivateApp, StaffToken
    from accounts.tokens import hash_secret, new_secret

    private_app = PrivateApp.objects.create(account=account, identifier=f"{account.code}_bench", name="Bench")
    secret = new_secret("pst")
    StaffToken.objects.create(private_app=private_app, member_id=member_id, name="bench",
                              token_hash=hash_secret(secret), prefix=secret[:8])
    row = platform_settings()
    row.staff_token_limit = limit
    row.save(update_fields=["staff_token_limit"])
    return {"brightpearl-app-ref": private_app.identifier, "brightpearl-staff-token": secret}


def measure(world: dict, *, calls: int = 400) -> dict:
    """``world`` holds ``account``, ``installation`` and ``access`` (a live access token of it)."""
    account, installation = world["account"], world["installation"]
    seed_account(account, products=50, contacts=0, orders=0)
    row = platform_settings()
    saved_limit, saved_staff_limit = row.default_instance_limit, row.staff_token_limit
    limit = 10 * calls + 100  # measure admitted calls, not refusals: the same limit for both
    row.default_instance_limit = limit
    row.save(update_fields=["default_instance_limit"])
    bench_peers.PeerThrottle.rate = f"{limit}/{row.limit_period_seconds}"
    headers = {"Authorization": f"Bearer {world['access']}", "brightpearl-app-ref": installation.app.client_id}
    staff_headers = _staff_token_headers(account, world["owner_id"], limit=limit)
    factory = RequestFactory()
    ours_path, peer_path = f"/public-api/{account.code}/{REST}", f"/peer-api/{account.code}/{REST}"
    caller = Caller(account=account, app_ref=installation.app.client_id, installation=installation)
    gated, peer_view = api_views.endpoint, bench_peers.PeerResourceView.as_view()

    def view_calls():
        ours = lambda r: gated(r, account_code=account.code, rest=REST)  # noqa: E731
        return {
            "ours": ours,
            "basic": _without_usage_detail(ours),
            "nocopy": _without_token_copy(ours),
            "staff": ours,  # with a staff token's headers (below)
            "peer": lambda r: peer_view(r, account_code=account.code, rest=REST),
            "bare": lambda r: bench_peers.handler(r, caller, rest=REST),
        }

    search = lambda r: gated(r, account_code=account.code, rest=SEARCH_REST)  # noqa: E731
    search_calls = {"ours": search, "basic": _without_usage_detail(search)}
    search_path = f"/public-api/{account.code}/{SEARCH_REST}?{SEARCH_QUERY}"

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

    stack_calls = {"ours": through_server("ours"), "basic": _without_usage_detail(through_server("ours")),
                   "peer": through_server("peer"), "bare": view_calls()["bare"]}
    try:
        figures = {}
        for label, ways in (("", view_calls()), ("stack_", stack_calls), ("search_", search_calls)):
            paths = {"peer": peer_path} if label != "search_" else {"ours": search_path, "basic": search_path}
            samples = {name: [] for name in ways}
            for n in range(calls + 20):
                # interleaved: ours, basic, peer, bare, ..., and the other way round every other round, so
                # that no way always follows the same one
                for name, way in (reversed(ways.items()) if n % 2 else ways.items()):
                    request = factory.get(paths.get(name, ours_path),
                                          headers=staff_headers if name == "staff" else headers)
                    started = time.perf_counter_ns()
                    response = way(request)
                    elapsed = (time.perf_counter_ns() - started) / 1e6
                    if response is not None:
                        assert response.status_code == 200, (name, response.content[:300])
                    if n >= 20:  # the first rounds warm connections, caches and scripts
                        samples[name].append(elapsed)
            medians = {name: statistics.median(values) for name, values in samples.items()}
            figures[f"usage_detail_{label}cost_ms"] = medians["ours"] - medians["basic"]
            # the fastest tenth of the calls: the least disturbed by other processes on a busy machine
            figures[f"usage_detail_{label}cost_p10_ms"] = _p10(samples["ours"]) - _p10(samples["basic"])
            if label == "search_":
                continue  # a search with and without the details only (no peer, no bare handler)
            medians, ours, peer = _median_overheads(samples)
            figures[f"gateway_{label}overhead_ms"] = ours
            figures[f"gateway_{label}overhead_without_usage_detail_ms"] = medians["basic"] - medians["bare"]
            if "nocopy" in medians:
                figures["gateway_overhead_without_token_copy_ms"] = medians["nocopy"] - medians["bare"]
                figures["gateway_staff_overhead_ms"] = medians["staff"] - medians["bare"]
            figures[f"gateway_peer_{label}overhead_ms"] = peer
            figures[f"api_call_{label}ours_ms"] = medians["ours"]
            figures[f"api_call_{label}peer_ms"] = medians["peer"]
            figures[f"api_call_{label}bare_ms"] = medians["bare"]
        figures.update(script_cost(installation.pk))
        figures.update(python_cost(factory.get(search_path, headers=headers), account.code))
        figures["usage_detail_parts_ms"] = (figures["usage_detail_python_us"] + figures["usage_detail_script_us"]) / 1e3
    finally:
        settings.ROOT_URLCONF = saved_urlconf
        row.default_instance_limit, row.staff_token_limit = saved_limit, saved_staff_limit
        row.save(update_fields=["default_instance_limit", "staff_token_limit"])
    return figures
