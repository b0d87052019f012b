"""The audit log: every state change writes one event, inside the transaction that makes the change."""

from django.db import models, transaction

from accounts.models import AuditEvent


def audit_record(*, actor, verb: str, target: models.Model, data: dict | None = None, app_ref: str = "") -> AuditEvent:
    """Write one audit event. Must run inside the caller's transaction (it refuses otherwise, so a
    change can never be committed without its event)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must be called inside transaction.atomic()")
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:200],
        app_ref=app_ref,
        data=data or {},
    )
