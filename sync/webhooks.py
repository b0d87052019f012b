"""Change events to the app's webhook: batched, signed, retried, paused after repeated failures.

Beat runs :func:`deliver_due` every two seconds. A pass
1. gathers each connection's undelivered change events into deliveries of at most ``WEBHOOK_BATCH``
   events (the request body is fixed when the delivery is made, so a redelivery sends the same body);
2. POSTs every due delivery of apps whose webhooks are not paused, oldest first, one at a time per
   connection so that a connection's changes arrive in order.

A request is signed like the install callbacks (PROTOCOL.md): the app's callback signing key (hex
SHA-256 of ``"callback-signing:" + client secret``) keys an HMAC-SHA256 of ``<timestamp>.<body>``, sent as
``X-Portal-Signature: t=<timestamp>,v1=<hex>``. A 2xx answer delivers; anything else is retried after
``min(cap, 30 s · 2^attempt)`` with full jitter. After ``WEBHOOK_PAUSE_AFTER_FAILURES`` failed attempts in a
row the app's webhooks pause (the developer is told and can resume); events keep accumulating meanwhile.
Every attempt is logged with the request and response bodies.
"""

import hashlib
import hmac
import json
import logging
import random
import time
from collections import defaultdict
from datetime import timedelta

import requests
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.notifications import notify
from integrations import egress
from sync.conf import sync_settings
from sync.models import ChangeEvent, Connection, SyncSpec, WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Portal-Signature"
USER_AGENT = "PartnerPortal-Webhooks/1.0"
FIRST_RETRY_S = 30
RESPONSE_KEEP_CHARS = 4000
MAX_RESPONSE_BYTES = 64 * 1024
MAX_DELIVERIES_PER_PASS = 200


def webhook_signature(*, key: str, timestamp: int, body: str) -> str:
    """Hex HMAC-SHA256 of ``<timestamp>.<body>`` keyed with the app's callback signing key."""
    return hmac.new(key.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def retry_delay(attempts: int) -> float:
    cap = sync_settings.BACKOFF_CAP_SECONDS
    return random.uniform(0, min(cap, FIRST_RETRY_S * 2 ** max(0, attempts - 1)))


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


# --- Sending -----------------------------------------------------------------------------------------------

def _post(delivery: WebhookDelivery, key: str) -> WebhookAttempt:
    """One POST of the delivery; returns the logged attempt (not yet saved)."""
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Portal-Delivery": str(delivery.pk), "X-Portal-Event-Count": str(delivery.event_count)}
    if key:
        signature = webhook_signature(key=key, timestamp=timestamp, body=delivery.request_body)
        headers[SIGNATURE_HEADER] = f"t={timestamp},v1={signature}"
    attempt = WebhookAttempt(delivery=delivery, number=delivery.attempts + 1)
    started = time.monotonic()
    try:
        response = egress.send("POST", delivery.url, purpose="webhook", data=delivery.request_body.encode(),
                               headers=headers, timeout=sync_settings.WEBHOOK_TIMEOUT_SECONDS,
                               max_bytes=MAX_RESPONSE_BYTES)
        attempt.status_code = response.status_code
        attempt.response_body = response.text[:RESPONSE_KEEP_CHARS]
    except egress.Refused as error:
        attempt.error = f"Not sent: {error}"[:300]
    except requests.RequestException as error:
        attempt.error = f"{type(error).__name__}: {error}"[:300]
    attempt.duration_ms = int((time.monotonic() - started) * 1000)
    return attempt


def send_delivery(*, delivery: WebhookDelivery) -> bool:
    """Send one delivery now and record the outcome; True if the app accepted it (2xx)."""
    spec = SyncSpec.objects.select_related("app").get(app_id=delivery.connection.app_id)
    delivery.url = spec.webhook_url or delivery.url  # the app's current URL, if it changed since
    attempt = _post(delivery, spec.app.callback_signing_key)
    ok = attempt.status_code is not None and 200 <= attempt.status_code < 300
    now = timezone.now()
    with transaction.atomic():
        attempt.save()
        delivery.attempts += 1
        delivery.last_status_code = attempt.status_code
        if ok:
            delivery.status, delivery.delivered_at = WebhookDelivery.Status.DELIVERED, now
        else:
            delivery.next_attempt_at = now + timedelta(seconds=retry_delay(delivery.attempts))
        delivery.save(update_fields=["url", "attempts", "last_status_code", "status", "delivered_at",
                                     "next_attempt_at"])
        spec = SyncSpec.objects.select_for_update().get(pk=spec.pk)
        spec.webhook_failures = 0 if ok else spec.webhook_failures + 1
        spec.save(update_fields=["webhook_failures"])
        if not ok and spec.webhook_paused_at is None and \
                spec.webhook_failures >= sync_settings.WEBHOOK_PAUSE_AFTER_FAILURES:
            _pause(spec, attempt)
    return ok


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
    """One pass: batch new events, then send due deliveries (see the module docstring)."""
    made = sent = failed = 0
    specs = SyncSpec.objects.exclude(webhook_url="").filter(webhook_paused_at__isnull=True)
    for spec in specs:
        made += batch_events(spec=spec)
    due = {delivery.pk: delivery for delivery in (
        WebhookDelivery.objects.select_related("connection__app")
        .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now(),
                connection__app__sync_spec__webhook_paused_at__isnull=True)
        .exclude(connection__app__sync_spec__webhook_url="")
        .order_by("connection_id", "id")[:MAX_DELIVERIES_PER_PASS])}
    # In order per connection: walk each connection's pending deliveries oldest first and stop at the first
    # one that is not due yet or fails, so that a newer delivery never overtakes an older one.
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
            if send_delivery(delivery=delivery):
                sent += 1
                continue
            failed += 1
            if SyncSpec.objects.filter(app_id=delivery.connection.app_id, webhook_paused_at__isnull=False).exists():
                paused_apps.add(delivery.connection.app_id)
            break
    return {"batched": made, "sent": sent, "failed": failed}
