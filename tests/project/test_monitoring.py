"""/metrics after known traffic, who may scrape it, and the health endpoints /healthz and /readyz."""

import socket
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from config import health
from integrations.models import CallbackAttempt, CallbackDelivery
from portal.models import Installation
from sync import metrics as sync_metrics
from sync.models import Connection, SyncRecord, SyncRun, SyncStream, WebhookAttempt, WebhookDelivery
from tests.factories import AccountFactory, AppFactory
from tests.integrations.api_support import api_url, fresh_pools, set_default_limit, world  # noqa: F401

SEARCH = "product-service/product-search"


@pytest.fixture(autouse=True)
def _fresh_figures(settings):
    settings.METRICS_DB_CACHE_SECONDS = 0
    settings.METRICS_TOKEN = ""
    settings.DEMO_MODE = True


def scrape(client, **kwargs) -> dict:
    """The samples of one scrape: {(name, ((label, value), ...)): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Metrics after known traffic --------------------------------------------------------------------------

def test_a_scrape_counts_api_calls_and_throttles_by_app_without_installation_labels(client, world):
    # given: a limit of 3 calls, then 5 calls
    set_default_limit(3)
    before = scrape(client)

    # when
    statuses = [client.get(api_url("acme", SEARCH), **world.issued.headers()).status_code for _ in range(5)]
    after = scrape(client)

    # then
    assert statuses == [200, 200, 200, 503, 503]
    assert value(after, "portal_api_requests_total", app="acme-sync", outcome="admitted") == 3
    assert value(after, "portal_api_requests_total", app="acme-sync", outcome="throttled") == 2
    assert not any("installation" in dict(labels) for _, labels in after)
    latency = "portal_api_request_duration_seconds_count"
    assert value(after, latency, outcome="ok") - value(before, latency, outcome="ok") == 3
    assert value(after, latency, outcome="throttled") - value(before, latency, outcome="throttled") == 2


def test_refused_credentials_are_timed_as_refused(client, world):
    # given
    before = scrape(client)

    # when
    response = client.get(api_url("acme", SEARCH), headers={"Authorization": "Bearer nope"})

    # then
    after = scrape(client)
    assert response.status_code == 401
    name = "portal_api_request_duration_seconds_count"
    assert value(after, name, outcome="refused") - value(before, name, outcome="refused") == 1


def test_limiter_errors_are_counted_with_the_decision_taken(client, world, settings):
    # given: the gateway's Redis is a closed port, and the limiter fails open
    before = scrape(client)
    redis_url = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    # when
    response = client.get(api_url("acme", SEARCH), **world.issued.headers())
    settings.REDIS_URL = redis_url
    after = scrape(client)

    # then
    assert response.status_code == 200
    name = "portal_api_limiter_errors_total"
    assert value(after, name, decision="fail_open") - value(before, name, decision="fail_open") == 1
    assert value(after, name, decision="fail_closed") == value(before, name, decision="fail_closed")


def test_token_endpoint_outcomes_are_counted_by_grant_type(client, world):
    # given
    before = scrape(client)

    # when
    bad_code = client.post("/oauth/token/acme", {"grant_type": "authorization_code", "code": "nope",
                                                 "client_id": "acme-sync", "redirect_uri": "https://x.test/cb"})
    bad_refresh = client.post("/oauth/token/acme", {"grant_type": "refresh_token", "refresh_token": "nope",
                                                    "client_id": "acme-sync"})

    # then
    after = scrape(client)
    assert bad_code.status_code in (400, 401) and bad_refresh.status_code in (400, 401)
    name = "portal_oauth_token_requests_total"
    code_outcome = bad_code.json()["error"]
    refresh_outcome = bad_refresh.json()["error"]
    assert value(after, name, grant_type="authorization_code", outcome=code_outcome) - \
        value(before, name, grant_type="authorization_code", outcome=code_outcome) == 1
    assert value(after, name, grant_type="refresh_token", outcome=refresh_outcome) - \
        value(before, name, grant_type="refresh_token", outcome=refresh_outcome) == 1


def _connection(app, **fields) -> Connection:
    return Connection.objects.create(app=app, kind=Connection.Kind.EXTERNAL, account_code="acme",
                                     authorize_url="https://x.test/a", token_url="https://x.test/t",
                                     api_base_url="https://x.test/public-api/acme", client_id="c", **fields)


@pytest.mark.django_db
def test_a_scrape_shows_the_sync_engine_webhooks_and_callbacks(client, settings):
    # given: two streams due (the oldest for 90 s), one leased, one not yet due
    now = timezone.now()
    app = AppFactory(client_id="mirror-app")
    connection = _connection(app)
    SyncStream.objects.create(connection=connection, resource="product", next_run_at=now - timedelta(seconds=90))
    SyncStream.objects.create(connection=connection, resource="order", next_run_at=now - timedelta(seconds=5))
    leased = SyncStream.objects.create(connection=connection, resource="contact", next_run_at=now,
                                       lease_expires_at=now + timedelta(seconds=60))
    SyncStream.objects.create(connection=_connection(app), resource="product", next_run_at=now + timedelta(hours=1))
    # and: runs, mirrored records, webhook deliveries and attempts, callback attempts
    SyncRun.objects.create(stream=leased, connection=connection, resource="contact", kind="full",
                           status=SyncRun.Status.SUCCEEDED)
    SyncRun.objects.create(stream=leased, connection=connection, resource="contact", kind="full")
    SyncRecord.objects.bulk_create([SyncRecord(connection=connection, resource="product", remote_id=str(n),
                                               payload={}, payload_hash="x") for n in range(7)])
    delivery = WebhookDelivery.objects.create(connection=connection, url="https://x.test/hook", request_body="{}")
    WebhookDelivery.objects.create(connection=connection, url="https://x.test/hook", request_body="{}",
                                   status=WebhookDelivery.Status.DELIVERED)
    for number, status_code in enumerate([500, None, 204], start=1):
        WebhookAttempt.objects.create(delivery=delivery, number=number, status_code=status_code)
    installation = Installation.objects.create(app=app, account=AccountFactory(code="cbacct"))
    for status_code, error in [(200, ""), (500, "HTTP 500"), (None, "Not sent: private address")]:
        owed = CallbackDelivery.objects.create(installation=installation, kind="install", url="https://x.test/i")
        CallbackAttempt.objects.create(delivery=owed, number=1, status_code=status_code, error=error)
    # and: slice outcomes counted by workers
    client_redis = redis.Redis.from_url(settings.REDIS_URL)
    client_redis.delete(sync_metrics.SLICE_OUTCOMES_KEY)
    for outcome in ("done", "more", "more", "exploded"):
        sync_metrics.slice_count(outcome, client=client_redis)

    # when
    samples = scrape(client)

    # then
    assert value(samples, "portal_sync_streams_due") == 2
    assert value(samples, "portal_sync_streams_leased") == 1
    assert 89 <= value(samples, "portal_sync_oldest_due_lag_seconds") < 120
    assert value(samples, "portal_sync_runs", status="succeeded") == 1
    assert value(samples, "portal_sync_runs", status="running") == 1
    assert value(samples, "portal_sync_records", resource="product") == 7
    assert value(samples, "portal_webhook_deliveries", status="pending") == 1
    assert value(samples, "portal_webhook_deliveries", status="delivered") == 1
    assert value(samples, "portal_webhook_attempts_total", outcome="delivered") == 1
    assert value(samples, "portal_webhook_attempts_total", outcome="failed") == 2
    assert value(samples, "portal_callback_attempts_total", kind="install", outcome="delivered") == 1
    assert value(samples, "portal_callback_attempts_total", kind="install", outcome="failed") == 1
    assert value(samples, "portal_callback_attempts_total", kind="install", outcome="refused") == 1
    assert value(samples, "portal_sync_slices_total", outcome="done") == 1
    assert value(samples, "portal_sync_slices_total", outcome="more") == 2
    assert ("portal_sync_slices_total", (("outcome", "exploded"),)) not in samples
    assert value(samples, "portal_metrics_source_up", source="database") == 1
    assert value(samples, "portal_metrics_source_up", source="redis") == 1


@pytest.mark.django_db
def test_a_scrape_shows_the_celery_queue_depths(client, settings):
    # given: three messages waiting in the sync queue (a queue of this test's own)
    queue = f"test-sync-{_closed_port()}"
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "QUEUE": queue}
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.lpush(queue, "a", "b", "c")
    try:
        # when
        samples = scrape(client)
    finally:
        broker.delete(queue)

    # then
    assert value(samples, "portal_celery_queue_length", queue=queue) == 3
    assert ("portal_celery_queue_length", (("queue", "celery"),)) in samples
    assert value(samples, "portal_metrics_source_up", source="broker") == 1


@pytest.mark.django_db
def test_a_scrape_with_redis_down_still_answers_and_says_which_source_is_missing(client, settings):
    # given
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"
    settings.CELERY_BROKER_URL = settings.REDIS_URL

    # when
    samples = scrape(client)

    # then
    assert value(samples, "portal_metrics_source_up", source="redis") == 0
    assert value(samples, "portal_metrics_source_up", source="broker") == 0
    assert value(samples, "portal_metrics_source_up", source="database") == 1
    assert not any(name.startswith("portal_api_requests") for name, _ in samples)


# --- Who may scrape -----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_metrics_are_open_on_loopback_in_demo_mode_only(client, settings):
    # when
    local = client.get("/metrics")
    remote = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    settings.DEMO_MODE = False
    production = client.get("/metrics")

    # then
    assert local.status_code == 200
    assert remote.status_code == 403
    assert production.status_code == 403


@pytest.mark.django_db
def test_metrics_need_the_bearer_token_when_one_is_set(client, settings):
    # given
    settings.DEMO_MODE = False
    settings.METRICS_TOKEN = "scrape-me-0123456789"

    # when
    missing = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    wrong = client.get("/metrics", REMOTE_ADDR="10.1.2.3", headers={"Authorization": "Bearer nope"})
    right = client.get("/metrics", REMOTE_ADDR="10.1.2.3",
                       headers={"Authorization": "Bearer scrape-me-0123456789"})

    # then
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert b"portal_sync_streams_due" in right.content


# --- Health ------------------------------------------------------------------------------------------------

def test_healthz_answers_without_touching_the_database_or_checking_the_host(client):
    # when: no database access is allowed here (no django_db mark), and the host is not an allowed one
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_when_the_database_and_redis_answer(client):
    # when
    response = client.get("/readyz", HTTP_HOST="10.0.0.7:8000")

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_fails_when_redis_is_down(client, settings):
    # given: REDIS_URL points at a closed loopback port
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    # when
    response = client.get("/readyz")

    # then
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable",
                               "checks": {"database": "ok", "redis": "error: ConnectionError"}}
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_readyz_fails_when_the_database_is_down(client, monkeypatch):
    # given
    from django.db import OperationalError

    def database_down():
        raise OperationalError("could not connect to server")

    monkeypatch.setitem(health.CHECKS, "database", database_down)

    # when
    response = client.get("/readyz")

    # then
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "error: OperationalError", "redis": "ok"}


# --- The dashboard ------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_every_metric_the_grafana_dashboard_queries_is_in_a_scrape(client):
    # given
    import json
    import re
    from pathlib import Path

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana" /
                            "partner-portal-dashboard.json").read_text())
    queried = {name for panel in dashboard["panels"] for target in panel.get("targets", [])
               for name in re.findall(r"\bportal_[a-z_]+", target["expr"])}

    # when: the families a scrape declares (a labelled family with no series yet has no samples)
    text = client.get("/metrics").content.decode()
    declared = set(re.findall(r"^# TYPE (portal_[a-z_]+) ", text, re.MULTILINE))
    scraped = {name + suffix for name in declared for suffix in ("", "_total", "_bucket", "_count", "_sum")}

    # then
    assert len(queried) >= 15
    assert not queried - scraped, f"the dashboard queries metrics /metrics does not have: {sorted(queried - scraped)}"
