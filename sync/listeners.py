"""What the sync engine does when the portal turns an installation off, suspends an app, or turns on an app whose
managed sync is on, and the conformance evidence it holds (webhooks of managed-sync apps). Registered with
``portal.hooks`` in ``SyncConfig.ready``; each runs in the portal's transaction, so no sync call is sent once the
portal's change commits (the client re-reads the status before every call)."""

from django.db.models import Count, Q

from portal import hooks
from portal.conformance import counted
from portal.models import App, Installation
from sync import services
from sync.models import Connection, SyncSpec, WebhookAttempt, WebhookDelivery


def installation_turned_off(*, installation: Installation, reason: str) -> dict:
    connections = Connection.objects.filter(installation=installation)
    return {"sync_connections_disabled": services.connections_disable(connections=connections, reason=reason)}


def app_suspended(*, app: App, reason: str) -> dict:
    connections = Connection.objects.filter(app=app)
    return {"sync_connections_disabled": services.connections_disable(connections=connections, reason=reason)}


def _batches(n: int) -> str:
    return f"{n:,} webhook {'batch' if n == 1 else 'batches'}"


def conformance_evidence(*, app: App, installations, since, now) -> dict:
    """``webhooks_answered``: the managed sync's webhook batches for the given installations made in
    [since, now). Not applicable (None) to apps without managed sync."""
    spec = SyncSpec.objects.filter(app=app).first()
    if spec is None or not spec.is_enabled:
        return {"webhooks_answered": {"passed": None, "figures": {},
                                      "summary": "Not a managed-sync app, so it receives no sync webhooks."}}
    deliveries = WebhookDelivery.objects.filter(connection__installation__in=installations, created_at__gte=since,
                                                created_at__lt=now)
    Status = WebhookDelivery.Status
    counts = deliveries.aggregate(batches=Count("id"), delivered=Count("id", filter=Q(status=Status.DELIVERED)),
                                  failed=Count("id", filter=Q(status=Status.FAILED)))
    unanswered = (WebhookAttempt.objects.filter(delivery__in=deliveries)
                  .exclude(status_code__gte=200, status_code__lt=300).count())
    figures = {**counts, "attempts_not_2xx": unanswered, "paused": int(spec.webhook_is_paused)}
    if counts["failed"] or spec.webhook_is_paused:
        paused = " The webhook is paused after failing." if spec.webhook_is_paused else ""
        return {"webhooks_answered": {
            "passed": False, "figures": figures,
            "summary": f"{_batches(counts['failed'])} of {counts['batches']:,} never got a 2xx "
                       f"answer ({counted(unanswered, 'attempt')} failed).{paused}"}}
    if counts["delivered"]:
        retried = f"; {counted(unanswered, 'attempt')} had to be retried" if unanswered else ""
        return {"webhooks_answered": {
            "passed": True, "figures": figures,
            "summary": f"{_batches(counts['delivered'])} answered 2xx{retried}."}}
    return {"webhooks_answered": {"passed": None, "figures": figures,
                                  "summary": "No webhook batch was sent to the app in this period."}}


def register() -> None:
    hooks.listen(hooks.INSTALLATION_TURNED_OFF, installation_turned_off)
    hooks.listen(hooks.APP_SUSPENDED, app_suspended)
    hooks.listen(hooks.TURN_ON_REDIRECT, services.managed_sync_redirect)
    hooks.listen(hooks.CONFORMANCE_EVIDENCE, conformance_evidence)
