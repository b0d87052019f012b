"""``/metrics`` in the Prometheus text format (docs/operations-monitoring.md lists every metric).

Most figures are computed at scrape time from what every process already shares, so they are right however
many gunicorn and Celery processes run, on however many machines:

- Redis: the gateway's running usage totals (``integrations.usage.read_totals``, summed by app), the sync
  slices' outcomes (``sync.metrics``) and the Celery queues' lengths (``LLEN`` on the broker);
- the database: sync streams due and leased and the oldest due stream's lag, runs by status, mirrored
  records, webhook deliveries and attempts, install/uninstall callback attempts. These queries are cached
  for ``METRICS_DB_CACHE_SECONDS`` in the shared cache, so scrapes from several Prometheus servers or of
  several web processes cost one set of queries.

What can only be seen in the request path is counted in the process (prometheus-client objects): the API
latency histogram and the token endpoint's outcomes (config.middleware), the limiter's errors
(integrations.metrics). With ``PROMETHEUS_MULTIPROC_DIR`` set, every process of the host writes them to that
directory and a scrape sums them (multiprocess mode); otherwise a scrape shows the answering process's.

Access: with ``METRICS_TOKEN`` set, ``Authorization: Bearer <METRICS_TOKEN>`` is required. Without it the
endpoint answers only loopback clients in demo mode, and refuses everyone in production.
"""

import hmac
import ipaddress
import json
import logging
import os
import time
from functools import lru_cache

import redis
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Min, Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from integrations import usage
from integrations.models import CallbackAttempt, CallbackDelivery
from integrations.redis_client import worker_redis
from portal.models import Installation
from sync import dispatcher, metrics as sync_metrics
from sync.models import SyncRecord, SyncResource, SyncRun, SyncSpec, SyncStream, WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)

DB_CACHE_KEY = "metrics:database"
# Celery's Redis transport keeps messages with a priority in extra lists named <queue>\x06\x16<step>.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")

# --- Counted in the request path (config.middleware) ------------------------------------------------------

API_LATENCY = Histogram(
    "portal_api_request_duration_seconds",
    "Time to answer a platform API request (/public-api/), from the first middleware to the response, by "
    "outcome: ok (below 400), throttled (over the pool's limit), refused (401/403: credentials, account), "
    "client_error (other 4xx), server_error (5xx).",
    ["outcome"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TOKEN_REQUESTS = Counter(
    "portal_oauth_token_requests",
    "Requests to the OAuth token endpoint by grant type and outcome: issued, or the OAuth error code "
    "(invalid_grant, invalid_client, slow_down when rate-limited, ...).",
    ["grant_type", "outcome"],
)
API_OUTCOMES = ("ok", "throttled", "refused", "client_error", "server_error")
GRANT_TYPES = {"authorization_code", "refresh_token", "client_credentials", "password"}
TOKEN_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                "unsupported_grant_type", "invalid_scope", "slow_down", "access_denied", "server_error"}


def api_outcome(response: HttpResponse) -> str:
    status = response.status_code
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "refused"
    if (
        status in (429, 503)
        and not getattr(response, "streaming", False)
        and b'"TOO_MANY_REQUESTS"' in response.content
    ):
        return "throttled"
    return "client_error" if status < 500 else "server_error"


def observe_api(response: HttpResponse, seconds: float) -> None:
    API_LATENCY.labels(outcome=api_outcome(response)).observe(seconds)


def observe_token_request(request: HttpRequest, response: HttpResponse) -> None:
    form = request.__dict__.get("_post")  # parsed by the view; never parse a body here
    grant_type = form.get("grant_type", "") if form is not None else ""
    grant_type = grant_type if grant_type in GRANT_TYPES else "other"
    if response.status_code == 200:
        outcome = "issued"
    else:
        outcome = "other"
        if not getattr(response, "streaming", False) and response.get("Content-Type", "").startswith(
            "application/json"
        ):
            try:
                error = json.loads(response.content).get("error")
            except (ValueError, AttributeError):
                error = None
            outcome = error if error in TOKEN_ERRORS else "other"
    TOKEN_REQUESTS.labels(grant_type=grant_type, outcome=outcome).inc()


# --- Computed at scrape time ------------------------------------------------------------------------------


def database_figures() -> dict:
    """Everything /metrics reads from the database, as plain data (cached between scrapes)."""
    now = timezone.now()
    due = dispatcher.runnable_streams(now).order_by().aggregate(count=Count("id"), oldest=Min("next_run_at"))
    run_rows = SyncRun.objects.order_by().values("status").annotate(n=Count("id"))
    record_rows = SyncRecord.objects.order_by().values("resource").annotate(n=Count("id"))
    delivery_rows = WebhookDelivery.objects.order_by().values("status").annotate(n=Count("id"))
    ok = Q(status_code__gte=200, status_code__lt=300)
    webhook_attempts = WebhookAttempt.objects.aggregate(
        delivered=Count("id", filter=ok), failed=Count("id", filter=~ok | Q(status_code__isnull=True))
    )
    callback_rows = (
        CallbackAttempt.objects.order_by()
        .values(kind=F("delivery__kind"))
        .annotate(
            delivered=Count("id", filter=ok),
            refused=Count("id", filter=Q(status_code__isnull=True, error__startswith="Not sent")),
            total=Count("id"),
        )
    )
    return {
        "streams_due": due["count"],
        "oldest_due_lag": max(0.0, (now - due["oldest"]).total_seconds()) if due["oldest"] else 0.0,
        "streams_leased": SyncStream.objects.filter(lease_expires_at__gt=now).count(),
        "runs": {row["status"]: row["n"] for row in run_rows},
        "records": {row["resource"]: row["n"] for row in record_rows},
        "deliveries": {row["status"]: row["n"] for row in delivery_rows},
        "webhook_attempts": webhook_attempts,
        "webhooks_paused": SyncSpec.objects.filter(webhook_paused_at__isnull=False).count(),
        "callbacks": {
            row["kind"]: {
                "delivered": row["delivered"],
                "refused": row["refused"],
                "failed": row["total"] - row["delivered"] - row["refused"],
            }
            for row in callback_rows
        },
        "installation_apps": dict(Installation.objects.values_list("id", "app__client_id")),
    }


def cached_database_figures() -> dict:
    seconds = int(getattr(settings, "METRICS_DB_CACHE_SECONDS", 10))
    if seconds <= 0:
        return database_figures()
    try:
        figures = cache.get(DB_CACHE_KEY)
    except Exception:  # noqa: BLE001 - a cache outage must not hide the database figures
        figures = None
    if figures is None:
        figures = database_figures()
        try:
            cache.set(DB_CACHE_KEY, figures, seconds)
        except Exception:  # noqa: BLE001
            pass
    return figures


@lru_cache(maxsize=4)
def _broker_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def queue_lengths() -> dict[str, int]:
    """Messages waiting in each Celery queue (the broker's lists; reserved and running tasks are not in them)."""
    url = settings.CELERY_BROKER_URL
    if not str(url).startswith(("redis://", "rediss://", "unix://")):
        return {}
    queues = ["celery", settings.SYNC_ENGINE["QUEUE"]]
    pipe = _broker_client(url).pipeline(transaction=False)
    for queue in queues:
        for suffix in PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
    lengths = pipe.execute()
    step = len(PRIORITY_SUFFIXES)
    return {queue: sum(lengths[i * step : (i + 1) * step]) for i, queue in enumerate(queues)}


class PortalCollector:
    """The scrape-time figures. A source that does not answer is reported by portal_metrics_source_up = 0
    and its metrics are left out of that scrape (Prometheus then shows a gap, not a false zero)."""

    def collect(self):
        up = GaugeMetricFamily(
            "portal_metrics_source_up",
            "1 if the source answered during this scrape, 0 if its metrics are missing.",
            labels=["source"],
        )
        started = time.perf_counter()
        figures = None
        try:
            figures = cached_database_figures()
        except Exception as error:  # noqa: BLE001 - one failing source must not fail the scrape
            logger.warning("metrics: database figures unavailable: %s: %s", type(error).__name__, error)
        up.add_metric(["database"], 1 if figures is not None else 0)
        if figures is not None:
            yield from self._database(figures)

        try:
            client = worker_redis()  # patient timeouts: a big hash must not look like an outage
            totals = usage.read_totals(client=client)
            slices = sync_metrics.slice_counts(client=client)
        except (redis.RedisError, OSError) as error:
            logger.warning("metrics: Redis figures unavailable: %s: %s", type(error).__name__, error)
            up.add_metric(["redis"], 0)
        else:
            up.add_metric(["redis"], 1)
            yield self._api_calls(totals, (figures or {}).get("installation_apps", {}))
            outcomes = CounterMetricFamily(
                "portal_sync_slices",
                "Sync slices finished, by outcome (done: the "
                "run ended; more: pages remain; waiting/throttled: handed back to "
                "wait for the pool; retry/failed: API errors; error: the slice raised).",
                labels=["outcome"],
            )
            for outcome in sync_metrics.SLICE_OUTCOMES:
                outcomes.add_metric([outcome], slices.get(outcome, 0))
            yield outcomes

        try:
            lengths = queue_lengths()
        except (redis.RedisError, OSError) as error:
            logger.warning("metrics: broker unavailable: %s: %s", type(error).__name__, error)
            up.add_metric(["broker"], 0)
        else:
            up.add_metric(["broker"], 1)
            depth = GaugeMetricFamily(
                "portal_celery_queue_length",
                "Celery messages waiting in each queue (not yet taken by a worker).",
                labels=["queue"],
            )
            for queue, length in lengths.items():
                depth.add_metric([queue], length)
            yield depth
        yield up
        yield GaugeMetricFamily(
            "portal_metrics_scrape_duration_seconds",
            "Time this scrape spent computing the portal's figures.",
            value=time.perf_counter() - started,
        )

    @staticmethod
    def _api_calls(totals: dict, installation_apps: dict) -> CounterMetricFamily:
        calls = CounterMetricFamily(
            "portal_api_requests",
            "Platform API requests counted against OAuth installations' pools, by app and outcome: admitted "
            "(a slot was used, whatever the answer) or throttled (refused over the limit).",
            labels=["app", "outcome"],
        )
        by_app: dict[str, list[int]] = {}
        for pk, count in totals.items():
            row = by_app.setdefault(installation_apps.get(pk, "(removed)"), [0, 0])
            row[0] += count.calls
            row[1] += count.throttled
        for app, (admitted, throttled) in sorted(by_app.items()):
            calls.add_metric([app, "admitted"], admitted)
            calls.add_metric([app, "throttled"], throttled)
        return calls

    @staticmethod
    def _database(figures: dict):
        yield GaugeMetricFamily(
            "portal_sync_streams_due",
            "Sync streams due to run now and not leased (waiting for a worker place).",
            value=figures["streams_due"],
        )
        yield GaugeMetricFamily(
            "portal_sync_streams_leased",
            "Sync streams leased to a slice (queued or running).",
            value=figures["streams_leased"],
        )
        yield GaugeMetricFamily(
            "portal_sync_oldest_due_lag_seconds",
            "How long the longest-waiting due stream has been due (0 when none is).",
            value=figures["oldest_due_lag"],
        )
        runs = GaugeMetricFamily("portal_sync_runs", "Sync runs kept in the database, by status.", labels=["status"])
        for status in SyncRun.Status.values:
            runs.add_metric([status], figures["runs"].get(status, 0))
        yield runs
        records = GaugeMetricFamily(
            "portal_sync_records", "Records mirrored by the sync engine, by resource.", labels=["resource"]
        )
        for resource in SyncResource.values:
            records.add_metric([resource], figures["records"].get(resource, 0))
        yield records
        deliveries = GaugeMetricFamily(
            "portal_webhook_deliveries",
            "Webhook deliveries (batches of change events) by status: pending ones wait to be sent or retried.",
            labels=["status"],
        )
        for status in WebhookDelivery.Status.values:
            deliveries.add_metric([status], figures["deliveries"].get(status, 0))
        yield deliveries
        attempts = CounterMetricFamily(
            "portal_webhook_attempts",
            "Webhook POSTs by outcome: delivered (2xx) or "
            "failed (any other answer, no answer, or refused by the egress guard).",
            labels=["outcome"],
        )
        for outcome in ("delivered", "failed"):
            attempts.add_metric([outcome], figures["webhook_attempts"][outcome])
        yield attempts
        yield GaugeMetricFamily(
            "portal_webhooks_paused_apps",
            "Apps whose webhooks are paused after failures.",
            value=figures["webhooks_paused"],
        )
        callbacks = CounterMetricFamily(
            "portal_callback_attempts",
            "Install and uninstall callback calls by "
            "outcome: delivered (2xx), failed (other answer or none), refused "
            "(not sent: the URL leads to a non-public address).",
            labels=["kind", "outcome"],
        )
        for kind in CallbackDelivery.Kind.values:
            row = figures["callbacks"].get(kind, {})
            for outcome in ("delivered", "failed", "refused"):
                callbacks.add_metric([kind, outcome], row.get(outcome, 0))
        yield callbacks


_portal_registry = CollectorRegistry(auto_describe=False)
_portal_registry.register(PortalCollector())


def exposition() -> bytes:
    """The whole scrape: the in-process metrics (summed over processes in multiprocess mode), then the
    portal's scrape-time figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    return generate_latest(process_registry) + generate_latest(_portal_registry)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def scrape_refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics; otherwise the response that refuses it."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        response = HttpResponse(
            "Send Authorization: Bearer <METRICS_TOKEN>.\n", status=401, content_type="text/plain; charset=utf-8"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if settings.DEMO_MODE and _is_loopback(request.META.get("REMOTE_ADDR", "")):
        return None
    return HttpResponse(
        "Metrics are off: set METRICS_TOKEN and scrape with Authorization: Bearer <token>.\n",
        status=403,
        content_type="text/plain; charset=utf-8",
    )


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refusal = scrape_refusal(request)
    if refusal is not None:
        return refusal
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
