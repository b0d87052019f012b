"""Turning apps on and off in an account (installations)."""

from celery import current_app
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Account, Membership
from portal.models import App, Installation
from portal.selectors import app_visible_to_account

MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)
# Defined in integrations (above this layer), so it is named rather than imported.
CALLBACK_TASK = "integrations.tasks.send_callback"
# Signs the OAuth state of a managed-sync turn-on; the portal's own callback (integrations) checks it.
MANAGED_SYNC_STATE_SALT = "managed-sync-turn-on"


def _schedule_callback(installation: Installation, kind: str) -> None:
    """After commit, call the app's install or uninstall callback (when it has that URL)."""
    url = installation.app.install_callback_url if kind == "install" else installation.app.uninstall_callback_url
    if not url:
        return
    pk = installation.pk
    transaction.on_commit(lambda: current_app.signature(CALLBACK_TASK, args=(pk, kind)).delay())


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
    audit_record(actor=actor, verb="installation.turned_on", target=installation, app_ref=app.client_id,
                 data={"account": account.code, "reenabled": not created})
    _schedule_callback(installation, "install")
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
    revoked = installation_revoke_tokens(installation=installation)
    revoked["sync_connections_disabled"] = installation_stop_syncs(installation=installation,
                                                                   reason="The app was turned off in this account.")
    audit_record(actor=actor, verb="installation.turned_off", target=installation,
                 app_ref=installation.app.client_id, data={"account": installation.account.code, **revoked})
    _schedule_callback(installation, "uninstall")
    return installation


def installation_revoke_tokens(*, installation: Installation) -> dict:
    """Revoke every token and pending code of an installation. The token models live in
    integrations; they are reached through their reverse relations so this layer stays below."""
    now = timezone.now()
    refresh = installation.refresh_tokens.filter(revoked__isnull=True).update(revoked=now)
    access = installation.access_tokens.all().delete()[0]
    grants = installation.grants.all().delete()[0]
    return {"access_tokens_revoked": access, "refresh_tokens_revoked": refresh, "codes_revoked": grants}


def installation_stop_syncs(*, installation: Installation, reason: str) -> int:
    """Disable the sync connections of an installation in the caller's transaction: no sync call is sent
    once it commits. The connections (integrations) are reached through their reverse relation."""
    return (installation.sync_connections.exclude(status="disabled")
            .update(status="disabled", status_reason=reason, status_changed_at=timezone.now()))


def managed_sync_redirect(*, app: App, account: Account, user) -> tuple[str, str] | None:
    """(redirect URI, state) for turning on an app whose managed sync is on: the portal's own callback
    receives the code and connects the account. None for other apps."""
    spec = getattr(app, "sync_spec", None)
    if spec is None or not spec.is_enabled:
        return None
    state = signing.dumps({"app": app.pk, "account": account.code, "user": user.pk}, salt=MANAGED_SYNC_STATE_SALT)
    return settings.SITE_URL + reverse("sync:oauth_callback"), state
