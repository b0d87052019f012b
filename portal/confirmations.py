"""What the portal's destructive actions say before they happen (see accounts/confirmation.py).

Each function looks its object up with the view's own scoping (another developer's app or another
account's installation is a 404 here too) and returns the words of the confirmation page."""

from django.shortcuts import get_object_or_404
from django.urls import reverse

from accounts.confirmation import Confirmation, plural
from accounts.selectors import membership_or_404
from portal import selectors
from portal.credentials import SECRET_OVERLAP_CHOICES
from portal.forms import SuspensionForm
from portal.models import App, EarlyAccess, Installation


def _app_crumbs(app: App) -> list[tuple[str, str]]:
    return [("My apps", reverse("portal:dashboard")), (app.name, reverse("portal:app_detail", args=[app.pk]))]


def store_turn_off(request, code, app_ref) -> Confirmation:
    membership = membership_or_404(user=request.user, code=code)
    account = membership.account
    installation = get_object_or_404(Installation.objects.select_related("app"), account=account,
                                     app__client_id=app_ref)
    app = installation.app
    return Confirmation(
        title=f"Turn off {app.name} in {account.name}?",
        consequences=[
            f"Every token {app.name} holds for {account.name} ({account.code}) stops working now: "
            "its next API call is refused.",
            f"{app.name}'s uninstall callback is called, and any sync it runs for this account stops.",
            "You can turn it on again later; you will be asked to approve its access again.",
        ],
        action=f"Turn off {app.name}",
        cancel_url=reverse("portal:connected_apps", args=[account.code]),
        crumbs=[("My accounts", reverse("accounts:my_accounts")),
                (account.code, reverse("accounts:account_detail", args=[account.code])),
                ("Connected apps", reverse("portal:connected_apps", args=[account.code]))],
        context={"nav_section": "accounts"},
    )


def app_rotate_secret(request, pk) -> Confirmation:
    app = selectors.app_of_developer(user=request.user, pk=pk)
    accounts = app.installations.filter(is_enabled=True).count()
    return Confirmation(
        title=f"Rotate the client secret of {app.name}?",
        consequences=[
            "A new client secret is issued and shown once, on the next page.",
            "The old secret stops working when you choose below: every server that uses it must be updated by "
            "then; with “at once”, every token request with the old secret fails now"
            + (f" ({app.name} is on in {plural(accounts, 'account')})." if accounts else "."),
            "Access tokens already issued keep working until they expire.",
        ],
        action="Rotate client secret",
        cancel_url=reverse("portal:app_credentials", args=[app.pk]),
        crumbs=[*_app_crumbs(app), ("Credentials", reverse("portal:app_credentials", args=[app.pk]))],
        choices={"name": "overlap", "legend": "The old secret stops working",
                 "options": list(SECRET_OVERLAP_CHOICES.items())},
        context={"nav_section": "apps"},
    )


def app_delete(request, pk) -> Confirmation:
    app = selectors.app_of_developer(user=request.user, pk=pk)
    return Confirmation(
        title=f"Delete {app.name}?",
        consequences=[
            f"{app.name}, its credentials, early-access list and requests are removed; every token of it "
            "stops working now.",
            f"The app reference {app.client_id} becomes free again. This cannot be undone.",
            "Only apps in development that were never turned on in an account can be deleted.",
        ],
        action="Delete app",
        cancel_url=reverse("portal:app_detail", args=[app.pk]),
        crumbs=_app_crumbs(app), context={"nav_section": "apps"},
    )


def early_access_remove(request, pk, grant_id) -> Confirmation:
    app = selectors.app_of_developer(user=request.user, pk=pk)
    grant = get_object_or_404(EarlyAccess.objects.select_related("account"), pk=grant_id, app=app)
    return Confirmation(
        title=f"Remove early access for {grant.account.code}?",
        consequences=[
            f"{grant.account.name} ({grant.account.code}) no longer sees {app.name} in its app store "
            f"while the app is {app.get_stage_display().lower()}.",
            "If the app is on in that account, it stays on until someone turns it off.",
        ],
        action=f"Remove {grant.account.code}",
        cancel_url=reverse("portal:app_early_access", args=[app.pk]),
        crumbs=[*_app_crumbs(app), ("Early access", reverse("portal:app_early_access", args=[app.pk]))],
        context={"nav_section": "apps"},
    )


def review_app_suspension(request, pk) -> Confirmation | None:
    """Only suspending asks first; lifting a suspension, or a form with errors, goes straight to the view."""
    app = get_object_or_404(App, pk=pk)
    form = SuspensionForm(request.POST or None)
    if request.method == "POST" and not (form.is_valid() and form.cleaned_data["action"] == "suspend"
                                         and form.cleaned_data["reason"].strip()):
        return None
    installations = app.installations.filter(is_enabled=True).count()
    reason = form.cleaned_data["reason"].strip().rstrip(".") if form.is_bound and form.is_valid() else ""
    return Confirmation(
        title=f"Suspend {app.name}?",
        consequences=[
            f"Every token of {app.name} stops working now, in {plural(installations, 'account')} where it is on; "
            "lifting the suspension later does not revive them.",
            f"{app.name} disappears from every app store. The owners of those accounts and the developer "
            f"({app.user.email}) are told, with your reason" + (f": “{reason}”." if reason else "."),
        ],
        action=f"Suspend {app.name}",
        cancel_url=reverse("portal:review_app", args=[app.pk]),
        crumbs=[("All apps", reverse("portal:review_apps")), (app.name, reverse("portal:review_app", args=[app.pk]))],
        context={"nav_section": "review"},
    )
