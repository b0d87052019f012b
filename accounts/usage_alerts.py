"""Whether the owners of an account are told when an app on it nears its API limit (the alerts themselves are
the portal's: ``portal/usage_alerts.py``)."""

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import Account
from accounts.roles import require_account_manager


@transaction.atomic
def account_usage_alerts_mute(*, actor, account: Account, muted: bool) -> Account:
    """Owners and admins of the account turn usage alerts for it off (``muted``) or back on
    (PermissionDenied for anyone else). Writes an audit event when the setting changes; the same value again
    changes nothing."""
    if not isinstance(muted, bool):
        raise ValidationError("Say whether usage alerts are muted (true or false).")
    account = Account.objects.select_for_update().get(pk=account.pk)
    require_account_manager(actor, account=account, message="Only owners and admins can change this.")
    if account.usage_alerts_muted != muted:
        account.usage_alerts_muted = muted
        account.save(update_fields=["usage_alerts_muted"])
        audit_record(actor=actor, verb="account.usage_alerts_changed", target=account, data={"muted": muted})
    return account
