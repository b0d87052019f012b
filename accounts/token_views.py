"""Pages for an account's private apps and staff tokens, and for developers' API keys.

Thin views: parse a form, call one service, add a message, redirect. A new secret travels to the next page
in the session and is popped there, so it is shown exactly once. Querysets are scoped to the signed-in
user's membership (or to the user), so other accounts' apps and tokens, and other people's keys, are 404s.
"""

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from accounts import api_keys as api_key_services, confirmations, staff_tokens as staff_token_services
from accounts.confirmation import confirm_first
from accounts.decorators import developer_required
from accounts.models import DeveloperApiKey, Membership, PrivateApp, StaffToken
from accounts.refusals import apply_refusal, refusal_messages, reported_refusal
from accounts.selectors import membership_or_404
from accounts.token_forms import ApiKeyForm, PrivateAppForm, StaffTokenForm

STAFF_API_EXAMPLE_PATH = "/public-api/{code}/product-service/product-search"


def _new_token_key(account) -> str:
    return f"new-staff-token:{account.pk}"


def _staff_pool() -> tuple[int, int]:
    """The shared staff-token pool of every account: (requests, period in seconds).

    The figure lives in portal's PlatformSettings, but accounts sits below portal and never imports it
    (layering); the row is read through the app registry instead. A page never creates the row, so when it
    does not exist yet the model's defaults are shown, which is what the platform applies.
    """
    platform_settings = apps.get_model("portal", "PlatformSettings")
    row = platform_settings.objects.filter(pk=1).first() or platform_settings()
    return row.staff_token_limit, row.limit_period_seconds


def _tokens_page(request, membership: Membership, *, app_form=None, token_form=None, status=200):
    account = membership.account
    can_manage = membership.can_manage
    new_token = request.session.pop(_new_token_key(account), None) if request.method == "GET" else None
    pool_limit, pool_period = _staff_pool()
    private_apps = staff_token_services.private_apps_of_account(account=account)
    return render(request, "accounts/staff_tokens.html", {
        "nav_section": "accounts",
        "account_tab": "staff-tokens",  # highlights the tab also when a form comes back from a POST URL
        "account": account,
        "membership": membership,
        "can_manage": can_manage,
        "private_apps": private_apps,
        "app_form": (app_form if app_form is not None else PrivateAppForm(account=account)) if can_manage else None,
        "token_form": ((token_form if token_form is not None else StaffTokenForm(account=account))
                       if can_manage and private_apps else None),
        "new_token": new_token,
        "example_url": request.build_absolute_uri(STAFF_API_EXAMPLE_PATH.format(code=account.code)),
        "pool_limit": pool_limit,
        "pool_period": pool_period,
    }, status=status)


def _back_to_tokens(code: str, anchor: str = "") -> HttpResponseRedirect:
    url = reverse("accounts:staff_tokens", args=[code])
    return HttpResponseRedirect(f"{url}#{anchor}" if anchor else url)


@login_required
def staff_tokens(request, code):
    return _tokens_page(request, membership_or_404(user=request.user, code=code))


@login_required
@require_POST
def private_app_create(request, code):
    membership = membership_or_404(user=request.user, code=code)
    account = membership.account
    form = PrivateAppForm(request.POST, account=account)
    if form.is_valid():
        try:
            private_app = staff_token_services.private_app_create(account=account, actor=request.user,
                                                                  **form.cleaned_data)
        except ValidationError as error:
            apply_refusal(form, error)
        except PermissionDenied as error:
            messages.error(request, refusal_messages(error)[0])
            return _back_to_tokens(code)
        else:
            messages.success(request, f"The private app {private_app.identifier} is ready; "
                                      "create staff tokens under it.")
            return _back_to_tokens(code, f"app-{private_app.pk}")
    return _tokens_page(request, membership, app_form=form)


@login_required
@confirm_first(confirmations.private_app_delete)
@require_POST
def private_app_delete(request, code, app_id):
    membership = membership_or_404(user=request.user, code=code)
    private_app = get_object_or_404(PrivateApp, pk=app_id, account=membership.account)
    with reported_refusal(request) as refusal:
        revoked = staff_token_services.private_app_delete(private_app=private_app, actor=request.user)
    if not refusal:
        tokens = f"; {revoked} staff token{'s' if revoked != 1 else ''} stopped working" if revoked else ""
        messages.success(request, f"The private app {private_app.identifier} is deleted{tokens}.")
    return _back_to_tokens(code)


@login_required
@require_POST
def staff_token_create(request, code):
    membership = membership_or_404(user=request.user, code=code)
    account = membership.account
    form = StaffTokenForm(request.POST, account=account)
    if form.is_valid():
        try:
            token, raw = staff_token_services.staff_token_create(actor=request.user, **form.service_fields())
        except ValidationError as error:
            apply_refusal(form, error)
        except PermissionDenied as error:
            messages.error(request, refusal_messages(error)[0])
            return _back_to_tokens(code)
        else:
            request.session[_new_token_key(account)] = {
                "raw": raw, "name": token.name, "app_ref": token.private_app.identifier, "member": token.member.email,
            }
            messages.success(request, f"Staff token “{token.name}” created for {token.member.email}.")
            return _back_to_tokens(code, "new-token")
    return _tokens_page(request, membership, token_form=form)


@login_required
@confirm_first(confirmations.staff_token_revoke)
@require_POST
def staff_token_revoke(request, code, token_id):
    membership = membership_or_404(user=request.user, code=code)
    token = get_object_or_404(StaffToken, pk=token_id, private_app__account=membership.account)
    with reported_refusal(request) as refusal:
        staff_token_services.staff_token_revoke(token=token, actor=request.user)
    if not refusal:
        messages.success(request, f"Staff token “{token.name}” ({token.prefix}…) is revoked; it no longer works.")
    return _back_to_tokens(code, f"app-{token.private_app_id}")


# --- Developer API keys -----------------------------------------------------------------------------------------


NEW_API_KEY = "new-api-key"


def _developer_api_urls(request) -> dict:
    """Where the developer API answers, for the page's example; empty when it is not installed (accounts
    does not depend on the app that serves it)."""
    try:
        return {"me": request.build_absolute_uri(reverse("devapi:me")), "docs": reverse("devapi:docs")}
    except NoReverseMatch:
        return {}


@developer_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key, raw = api_key_services.api_key_create(user=request.user, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_refusal(form, error)
        except PermissionDenied as error:
            messages.error(request, refusal_messages(error)[0])
        else:
            request.session[NEW_API_KEY] = {"raw": raw, "name": key.name}
            messages.success(request, f"API key “{key.name}” created.")
            return redirect("accounts:api_keys")
    new_key = request.session.pop(NEW_API_KEY, None) if request.method == "GET" else None
    return render(request, "accounts/api_keys.html", {
        "nav_section": "apps",
        "form": form,
        "keys": api_key_services.api_keys_of(user=request.user),
        "new_key": new_key,
        "devapi": _developer_api_urls(request),
    })


@developer_required
@confirm_first(confirmations.api_key_revoke)
@require_POST
def api_key_revoke(request, key_id):
    key = get_object_or_404(DeveloperApiKey, pk=key_id, user=request.user)
    with reported_refusal(request) as refusal:
        api_key_services.api_key_revoke(key=key, actor=request.user)
    if not refusal:
        messages.success(request, f"API key “{key.name}” ({key.prefix}…) is revoked; it no longer works.")
    return redirect("accounts:api_keys")
