"""Change events to the app's webhook, against a real HTTP server on 127.0.0.1: batches, the signature,
retries with backoff, the pause after repeated failures, resuming and redelivery."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Notification
from portal.credentials import callback_signing_key
from sync import services as sync_services, webhooks
from sync.models import ChangeEvent, Connection, SyncSpec, WebhookDelivery
from tests.factories import AppFactory, DeveloperFactory

pytestmark = pytest.mark.django_db
SECRET = "the-client-secret-the-developer-was-shown"


class HookServer:
    """Records each POST and answers with the next planned status (200 when none is planned)."""

    def __init__(self):
        self.received, self.statuses = [], []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.received.append({"headers": dict(self.headers), "body": body.decode()})
                status = server.statuses.pop(0) if server.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"thanks": true}' if status < 300 else b"upstream is down")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hooks(settings):
    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": True}
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "WEBHOOK_BATCH": 3, "WEBHOOK_PAUSE_AFTER_FAILURES": 3}
    server = HookServer()
    yield server
    server.close()


@pytest.fixture
def connection(hooks):
    developer = DeveloperFactory().user
    app = AppFactory(user=developer, client_id="hooked-app", callback_signing_key=callback_signing_key(SECRET))
    SyncSpec.objects.create(app=app, is_enabled=True, resources=["product"], webhook_url=hooks.url)
    return Connection.objects.create(app=app, kind="external", account_code="outerheaven", client_id="hooked-app",
                                     authorize_url="https://x.example/a", token_url="https://x.example/t",
                                     api_base_url="https://x.example/public-api/outerheaven")


def add_events(connection, count: int, *, start: int = 0) -> None:
    ChangeEvent.objects.bulk_create([
        ChangeEvent(connection=connection, resource="product", remote_id=str(1000 + i), kind="created",
                    payload={"productId": 1000 + i, "sku": f"S{i}"}) for i in range(start, start + count)])


def test_events_go_out_in_signed_batches_in_order(connection, hooks):
    # given 7 change events (batches of 3)
    add_events(connection, 7)
    # when the deliverer runs
    outcome = webhooks.deliver_due()
    # then three deliveries went out in order, the last with one event; every event is sent once
    assert outcome == {"batched": 3, "sent": 3, "failed": 0}
    bodies = [json.loads(r["body"]) for r in hooks.received]
    assert [len(b["events"]) for b in bodies] == [3, 3, 1]
    assert [e["remoteId"] for b in bodies for e in b["events"]] == [str(1000 + i) for i in range(7)]
    assert bodies[0]["accountCode"] == "outerheaven" and bodies[0]["appRef"] == "hooked-app"
    # and each is signed with the app's signing key over "<timestamp>.<body>"
    first = hooks.received[0]
    timestamp, signature = (part.split("=", 1)[1] for part in first["headers"]["X-Portal-Signature"].split(","))
    expected = hmac.new(callback_signing_key(SECRET).encode(), f"{timestamp}.{first['body']}".encode(),
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert WebhookDelivery.objects.filter(status="delivered").count() == 3
    assert not ChangeEvent.objects.filter(delivery__isnull=True).exists()


def test_a_failed_delivery_is_retried_later_and_logged(connection, hooks):
    # given an endpoint that fails once
    add_events(connection, 2)
    hooks.statuses = [503]
    # when the deliverer runs
    webhooks.deliver_due()
    # then the delivery waits for a retry with backoff, and the attempt log has the response
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 503)
    assert delivery.next_attempt_at > timezone.now() - timedelta(seconds=1)
    attempt = delivery.attempt_log.get()
    assert attempt.status_code == 503 and attempt.response_body == "upstream is down"
    # when the retry is due
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    webhooks.deliver_due()
    # then it is delivered with the same body
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert hooks.received[0]["body"] == hooks.received[1]["body"]


def test_repeated_failures_pause_webhooks_until_the_developer_resumes(connection, hooks):
    # given an endpoint that keeps failing
    add_events(connection, 2)
    hooks.statuses = [500] * 3
    for _ in range(3):
        WebhookDelivery.objects.update(next_attempt_at=timezone.now())
        webhooks.deliver_due()
    # then after 3 failures in a row the app's webhooks are paused and the developer is told
    spec = SyncSpec.objects.get()
    assert spec.webhook_paused_at is not None and "3 failed attempts" in spec.webhook_pause_reason
    assert Notification.objects.filter(user=connection.app.user, subject__contains="webhooks paused").exists()
    # and nothing is sent while paused, even when due; new events are kept
    add_events(connection, 1, start=10)
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    webhooks.deliver_due()
    assert len(hooks.received) == 3
    # when the developer resumes
    with pytest.raises(PermissionDenied):
        sync_services.webhook_resume(app=connection.app, actor=DeveloperFactory().user)
    sync_services.webhook_resume(app=connection.app, actor=connection.app.user)
    with pytest.raises(ValidationError):
        sync_services.webhook_resume(app=connection.app, actor=connection.app.user)
    webhooks.deliver_due()
    webhooks.deliver_due()
    # then the waiting delivery and the new event go out
    assert WebhookDelivery.objects.filter(status="delivered").count() == 2
    assert SyncSpec.objects.get().webhook_failures == 0


def test_redelivery_sends_the_same_body_again(connection, hooks):
    # given a delivered batch
    add_events(connection, 2)
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()
    # when the developer redelivers it (someone else may not)
    with pytest.raises(PermissionDenied):
        sync_services.webhook_redeliver(delivery=delivery, actor=DeveloperFactory().user)
    sync_services.webhook_redeliver(delivery=delivery, actor=connection.app.user)
    webhooks.deliver_due()
    # then the same body went out a second time and both attempts are in the log
    assert len(hooks.received) == 2 and hooks.received[0]["body"] == hooks.received[1]["body"]
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempt_log.count() == 2


def test_the_demo_receiver_checks_signatures_like_an_app_should(connection, hooks, settings, live_server):
    # given the demo receiver as the app's webhook URL (demo mode)
    settings.DEMO_MODE = True
    SyncSpec.objects.update(webhook_url=f"{live_server.url}/demo/webhook-receiver/")
    add_events(connection, 2)
    # when a delivery goes out
    webhooks.deliver_due()
    # then the receiver accepted its signature
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.attempt_log.get().response_body == '{"received": 2}'
    # and refuses a forged one
    import requests

    forged = requests.post(f"{live_server.url}/demo/webhook-receiver/", data=delivery.request_body,
                           headers={"X-Portal-Signature": "t=1,v1=00"})
    assert forged.status_code == 401
