"""What the gateway costs per API call, for ``make bench`` (tools/bench.py).

The same API view is timed twice per round, on the same request: through :func:`gateway.api_endpoint`
(token lookup, the installation's limit, one limiter decision on Redis, usage counting, headers) and
called directly with a ready-made caller. The overhead is the difference of the medians. Neither
path includes middleware or URL routing, so the difference is the gateway alone.
"""

import inspect
import statistics
import time

from django.test import RequestFactory

from integrations import api_views
from integrations.gateway import Caller
from integrations.management.commands.seed_api_data import seed_account
from portal.selectors import platform_settings


def measure(world: dict, *, calls: int = 400) -> dict:
    """``world`` holds ``account``, ``installation`` and ``access`` (a live access token of it).
    Returns the median overhead in milliseconds (``gateway_overhead_ms``) and both medians."""
    account, installation = world["account"], world["installation"]
    seed_account(account, products=50, contacts=0, orders=0)
    product_ids = "1-20"
    row = platform_settings()
    saved_limit = row.default_instance_limit
    row.default_instance_limit = 10 * calls + 100  # measure admitted calls, not refusals
    row.save(update_fields=["default_instance_limit"])
    try:
        request = RequestFactory().get(
            f"/public-api/{account.code}/product-service/product/{product_ids}",
            headers={"Authorization": f"Bearer {world['access']}", "brightpearl-app-ref": installation.app.client_id},
        )
        gated = api_views.endpoint
        direct = inspect.unwrap(api_views.endpoint)
        caller = Caller(account=account, app_ref=installation.app.client_id, installation=installation)
        kwargs = {"rest": f"product-service/product/{product_ids}"}
        for _ in range(20):  # warm connections, the script cache and Django's caches
            assert gated(request, account_code=account.code, **kwargs).status_code == 200
            direct(request, caller, **kwargs)
        through, around = [], []
        for _ in range(calls):
            started = time.perf_counter_ns()
            response = gated(request, account_code=account.code, **kwargs)
            through.append((time.perf_counter_ns() - started) / 1e6)
            assert response.status_code == 200, response.content[:200]
            started = time.perf_counter_ns()
            direct(request, caller, **kwargs)
            around.append((time.perf_counter_ns() - started) / 1e6)
    finally:
        row.default_instance_limit = saved_limit
        row.save(update_fields=["default_instance_limit"])
    with_gateway, without = statistics.median(through), statistics.median(around)
    return {"gateway_overhead_ms": with_gateway - without, "api_call_with_gateway_ms": with_gateway,
            "api_call_without_gateway_ms": without}
