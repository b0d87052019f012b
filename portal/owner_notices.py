"""What the owners and admins of an account are told about the apps on it (inbox and email).

Called by the portal's services inside their transaction; ``notify`` writes the inbox row there and sends the
email after commit, so a rolled-back change tells nobody."""

from django.urls import reverse

from accounts.models import Account, Membership
from accounts.notifications import notify
from portal.models import App, Installation

MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def _managers_of(account: Account):
    return [membership.user for membership in
            Membership.objects.filter(account=account, role__in=MANAGER_ROLES).select_related("user").order_by("id")]


def _app_page(account: Account, app: App) -> str:
    return reverse("portal:store_app", args=[account.code, app.client_id])


def tell_owners_app_suspended(*, app: App) -> int:
    """Every account where the app is on: its tokens stopped working, and what the owner can do."""
    told = 0
    for installation in Installation.objects.filter(app=app, is_enabled=True).select_related("account"):
        account = installation.account
        for user in _managers_of(account):
            notify(user=user, subject=f"{app.name} is suspended in {account.name}",
                   body=(f"The Partner Portal suspended {app.name}. Its tokens stopped working: it can no longer "
                         f"read or change anything in {account.name} ({account.code}).\n\n"
                         "You do not need to do anything. We will tell you if the suspension is lifted. "
                         "If you no longer want the app, turn it off from its page."),
                   link=_app_page(account, app))
            told += 1
    return told


def tell_owners_app_unsuspended(*, app: App) -> int:
    told = 0
    for installation in Installation.objects.filter(app=app, is_enabled=True).select_related("account"):
        account = installation.account
        for user in _managers_of(account):
            notify(user=user, subject=f"{app.name} is no longer suspended in {account.name}",
                   body=(f"The suspension of {app.name} was lifted. Its earlier tokens stay revoked, so the app "
                         f"may ask you to approve its access to {account.name} ({account.code}) again."),
                   link=_app_page(account, app))
            told += 1
    return told


def tell_owners_early_access(*, app: App, account: Account, developer) -> int:
    who = getattr(getattr(developer, "developer_profile", None), "company", "") or developer.email
    users = _managers_of(account)
    for user in users:
        notify(user=user, subject=f"Early access to {app.name} for {account.name}",
               body=(f"{who} gave {account.name} ({account.code}) early access to {app.name}, which is "
                     f"{app.get_stage_display().lower()}. It now appears in your app store; nothing changes "
                     "until an owner or admin turns it on."),
               link=_app_page(account, app))
    return len(users)


def tell_owners_install_callback_failing(*, installation: Installation, attempts: int) -> int:
    """The app's install callback failed every time: the app may not know it was turned on."""
    account, app = installation.account, installation.app
    users = _managers_of(account)
    for user in users:
        notify(user=user, subject=f"{app.name} did not confirm it was turned on in {account.name}",
               body=(f"We told {app.name} that it was turned on in {account.name} ({account.code}), and its "
                     f"server did not answer after {attempts} tries. The app may not work until its developer "
                     "fixes this; you can contact them from the app's page, or turn the app off and on again later."),
               link=_app_page(account, app))
    return len(users)
