"""The authorization server's endpoints: authorize (per account), token, revoke, introspect, metadata."""

import functools
import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.views import RevokeTokenView, TokenView

from accounts.client_ip import client_ip
from accounts.models import Account
from accounts.refusals import refusal_text
from accounts.roles import accounts_managed_by
from integrations.oauth import (
    ACCOUNT_HEADER,
    CONTROL_CHARACTERS,
    authenticated_client,
    decode_basic,
    presented_client_id,
    token_introspection,
    token_request_retry_after,
)
from integrations.oauth_exchange import fast_exchange
from portal.installations import consent_refusal, installation_turn_on
from portal.models import App, Stage


def _refuse(request, status: int, title: str, detail: str):
    """A clear page instead of a redirect: used whenever the redirect URI cannot be trusted."""
    return render(request, "integrations/oauth_error.html", {"title": title, "detail": detail}, status=status)


def _redirect_with(uri: str, **params) -> HttpResponseRedirect:
    separator = "&" if "?" in uri else "?"
    return HttpResponseRedirect(uri + separator + urlencode({k: v for k, v in params.items() if v}))


@never_cache
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
    if redirect_uri not in app.redirect_uri_list or CONTROL_CHARACTERS.search(redirect_uri):
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
        # One transaction: the code is issued and the app on, or nothing changed (and no install
        # callback is sent, since it is scheduled on commit).
        try:
            with transaction.atomic():
                installation = installation_turn_on(app=app, account=account, actor=request.user)
                credentials["installation_id"] = installation.pk
                uri, _headers, _body, _status = core.create_authorization_response(request, scopes, credentials,
                                                                                   allow=True)
        except (ValidationError, PermissionDenied) as error:
            return _refuse(request, 403, "Cannot turn the app on", refusal_text(error))
        except FatalClientError as error:
            return _refuse(request, 400, "Invalid request",
                           error.oauthlib_error.description or "The request is not valid.")
        except OAuthToolkitError as error:
            return HttpResponseRedirect(error.oauthlib_error.in_uri(redirect_uri))
        return HttpResponseRedirect(uri)
    return render(request, "integrations/consent.html", {
        "app": app, "account": account, "redirect_uri": redirect_uri,
        "prerelease": app.stage != Stage.RELEASED,
    })


def _has_nul(request) -> bool:
    """Whether any parameter of a token, revocation or introspection request (query, form body, HTTP Basic
    credentials) holds a NUL character: no client id, code or token does, and PostgreSQL refuses it in a query."""
    if any("\x00" in value for params in (request.GET, request.POST) for _, values in params.lists()
           for value in values):
        return True
    header = request.META.get("HTTP_AUTHORIZATION", "")
    basic = decode_basic(header[6:]) if header.startswith("Basic ") else None
    return basic is not None and any("\x00" in part for part in basic)


def _refuse_nul(view):
    """Answer ``invalid_request`` (400) to a request with a NUL character in its parameters, before ``view``."""
    @functools.wraps(view)
    def checked(request, *args, **kwargs):
        if _has_nul(request):
            return _no_store(JsonResponse({"error": "invalid_request",
                                           "error_description": "A parameter holds a NUL character."}, status=400))
        return view(request, *args, **kwargs)
    return checked


def _no_store(response):
    """Token responses and the consent page must never be cached (RFC 6749 §5.1)."""
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters("client_secret", "code", "code_verifier", "refresh_token"), name="dispatch")
class AccountTokenView(TokenView):
    """Token endpoint at /oauth/token/<account>, /<account>/oauth/token, or /oauth/token with
    account_code in the form body."""

    def post(self, request, *args, account_code: str | None = None, **kwargs):
        code = account_code or request.POST.get("account_code", "")
        if not code:
            return _unknown_account()
        retry_after = token_request_retry_after(client_id=presented_client_id(request),
                                                address=client_ip(request))
        if retry_after is not None:
            response = JsonResponse({"error": "slow_down", "error_description": "Too many token requests; "
                                     "retry after the time in the Retry-After header."}, status=429)
            response["Retry-After"] = str(retry_after)
            return _no_store(response)
        # The common cases (a refresh or a code exchange certain to succeed) in a lookup and one write;
        # everything else, every refusal included, through the toolkit as before (integrations/oauth_exchange.py).
        fast = fast_exchange(request, code, sender=self)
        if fast is not None:
            return fast
        if not Account.objects.filter(code=code).exists():
            return _unknown_account()
        request.META[ACCOUNT_HEADER] = code
        # One transaction per exchange: a code's row lock is held until its tokens are committed.
        with transaction.atomic():
            response = super().post(request, *args, **kwargs)
        return _no_store(_client_error_status(request, response))


def _unknown_account():
    return _no_store(JsonResponse(
        {"error": "invalid_request", "error_description": "Unknown or missing account code."}, status=400))


def _client_error_status(request, response):
    """invalid_client is a 400 when the client sent its credentials in the body (the reference does
    so, and one known client mishandles a 401); a 401 with a Basic challenge only when the client
    used HTTP Basic (RFC 6749 §5.2)."""
    if response.status_code not in (400, 401):
        return response
    try:
        error = json.loads(response.content).get("error")
    except ValueError:
        return response
    if error != "invalid_client":
        return response
    if "WWW-Authenticate" in response:
        del response["WWW-Authenticate"]
    if request.META.get("HTTP_AUTHORIZATION", "").startswith("Basic "):
        response.status_code = 401
        response["WWW-Authenticate"] = 'Basic realm="oauth", error="invalid_client"'
    else:
        response.status_code = 400
    return response


revoke = csrf_exempt(_refuse_nul(RevokeTokenView.as_view()))
token = _refuse_nul(AccountTokenView.as_view())


@csrf_exempt
@require_POST
@_refuse_nul
def introspect(request):
    """RFC 7662 introspection for confidential clients: a client learns about its own tokens; any
    other token is {"active": false} unless the caller is a configured resource server."""
    caller = authenticated_client(request)
    if caller is None:
        response = JsonResponse({"error": "invalid_client"}, status=401)
        response["WWW-Authenticate"] = 'Basic realm="oauth"'
        return _no_store(response)
    raw = request.POST.get("token", "")
    if not raw:
        return _no_store(JsonResponse({"error": "invalid_request", "error_description": "token is missing."},
                                      status=400))
    return _no_store(JsonResponse(token_introspection(caller=caller, raw_token=raw)))


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
