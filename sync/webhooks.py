"""Change events to the app's webhook: batched, signed, retried, paused after repeated failures.

Webhooks are a kind of delivery (integrations/deliveries.py), registered in ``SyncConfig.ready``: the delivery
dispatcher (beat, every two seconds) makes the attempts, retries failures with backoff and logs every attempt
with the response. What is particular to webhooks is here. A pass
1. gathers each connection's undelivered change events into deliveries of at most ``WEBHOOK_BATCH``
   events (the request body is fixed when the delivery is made, so a redelivery sends the same body);
2. POSTs every due delivery of apps whose webhooks are not paused, oldest first, one at a time per
   connection so that a connection's changes arrive in order.

A request is signed like the install callbacks (PROTOCOL.md): the app's callback signing key (hex
SHA-256 of ``"callback-signing:" + client secret``) keys an HMAC-SHA256 of ``<timestamp>.<body>``, sent as
``X-Portal-Signature: t=<timestamp>,v1=<hex>``. After ``WEBHOOK_PAUSE_AFTER_FAILURES`` failed attempts in a
row the app's webhooks pause (the developer is told and can resume); events keep accumulating meanwhile.
"""

import json
import logging
import time
from collections import defaultdict
from typing import ClassVar

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.notifications import notify
from integrations import deliveries
from sync.conf import sync_settings
from sync.models import ChangeEvent, Connection, SyncSpec, WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Portal-Signature"
USER_AGENT = "PartnerPortal-Webhooks/1.0"


def webhook_signature(*, key: str, timestamp: int, body: str) -> str:
    """Hex HMAC-SHA256 of ``<timestamp>.<body>`` keyed with the app's callback signing key."""
    return deliveries.sign(key=key, message=f"{timestamp}.{body}")


# --- Batching ----------------------------------------------------------------------------------------------

def _body(connection: Connection, events: list[ChangeEvent]) -> str:
    return json.dumps({
        "accountCode": connection.account_code,
        "appRef": connection.app.client_id,
        "connectionId": connection.pk,
        "events": [{"id": e.pk, "resource": e.resource, "remoteId": e.remote_id, "type": e.kind,
                    "occurredAt": e.created_at.isoformat(), "record": e.payload} for e in events],
    }, separators=(",", ":"))


def batch_events(*, spec: SyncSpec) -> int:
    """Turn undelivered events of the app's connections into deliveries; returns how many were made."""
    batch = sync_settings.WEBHOOK_BATCH
    made = 0
    connection_ids = (ChangeEvent.objects.filter(connection__app_id=spec.app_id, delivery__isnull=True)
                      .values_list("connection_id", flat=True).distinct())
    for connection in Connection.objects.select_related("app").filter(pk__in=list(connection_ids)):
        while True:
            with transaction.atomic():
                events = list(ChangeEvent.objects.select_for_update()
                              .filter(connection=connection, delivery__isnull=True).order_by("id")[:batch])
                if not events:
                    break
                delivery = WebhookDelivery.objects.create(connection=connection, url=spec.webhook_url,
                                                          request_body=_body(connection, events),
                                                          event_count=len(events))
                ChangeEvent.objects.filter(pk__in=[e.pk for e in events]).update(delivery=delivery)
                made += 1
            if len(events) < batch:
                break
    return made


# --- Sending (a kind of delivery: integrations/deliveries.py makes the attempts) ---------------------------

class Webhooks(deliveries.Kind):
    name = "webhook"
    model = WebhookDelivery
    user_agent = USER_AGENT
    # A failing delivery keeps its place (a connection's changes arrive in order) and is retried until the app's
    # webhooks pause (WEBHOOK_PAUSE_AFTER_FAILURES in a row); it fails only after many more attempts than that.
    defaults: ClassVar[dict] = {"MAX_ATTEMPTS": 25}

    def prepare(self) -> dict:
        specs = SyncSpec.objects.exclude(webhook_url="").filter(webhook_paused_at__isnull=True)
        return {"batched": sum(batch_events(spec=spec) for spec in specs)}

    def due(self, *, now, limit: int):
        """Due deliveries of apps whose webhooks are not paused, in order per connection: each connection's
        pending deliveries oldest first, up to the first that is not due yet or does not go through, so that
        a newer delivery never overtakes an older one."""
        due = {delivery.pk: delivery for delivery in (
            WebhookDelivery.objects.select_related("connection__app")
            .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now,
                    connection__app__sync_spec__webhook_paused_at__isnull=True)
            .exclude(connection__app__sync_spec__webhook_url="")
            .order_by("connection_id", "id")[:limit])}
        pending = defaultdict(list)
        for connection_id, pk in (WebhookDelivery.objects
                                  .filter(status=WebhookDelivery.Status.PENDING,
                                          connection_id__in={d.connection_id for d in due.values()})
                                  .order_by("connection_id", "id").values_list("connection_id", "id")):
            pending[connection_id].append(pk)
        paused_apps = set()
        for ids in pending.values():
            for pk in ids:
                delivery = due.get(pk)
                if delivery is None or delivery.connection.app_id in paused_apps:
                    break
                yield delivery
                if delivery.status == WebhookDelivery.Status.DELIVERED:
                    continue
                if SyncSpec.objects.filter(app_id=delivery.connection.app_id, webhook_paused_at__isnull=False).exists():
                    paused_apps.add(delivery.connection.app_id)
                if delivery.status == WebhookDelivery.Status.PENDING:
                    break  # retried later (or taken by another worker): the connection's newer ones wait

    def request(self, delivery: WebhookDelivery):
        spec = SyncSpec.objects.select_related("app").get(app_id=delivery.connection.app_id)
        delivery.url = spec.webhook_url or delivery.url  # the app's current URL, if it changed since
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json", "X-Portal-Delivery": str(delivery.pk),
                   "X-Portal-Event-Count": str(delivery.event_count)}
        key = spec.app.callback_signing_key
        if key:
            signature = webhook_signature(key=key, timestamp=timestamp, body=delivery.request_body)
            headers[SIGNATURE_HEADER] = f"t={timestamp},v1={signature}"
        return deliveries.Request("POST", delivery.url, headers=headers, body=delivery.request_body.encode())

    def attempted(self, delivery: WebhookDelivery, attempt: WebhookAttempt) -> None:
        """Count failures in a row per app; pause the app's webhooks after too many."""
        spec = SyncSpec.objects.select_for_update().select_related("app").get(app_id=delivery.connection.app_id)
        spec.webhook_failures = 0 if attempt.delivered else spec.webhook_failures + 1
        spec.save(update_fields=["webhook_failures"])
        if not attempt.delivered and spec.webhook_paused_at is None and \
                spec.webhook_failures >= sync_settings.WEBHOOK_PAUSE_AFTER_FAILURES:
            _pause(spec, attempt)


WEBHOOKS = Webhooks()


def _pause(spec: SyncSpec, attempt: WebhookAttempt) -> None:
    outcome = f"HTTP {attempt.status_code}" if attempt.status_code else attempt.error or "no answer"
    spec.webhook_paused_at = timezone.now()
    spec.webhook_pause_reason = f"{spec.webhook_failures} failed attempts in a row (last: {outcome})"[:300]
    spec.save(update_fields=["webhook_paused_at", "webhook_pause_reason"])
    audit_record(actor=None, verb="sync.webhooks_paused", target=spec.app, app_ref=spec.app.client_id,
                 data={"reason": spec.webhook_pause_reason})
    notify(user=spec.app.user, subject=f"{spec.app.name}: webhooks paused",
           body=f"{spec.webhook_pause_reason}. Changes are kept; resume webhooks when your endpoint is back.",
           link=reverse("sync:webhooks", args=[spec.app_id]))


def deliver_due() -> dict:
    """One pass of the delivery dispatcher over webhooks only: batch new events, send due deliveries."""
    return deliveries.deliver_kind(WEBHOOKS)
