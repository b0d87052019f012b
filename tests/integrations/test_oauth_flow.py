"""The authorization server end to end: consent in the portal, tokens with a real OAuth client."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse
from requests_oauthlib import OAuth2Session

from integrations.models import AccessToken, Grant, RefreshToken
from portal import installations, services
from portal.models import App, Installation
from tests.factories import AccountFactory, DeveloperFactory, MembershipFactory

REDIRECT = "https://app.example.com/callback"


@pytest.fixture(autouse=True)
def _plain_http_on_loopback(monkeypatch):
    """The live test server speaks plain http on 127.0.0.1; oauthlib insists on https otherwise."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def world(db):
    developer = DeveloperFactory(partner=True).user
    app, secret = services.app_register(
        actor=developer, app_ref="flow-app", name="Flow App", short_description="Flows.",
        client_type=App.CLIENT_CONFIDENTIAL, redirect_uris=REDIRECT,
    )
    owner = MembershipFactory(account=AccountFactory(code="outerheaven")).user
    other = MembershipFactory(account=AccountFactory(code="topfurniture"), user=owner).account
    services.early_access_add(app=app, account_code="outerheaven", actor=developer)
    return {"app": app, "secret": secret, "owner": owner, "account": app.early_access.get().account, "other": other}


def authorize(client, account_code, *, client_id="flow-app", redirect_uri=REDIRECT, decision="allow", **extra):
    """Walk the consent page as the signed-in owner and return the redirect Location."""
    url = reverse("integrations:authorize", args=[account_code])
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": "xyz", **extra}
    page = client.get(url, params)
    if page.status_code != 200:
        return page
    query = "&".join(f"{k}={requests.utils.quote(str(v), safe='')}" for k, v in params.items())
    return client.post(f"{url}?{query}", {"decision": decision})


def code_from(response) -> str:
    assert response.status_code == 302, response.content[:500]
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def test_full_flow_with_a_real_oauth_client(client, world, live_server, settings):
    # given the owner approves the app on the consent page
    client.force_login(world["owner"])
    code = code_from(authorize(client, "outerheaven"))
    installation = Installation.objects.get(app=world["app"], account=world["account"])
    # when the app exchanges the code with requests-oauthlib
    session = OAuth2Session("flow-app", redirect_uri=REDIRECT)
    token = session.fetch_token(f"{live_server.url}/oauth/token/outerheaven", code=code,
                                client_secret=world["secret"], include_client_id=True)
    # then the response is Brightpearl-shaped and bound to the installation
    assert token["token_type"] == "Bearer"
    assert token["installation_instance_id"] == str(installation.pk)
    assert token["api_domain"]
    assert 0 < token["expires_in"] <= 3600
    assert AccessToken.objects.get(installation=installation)
    # and the token calls the account's API with the Brightpearl headers
    api = f"{live_server.url}/public-api/outerheaven/product-service/product-search"
    headers = {"brightpearl-app-ref": "flow-app"}
    called = session.get(api, headers=headers)
    assert called.status_code == 200, called.text
    assert "metaData" in called.json()["response"]
    assert called.headers["brightpearl-requests-remaining"]
    # when it refreshes, the refresh token rotates
    refreshed = session.refresh_token(f"{live_server.url}/outerheaven/oauth/token",
                                      refresh_token=token["refresh_token"], client_id="flow-app",
                                      client_secret=world["secret"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    replay_body = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": "flow-app",
                   "client_secret": world["secret"], "account_code": "outerheaven"}
    # and a replay of the old one within the grace period (a lost response) gets a working pair: a fresh
    # one, since only checksums are stored, and the pair it replaces (never received) stops working
    replay = requests.post(f"{live_server.url}/oauth/token", data=replay_body)
    assert replay.status_code == 200, replay.text
    assert replay.json()["access_token"] not in (token["access_token"], refreshed["access_token"])
    assert session.get(api, headers=headers).status_code == 401
    session.token = replay.json()
    assert session.get(api, headers=headers).status_code == 200
    assert RefreshToken.objects.filter(installation=installation, revoked__isnull=True).count() == 1
    # and after the grace period the old one is refused (and revokes the whole family)
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0}
    replay = requests.post(f"{live_server.url}/oauth/token", data=replay_body)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 120}
    assert session.get(api, headers=headers).status_code == 401
    code = code_from(authorize(client, "outerheaven"))
    refreshed = session.fetch_token(f"{live_server.url}/oauth/token/outerheaven", code=code,
                                    client_secret=world["secret"], include_client_id=True)
    # when the owner turns the app off, every token of the installation is gone
    installations.installation_turn_off(installation=installation, actor=world["owner"])
    assert not AccessToken.objects.filter(installation=installation).exists()
    assert not RefreshToken.objects.filter(installation=installation, revoked__isnull=True).exists()
    assert session.get(api, headers=headers).status_code == 401
    dead = requests.post(f"{live_server.url}/oauth/token/outerheaven", data={
        "grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"], "client_id": "flow-app",
        "client_secret": world["secret"]})
    assert dead.status_code == 400
    # and turning it on again works
    code = code_from(authorize(client, "outerheaven"))
    again = session.fetch_token(f"{live_server.url}/oauth/token/outerheaven", code=code,
                                client_secret=world["secret"], include_client_id=True)
    assert again["installation_instance_id"] == str(installation.pk)
    assert Installation.objects.get(pk=installation.pk).is_enabled
    assert session.get(api, headers=headers).status_code == 200


def _exchange(live_server, code, *, account="outerheaven", secret, redirect_uri=REDIRECT, **extra):
    return requests.post(f"{live_server.url}/oauth/token/{account}", data={
        "grant_type": "authorization_code", "code": code, "client_id": "flow-app", "client_secret": secret,
        "redirect_uri": redirect_uri, **extra})


def test_denial_redirects_with_access_denied(client, world):
    client.force_login(world["owner"])
    response = authorize(client, "outerheaven", decision="deny")
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query) == {"error": ["access_denied"], "state": ["xyz"]}
    assert not Installation.objects.exists()


@pytest.mark.parametrize("case", ["unregistered_redirect", "unknown_account", "not_visible", "suspended",
                                  "unknown_app"])
def test_refusals_show_a_page_and_never_redirect(client, world, case):
    client.force_login(world["owner"])
    kwargs = {"account_code": "outerheaven"}
    if case == "unregistered_redirect":
        kwargs["redirect_uri"] = "https://evil.example.com/callback"
    elif case == "unknown_account":
        kwargs["account_code"] = "nosuchaccount"
    elif case == "not_visible":
        kwargs["account_code"] = "topfurniture"
    elif case == "suspended":
        services.app_suspend(app=world["app"], actor=_reviewer(), reason="abuse")
    elif case == "unknown_app":
        kwargs["client_id"] = "nope"
    response = authorize(client, kwargs.pop("account_code"), **kwargs)
    assert response.status_code in (400, 403, 404)
    assert "Location" not in response
    assert not Installation.objects.exists()


def _reviewer():
    from tests.factories import make_reviewer

    return make_reviewer()


def test_staff_member_cannot_approve(client, world):
    staff = MembershipFactory(account=world["account"], role="staff").user
    client.force_login(staff)
    assert authorize(client, "outerheaven").status_code == 403


def test_code_replay_is_refused(client, world, live_server):
    client.force_login(world["owner"])
    code = code_from(authorize(client, "outerheaven"))
    assert _exchange(live_server, code, secret=world["secret"]).status_code == 200
    replay = _exchange(live_server, code, secret=world["secret"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # and the replay revoked what the code had issued (RFC 6749 §10.5)
    assert AccessToken.objects.count() == 0
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_code_at_another_accounts_token_url_is_refused(client, world, live_server):
    client.force_login(world["owner"])
    code = code_from(authorize(client, "outerheaven"))
    response = _exchange(live_server, code, account="topfurniture", secret=world["secret"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()
    assert _exchange(live_server, code, secret=world["secret"]).status_code == 200  # still usable at its own


def test_redirect_uri_mismatch_at_token_time_is_refused(client, world, live_server):
    client.force_login(world["owner"])
    code = code_from(authorize(client, "outerheaven"))
    response = _exchange(live_server, code, secret=world["secret"], redirect_uri="https://app.example.com/other")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert not AccessToken.objects.exists()


def test_wrong_client_secret_is_invalid_client(client, world, live_server):
    client.force_login(world["owner"])
    code = code_from(authorize(client, "outerheaven"))
    response = _exchange(live_server, code, secret="wrong")
    assert response.status_code == 400 and response.json() == {"error": "invalid_client"}
    assert not AccessToken.objects.exists()


def test_public_client_needs_pkce(client, world, live_server):
    # given a public app
    App.objects.filter(pk=world["app"].pk).update(client_type=App.CLIENT_PUBLIC, client_secret="")
    client.force_login(world["owner"])
    # when it asks without PKCE, it is sent back with invalid_request and no code
    response = authorize(client, "outerheaven")
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_request"], response["Location"]
    assert not Grant.objects.exists()
    # when it uses S256, the exchange works with the verifier
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = code_from(authorize(client, "outerheaven", code_challenge=challenge, code_challenge_method="S256"))
    response = requests.post(f"{live_server.url}/oauth/token/outerheaven", data={
        "grant_type": "authorization_code", "code": code, "client_id": "flow-app", "redirect_uri": REDIRECT,
        "code_verifier": verifier})
    assert response.status_code == 200, response.text


def test_suspension_stops_refresh(client, world, live_server):
    client.force_login(world["owner"])
    token = _exchange(live_server, code_from(authorize(client, "outerheaven")), secret=world["secret"]).json()
    services.app_suspend(app=world["app"], actor=_reviewer(), reason="abuse")
    response = requests.post(f"{live_server.url}/oauth/token/outerheaven", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": "flow-app",
        "client_secret": world["secret"]})
    assert response.status_code == 400


def test_metadata_document(client, db):
    data = client.get("/.well-known/oauth-authorization-server").json()
    assert data["token_endpoint"].endswith("/oauth/token")
    assert data["code_challenge_methods_supported"] == ["S256"]


def test_unsuspending_does_not_bring_old_tokens_back(client, world, live_server):
    # given a connected app with live tokens
    client.force_login(world["owner"])
    token = _exchange(live_server, code_from(authorize(client, "outerheaven")), secret=world["secret"]).json()
    reviewer = _reviewer()
    # when a reviewer suspends and then unsuspends it
    services.app_suspend(app=world["app"], actor=reviewer, reason="abuse")
    assert not AccessToken.objects.filter(application=world["app"]).exists()
    services.app_unsuspend(app=world["app"], actor=reviewer)
    # then the old refresh token stays dead
    response = requests.post(f"{live_server.url}/oauth/token/outerheaven", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"], "client_id": "flow-app",
        "client_secret": world["secret"]})
    assert response.status_code == 400
