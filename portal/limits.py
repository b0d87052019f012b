"""API rate limits of installations: the default, raised by approved increase requests until their date."""

from django.db.models import Q
from django.utils import timezone

from portal.models import Installation, RateLimitIncreaseRequest
from portal.selectors import platform_settings


def installation_limit(*, installation: Installation, now=None) -> tuple[int, int]:
    """(calls, window seconds) for one installation: the platform default, or the highest approved
    grant that covers it (all installations of the app, or this account) and has not ended."""
    now = now or timezone.now()
    row = platform_settings()
    granted = (
        RateLimitIncreaseRequest.objects.filter(
            app_id=installation.app_id, status=RateLimitIncreaseRequest.Status.APPROVED,
        )
        .filter(Q(account__isnull=True) | Q(account_id=installation.account_id))
        .filter(Q(granted_until__isnull=True) | Q(granted_until__gt=now))
        .order_by("-granted_limit")
        .values_list("granted_limit", flat=True)
        .first()
    )
    return max(row.default_instance_limit, granted or 0), row.limit_period_seconds
