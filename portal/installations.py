"""Turning apps on and off in an account (installations)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Account, Membership
from portal import hooks
from portal.models import App, Installation
from portal.selectors import app_visible_to_account

MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def _require_manager(account: Account, actor) -> None:
    if not Membership.objects.filter(account=account, user=actor, role__in=MANAGER_ROLES).exists():
        raise PermissionDenied("Only owners and admins of this account can turn apps on or off.")


@transaction.atomic
def installation_turn_on(*, app: App, account: Account, actor) -> Installation:
    """Create or re-enable the app's installation in the account (after the user consented).

    Requires the actor to be an owner or admin of the account and the app to be visible to it
    (which also excludes suspended apps). When the app goes from off to on, its install callback is
    called after commit."""
    _require_manager(account, actor)
    app = App.objects.select_for_update().get(pk=app.pk)
    if not app_visible_to_account(app=app, account=account):
        raise ValidationError("This app is not available to this account.")
    installation, created = Installation.objects.select_for_update().get_or_create(
        app=app, account=account, defaults={"installed_by": actor}
    )
    if not created and installation.is_enabled:
        return installation
    if not created:
        installation.is_enabled, installation.disabled_at = True, None
        installation.installed_by, installation.installed_at = actor, timezone.now()
        installation.save(update_fields=["is_enabled", "disabled_at", "installed_by", "installed_at"])
    hooks.tell(hooks.INSTALLATION_TURNED_ON, installation=installation)
    audit_record(actor=actor, verb="installation.turned_on", target=installation, app_ref=app.client_id,
                 data={"account": account.code, "reenabled": not created})
    return installation


@transaction.atomic
def installation_turn_off(*, installation: Installation, actor) -> Installation:
    """Turn the app off in the account: the installation is disabled and every access and refresh
    token issued for it is revoked at once; the app's uninstall callback is called after commit."""
    installation = Installation.objects.select_for_update().select_related("app", "account").get(pk=installation.pk)
    _require_manager(installation.account, actor)
    if not installation.is_enabled:
        raise ValidationError("This app is already off.")
    installation.is_enabled, installation.disabled_at = False, timezone.now()
    installation.save(update_fields=["is_enabled", "disabled_at"])
    revoked = hooks.tell(hooks.INSTALLATION_TURNED_OFF, installation=installation,
                         reason="The app was turned off in this account.")
    audit_record(actor=actor, verb="installation.turned_off", target=installation,
                 app_ref=installation.app.client_id, data={"account": installation.account.code, **revoked})
    return installation


def turn_on_redirect(*, app: App, account: Account, user) -> tuple[str, str] | None:
    """Where the consent of a turn-on should come back to, when a higher layer takes it over (the sync
    engine does, for apps whose managed sync is on): (redirect URI, state), or None for the app's own."""
    return hooks.ask(hooks.TURN_ON_REDIRECT, app=app, account=account, user=user)
