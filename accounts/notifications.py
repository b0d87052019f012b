"""Tell a person something: a row they see in the portal, and an email sent after commit."""

from django.db import transaction

from accounts.models import Notification


def notify(*, user, subject: str, body: str = "", link: str = "") -> Notification:
    notification = Notification.objects.create(user=user, subject=subject[:200], body=body, link=link)

    def send():
        from accounts.tasks import send_notification_email

        send_notification_email.delay(notification.pk)

    transaction.on_commit(send)
    return notification


def notification_mark_read(*, user, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) unread notification of ``user`` as read."""
    from django.utils import timezone

    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())
