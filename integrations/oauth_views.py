"""The authorization server's endpoints: authorize (per account), token, revoke, introspect, metadata."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.views import IntrospectTokenView, RevokeTokenView, TokenView

from accounts.models import Account
from accounts.refusals import refusal_text
from accounts.roles import accounts_managed_by
from integrations.oauth import ACCOUNT_HEADER
from portal.installations import consent_refusal, installation_turn_on
from portal.models import App, Stage


def _refuse(request, status: int, title: str, detail: str):
    """A clear page instead of a redirect: used whenever the redirect URI cannot be trusted."""
    return render(request, "integrations/oauth_error.html", {"title": title, "detail": detail}, status=status)


def _redirect_with(uri: str, **params) -> HttpResponseRedirect:
    separator = "&" if "?" in uri else "?"
    return HttpResponseRedirect(uri + separator + urlencode({k: v for k, v in params.items() if v}))


@login_required
def authorize(request, account_code: str):
    """GET shows the consent page; POST approves (code to the app) or denies (access_denied)."""
    account = Account.objects.filter(code=account_code).first()
    if account is None:
        return _refuse(request, 404, "Unknown account", f"There is no account with the code “{account_code}”.")
    params = request.GET
    app = App.objects.select_related("user__developer_profile").filter(client_id=params.get("client_id", "")).first()
    if app is None:
        return _refuse(request, 400, "Unknown app", "The app that sent you here is not registered.")
    if (refusal := consent_refusal(app=app, account=account, actor=request.user)) is not None:
        return _refuse(request, 403, refusal.title, refusal.message)
    redirect_uri = params.get("redirect_uri") or (app.redirect_uri_list[0] if len(app.redirect_uri_list) == 1 else "")
    if redirect_uri not in app.redirect_uri_list:
        return _refuse(request, 400, "Redirect URI not registered",
                       "The app asked to send you to an address it has not registered, so we stopped here.")
    core = get_oauthlib_core()
    request.META[ACCOUNT_HEADER] = account.code
    try:
        scopes, credentials = core.validate_authorization_request(request)
    except FatalClientError as error:
        return _refuse(request, 400, "Invalid request", error.oauthlib_error.description or "The request is not valid.")
    except OAuthToolkitError as error:
        return HttpResponseRedirect(error.oauthlib_error.in_uri(redirect_uri))
    state = params.get("state", "")
    if request.method == "POST":
        if request.POST.get("decision") != "allow":
            return _redirect_with(redirect_uri, error="access_denied", state=state)
        try:
            installation = installation_turn_on(app=app, account=account, actor=request.user)
        except (ValidationError, PermissionDenied) as error:
            return _refuse(request, 403, "Cannot turn the app on", refusal_text(error))
        credentials["installation_id"] = installation.pk
        uri, _headers, _body, _status = core.create_authorization_response(request, scopes, credentials, allow=True)
        return HttpResponseRedirect(uri)
    return render(request, "integrations/consent.html", {
        "app": app, "account": account, "redirect_uri": redirect_uri,
        "prerelease": app.stage != Stage.RELEASED,
    })


@method_decorator(csrf_exempt, name="dispatch")
class AccountTokenView(TokenView):
    """Token endpoint at /oauth/token/<account>, /<account>/oauth/token, or /oauth/token with
    account_code in the form body."""

    def post(self, request, *args, account_code: str | None = None, **kwargs):
        code = account_code or request.POST.get("account_code", "")
        if not code or not Account.objects.filter(code=code).exists():
            return JsonResponse({"error": "invalid_request", "error_description": "Unknown or missing account code."},
                                status=400)
        request.META[ACCOUNT_HEADER] = code
        return super().post(request, *args, **kwargs)


revoke = csrf_exempt(RevokeTokenView.as_view())
introspect = csrf_exempt(IntrospectTokenView.as_view())
token = AccountTokenView.as_view()


def metadata(request):
    """RFC 8414 authorization-server metadata. The authorize and token endpoints take the account
    code as a path segment (Brightpearl style); the bare URLs listed here accept it as shown."""
    base = settings.SITE_URL
    return JsonResponse({
        "issuer": base,
        "authorization_endpoint": base + reverse("integrations:authorize_choose"),
        "token_endpoint": base + reverse("integrations:token"),
        "revocation_endpoint": base + reverse("integrations:revoke"),
        "introspection_endpoint": base + reverse("integrations:introspect"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "service_documentation": base + "/",
        "portal_account_authorization_endpoint_template": base + "/oauth/authorize/{account_code}",
        "portal_account_token_endpoint_template": base + "/oauth/token/{account_code}",
    })


@login_required
def authorize_choose(request):
    """/oauth/authorize without an account: pick one of the accounts you manage, then continue."""
    accounts = accounts_managed_by(request.user).order_by("code")
    query = request.GET.urlencode()
    if len(accounts) == 1:
        return HttpResponseRedirect(reverse("integrations:authorize", args=[accounts[0].code]) + "?" + query)
    return render(request, "integrations/choose_account.html", {"accounts": accounts, "query": query})
