"""Turning apps on and off in an account (installations)."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Account
from accounts.roles import is_account_manager, require_account_manager
from portal import hooks
from portal.models import App, Installation
from portal.selectors import app_visible_to_account


@dataclass(frozen=True)
class ConsentRefusal:
    """Why an app may not be turned on: a title and a message for the person, and the error a service raises."""

    title: str
    message: str
    error: type[Exception]

    def raise_error(self):
        raise self.error(self.message)


def consent_refusal(*, app: App, account: Account, actor) -> ConsentRefusal | None:
    """The checks before ``actor`` may turn ``app`` on in ``account``, shared by the consent page and
    :func:`installation_turn_on`: an owner or admin of the account, an app that is not suspended and is
    visible to the account. None when they all pass."""
    if not is_account_manager(actor, account=account):
        return ConsentRefusal("You cannot approve apps for this account",
                              f"Only owners and admins of {account.code} can turn apps on.", PermissionDenied)
    if app.is_suspended:
        return ConsentRefusal("App suspended", f"{app.name} is suspended and cannot be turned on.", ValidationError)
    if not app_visible_to_account(app=app, account=account):
        return ConsentRefusal("App not available", f"{app.name} is not available to {account.code}.",
                              ValidationError)
    return None


def _require_manager(account: Account, actor) -> None:
    require_account_manager(actor, account=account,
                            message="Only owners and admins of this account can turn apps on or off.")


@transaction.atomic
def installation_turn_on(*, app: App, account: Account, actor) -> Installation:
    """Create or re-enable the app's installation in the account (after the user consented).

    Requires the actor to be an owner or admin of the account and the app to be visible to it
    (which also excludes suspended apps). When the app goes from off to on, its install callback is
    called after commit."""
    app = App.objects.select_for_update().get(pk=app.pk)
    refusal = consent_refusal(app=app, account=account, actor=actor)
    if refusal is not None:
        refusal.raise_error()
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
