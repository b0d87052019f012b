"""What the sync engine tells the portal's conformance report: whether a managed-sync app answers its webhooks."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal import hooks
from sync import listeners
from sync.models import Connection, SyncSpec, WebhookAttempt, WebhookDelivery
from tests.portal.conformance_support import NOW, world

pytestmark = pytest.mark.django_db

SINCE, AT = NOW - timedelta(days=14), NOW + timedelta(minutes=1)


def evidence(w) -> dict:
    return listeners.conformance_evidence(app=w.app, installations=w.installations, since=SINCE,
                                          now=AT)["webhooks_answered"]


def managed(w) -> Connection:
    SyncSpec.objects.create(app=w.app, is_enabled=True, resources=["product"], webhook_url="https://app.example.com/hook")
    installation = w.installations[0]
    return Connection.objects.create(app=w.app, installation=installation, kind=Connection.Kind.MANAGED,
                                     account_code=installation.account.code, authorize_url="https://p.example/a",
                                     token_url="https://p.example/t", api_base_url="https://p.example/api",
                                     client_id=w.app.client_id)


def batch(connection, *statuses, at=None, status=None) -> WebhookDelivery:
    at = at or NOW - timedelta(hours=5)
    delivered = 200 <= statuses[-1] < 300
    delivery = WebhookDelivery.objects.create(connection=connection, url="https://app.example.com/hook",
                                              request_body="{}", event_count=3, created_at=at,
                                              status=status or ("delivered" if delivered else "failed"))
    for number, code in enumerate(statuses, start=1):
        WebhookAttempt.objects.create(delivery=delivery, number=number, status_code=code, created_at=at)
    return delivery


def test_the_listener_is_registered_for_the_conformance_event():
    assert listeners.conformance_evidence in hooks._listeners[hooks.CONFORMANCE_EVIDENCE]


def test_an_app_without_managed_sync_is_not_applicable():
    w = world(accounts=1)
    result = evidence(w)
    assert (result["passed"], result["summary"]) == (None, "Not a managed-sync app, so it receives no sync webhooks.")
    SyncSpec.objects.create(app=w.app, is_enabled=False)
    assert evidence(w)["passed"] is None


def test_webhook_batches_answered_2xx_pass():
    w = world(accounts=1)
    connection = managed(w)
    batch(connection, 200)
    batch(connection, 500, 204)
    result = evidence(w)
    assert result["passed"] is True
    assert result["figures"] == {"batches": 2, "delivered": 2, "failed": 0, "attempts_not_2xx": 1, "paused": 0}
    assert result["summary"] == "2 webhook batches answered 2xx; 1 attempt had to be retried."


def test_a_batch_that_gave_up_or_a_paused_webhook_fails():
    w = world(accounts=1)
    connection = managed(w)
    batch(connection, 200)
    batch(connection, 500, 500, 500)
    result = evidence(w)
    assert result["passed"] is False
    assert result["summary"] == "1 webhook batch of 2 never got a 2xx answer (3 attempts failed)."
    WebhookDelivery.objects.filter(status="failed").delete()
    SyncSpec.objects.filter(app=w.app).update(webhook_paused_at=timezone.now(), webhook_pause_reason="failing")
    result = evidence(w)
    assert result["passed"] is False and result["figures"]["paused"] == 1
    assert result["summary"].endswith("The webhook is paused after failing.")


def test_a_managed_sync_app_with_no_batches_has_no_verdict():
    w = world(accounts=1)
    connection = managed(w)
    batch(connection, 500, at=NOW - timedelta(days=20))
    result = evidence(w)
    assert (result["passed"], result["summary"]) == (None, "No webhook batch was sent to the app in this period.")
