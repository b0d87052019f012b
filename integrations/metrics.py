"""In-process metrics of the API gateway's hot path, where counting in Redis is impossible (the limiter's
own failures) or would cost a round trip per call.

They are prometheus-client objects in the process's default registry: cheap (a lock and an add), exposed by
``/metrics`` (config/metrics.py). Under gunicorn or Celery with several processes, set
``PROMETHEUS_MULTIPROC_DIR`` to a directory shared by the processes of one host (emptied at start) so that
a scrape sums them all; without it each process counts alone, which is right for ``make run``.
"""

from prometheus_client import Counter

LIMITER_ERRORS = Counter(
    "portal_api_limiter_errors",
    "API requests whose rate limiter could not be reached (Redis down or slow), by what the gateway did: "
    "fail_open admitted the request without a limit, fail_closed refused it with 503.",
    ["decision"],
)

TOKEN_LOOKUPS = Counter(
    "portal_api_token_lookups",
    "Access-token lookups of API calls by where the answer came from: copy (the process's copy of the lookup, no "
    "database query), database, or stale (a copy whose stamp had moved: read again from the database).",
    ["source"],
)
_TOKEN_SOURCES = {source: TOKEN_LOOKUPS.labels(source=source) for source in ("copy", "database", "stale")}


def token_lookup(source: str) -> None:
    """Count one access-token lookup of an API call by its source: ``copy``, ``database`` or ``stale``."""
    _TOKEN_SOURCES[source].inc()


def limiter_error(*, fail_open: bool) -> None:
    """Count one API request that met a limiter error."""
    LIMITER_ERRORS.labels(decision="fail_open" if fail_open else "fail_closed").inc()
