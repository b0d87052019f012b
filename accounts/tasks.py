import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

from accounts.models import Notification

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=5, default_retry_delay=30)
def send_notification_email(self, notification_id: int) -> None:
    notification = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if notification is None:
        logger.info("notification %s is gone; nothing to send", notification_id)
        return
    body = notification.body
    if notification.link:
        body = f"{body}\n\n{settings.SITE_URL}{notification.link}"
    try:
        send_mail(
            subject=f"[Partner Portal] {notification.subject}",
            message=body,
            from_email=None,
            recipient_list=[notification.user.email],
        )
    except OSError as exc:
        raise self.retry(exc=exc) from exc
