"""The process's Redis clients: one for the API gateway (the limiter and the usage counters), one for
Celery work (``worker_redis``).

Created lazily from ``settings.REDIS_URL`` with short socket timeouts, so that a slow or missing
Redis costs each API request at most a fraction of a second (the gateway then fails open or closed
as configured). redis-py's client holds a thread-safe connection pool, so one client per process
serves every thread. If ``REDIS_URL`` changes (tests override it), the next call builds a new client.
"""

import threading
from functools import lru_cache

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from integrations.conf import integrations_settings

_lock = threading.Lock()
_client: redis.Redis | None = None
_client_url: str | None = None


def api_redis() -> redis.Redis:
    """The shared client for ``settings.REDIS_URL`` (built on first use)."""
    global _client, _client_url
    url = settings.REDIS_URL
    client = _client
    if client is not None and _client_url == url:
        return client
    with _lock:
        if _client is None or _client_url != url:
            timeout = integrations_settings.LIMITER_TIMEOUT_SECONDS
            if _client is not None:
                _client.close()
            _client = redis.Redis.from_url(
                # No retries: a second attempt would only double the wait of a request.
                url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
                health_check_interval=30,
            )
            _client_url = url
        return _client


def worker_redis() -> redis.Redis:
    """The client for Celery work (usage rollup, the sync engine's pacer and locks): patient timeouts,
    since a worker may wait for Redis where an API request may not."""
    return _patient_client(settings.REDIS_URL)


@lru_cache(maxsize=4)
def _patient_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30)
