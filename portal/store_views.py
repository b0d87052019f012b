"""The app store of one platform account, and its connected apps."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.confirmation import confirm_first
from accounts.refusals import reported_refusal
from accounts.selectors import membership_or_404
from portal import confirmations, selectors
from portal.installations import installation_turn_off, turn_on_redirect
from portal.models import Installation, Stage
from portal.usage import installations_usage


@login_required
def store(request, code):
    membership = membership_or_404(user=request.user, code=code)
    account = membership.account
    apps = selectors.apps_visible_to_account(account=account).order_by("name", "id")
    query, stage = request.GET.get("q", "").strip(), request.GET.get("stage", "")
    if query:
        apps = apps.filter(Q(name__icontains=query) | Q(short_description__icontains=query))
    if stage in Stage.values:
        apps = apps.filter(stage=stage)
    enabled = set(Installation.objects.filter(account=account, is_enabled=True).values_list("app_id", flat=True))
    return render(request, "portal/store.html", {
        "account": account, "membership": membership, "apps": list(apps), "enabled": enabled,
        "q": query, "stage": stage, "stages": [(s.value, s.label) for s in Stage], "nav_section": "accounts",
        "suspended": selectors.suspended_apps_on_account(account=account),
    })


@login_required
def store_app(request, code, app_ref):
    membership = membership_or_404(user=request.user, code=code)
    account = membership.account
    app = selectors.app_for_account_page(account=account, app_ref=app_ref)
    installation = Installation.objects.filter(app=app, account=account).first()
    return render(request, "portal/store_app.html", {
        "account": account, "membership": membership, "app": app, "installation": installation,
        "nav_section": "accounts",
    })


@login_required
@require_POST
def store_turn_on(request, code, app_ref):
    """Start the OAuth flow at the app's registered redirect URI, or the portal's own for an app with
    managed sync (the consent page does the rest)."""
    membership = membership_or_404(user=request.user, code=code)
    app = get_object_or_404(selectors.apps_visible_to_account(account=membership.account), client_id=app_ref)
    if not membership.can_manage:
        raise PermissionDenied("Only owners and admins can turn apps on.")
    redirect_uri, state = app.redirect_uri_list[0], f"store:{membership.account.code}"
    # An app with managed sync on: the portal's own callback takes the code and connects the account.
    managed = turn_on_redirect(app=app, account=membership.account, user=request.user)
    if managed is not None:
        redirect_uri, state = managed
    query = urlencode({"response_type": "code", "client_id": app.client_id, "redirect_uri": redirect_uri,
                       "state": state})
    return redirect(reverse("integrations:authorize", args=[membership.account.code]) + "?" + query)


@login_required
@confirm_first(confirmations.store_turn_off)
@require_POST
def store_turn_off(request, code, app_ref):
    membership = membership_or_404(user=request.user, code=code)
    installation = get_object_or_404(Installation, account=membership.account, app__client_id=app_ref)
    with reported_refusal(request) as refusal:
        installation_turn_off(installation=installation, actor=request.user)
    if not refusal:
        messages.success(request, f"{installation.app.name} is off; its access was revoked.")
    return redirect("portal:connected_apps", code=code)


@login_required
def connected_apps(request, code):
    membership = membership_or_404(user=request.user, code=code)
    installations = list(Installation.objects.filter(account=membership.account)
                         .select_related("app", "account", "installed_by").order_by("-is_enabled", "app__name"))
    return render(request, "portal/connected_apps.html", {
        "account": membership.account, "membership": membership, "installations": installations,
        "usage": installations_usage(installations=installations, label=lambda installation: installation.app.name,
                                     chart_width=1000),
        "nav_section": "accounts",
    })
