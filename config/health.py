"""Health endpoints for load balancers and orchestrators.

- ``/healthz``: the process is alive and serving (no dependency is checked: restarting a web process never
  fixes a database outage, so liveness must not depend on one).
- ``/readyz``: the database and Redis answer; 503 otherwise, with which check failed. Take the instance out
  of rotation, do not restart it.

:class:`HealthCheckMiddleware`, first in MIDDLEWARE, answers both before any other middleware runs: no host
check (probes come by IP address), no session, no HTTPS redirect, no log line per probe.
"""

import logging
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connections
from django.http import JsonResponse

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2


def healthz(request) -> JsonResponse:
    return _no_store(JsonResponse({"status": "ok"}))


@lru_cache(maxsize=4)
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS)


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> None:
    _redis_client(settings.REDIS_URL).ping()


CHECKS = {"database": check_database, "redis": check_redis}


def readyz(request) -> JsonResponse:
    results, ready = {}, True
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as error:  # noqa: BLE001 - any failure means "not ready"
            ready = False
            # The class only: a message may carry a host name or a URL with a password.
            results[name] = f"error: {type(error).__name__}"
            logger.warning("readyz: %s check failed: %s", name, type(error).__name__)
    return _no_store(JsonResponse({"status": "ready" if ready else "unavailable", "checks": results},
                                  status=200 if ready else 503))


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


PATHS = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = PATHS.get(request.path_info.rstrip("/") or "/")
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)
