"""The token endpoint's contract, case by case, against the recorded reference (BRIGHTPEARL-API.md §8,
checklist rows 23-24): status codes, bodies, key order and headers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.conf import integrations_settings
from integrations.models import AccessToken, Grant
from integrations.oauth_views import AccountTokenView
from portal.models import App, Installation
from tests.integrations.oauth_support import (  # noqa: F401 (fixtures)
    REDIRECT,
    approve,
    code_from,
    connected,
    exchange,
    fresh_token_pools,
    pkce_pair,
    plain_http_on_loopback,
    post_form,
    refresh,
    world,
)

UNKNOWN_CODE = {"error": "invalid_grant", "error_description": "The auth token has either expired or does not exist"}


def test_code_exchange_answers_the_reference_shape(client, world, settings):
    # given an approved installation
    client.force_login(world["owner"])
    code = code_from(approve(client))
    # when the app exchanges the code with its secret in the body
    response = exchange(client, world, code)
    # then the answer has the reference's keys in its order, no scope, and is never cached
    assert response.status_code == 200, response.content
    body = response.json()
    installation = Installation.objects.get(app=world["app"])
    assert list(body) == ["access_token", "refresh_token", "installation_instance_id", "api_domain", "token_type",
                          "expires_in"]
    assert body["installation_instance_id"] == str(installation.pk)
    assert body["token_type"] == "Bearer" and "://" not in body["api_domain"]
    assert body["expires_in"] == settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    assert response["Content-Type"].startswith("application/json")
    assert "no-store" in response["Cache-Control"]


@pytest.fixture
def rebuilt_token_server():
    """The token view builds its oauthlib server once (with the lifetime of that moment); this test
    gets its own, and the next test the one it would have had."""
    saved = AccountTokenView.__dict__.get("_oauthlib_core")
    if saved is not None:
        del AccountTokenView._oauthlib_core
    yield
    if "_oauthlib_core" in AccountTokenView.__dict__:
        del AccountTokenView._oauthlib_core
    if saved is not None:
        AccountTokenView._oauthlib_core = saved


def test_access_token_lifetime_is_the_setting(client, world, settings, rebuilt_token_server):
    # given the reference's lifetime configured (7 days)
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ACCESS_TOKEN_EXPIRE_SECONDS": 604800}
    # when a code is exchanged
    body = connected(client, world)
    # then expires_in says so, and the token lives that long
    assert body["expires_in"] == 604800
    assert AccessToken.objects.get().expires > timezone.now() + timedelta(days=6)


def test_refresh_answers_without_installation_instance_id(client, world):
    # given a token pair
    first = connected(client, world)
    # when it is refreshed
    response = refresh(client, world, first["refresh_token"])
    # then the refresh token rotates and the answer has no installation instance and no scope
    assert response.status_code == 200, response.content
    body = response.json()
    assert list(body) == ["access_token", "refresh_token", "api_domain", "token_type", "expires_in"]
    assert body["refresh_token"] != first["refresh_token"]
    assert "no-store" in response["Cache-Control"]


def test_refresh_without_client_secret_is_accepted_by_default(client, world, settings):
    # given the default (compatibility) setting and a token pair
    assert integrations_settings.OAUTH_REFRESH_WITHOUT_SECRET is True
    first = connected(client, world)
    # when the app refreshes naming itself but without its secret
    response = refresh(client, world, first["refresh_token"], client_secret=None)
    # then it is answered like the reference does
    assert response.status_code == 200, response.content


def test_refresh_without_client_secret_is_refused_when_the_setting_is_off(client, world, settings):
    # given the setting off
    settings.PORTAL = {**settings.PORTAL, "OAUTH_REFRESH_WITHOUT_SECRET": False}
    first = connected(client, world)
    # when the app refreshes without its secret
    response = refresh(client, world, first["refresh_token"], client_secret=None)
    # then the client must authenticate; with its secret the same token still works
    assert response.status_code == 400 and response.json() == {"error": "invalid_client"}
    assert refresh(client, world, first["refresh_token"]).status_code == 200


def test_refresh_with_a_wrong_secret_is_refused_even_in_compatibility(client, world):
    first = connected(client, world)
    response = refresh(client, world, first["refresh_token"], client_secret="wrong")
    assert response.status_code == 400 and response.json() == {"error": "invalid_client"}


def test_refresh_without_secret_needs_the_tokens_own_client(client, world):
    # given a token of flow-app and another confidential app
    first = connected(client, world)
    services_app = App.objects.create(client_id="other-app", name="Other", user=world["developer"],
                                      client_type=App.CLIENT_CONFIDENTIAL,
                                      authorization_grant_type="authorization-code",
                                      redirect_uris=REDIRECT, client_secret="x" * 20)
    # when the other app presents it without a secret
    response = refresh(client, world, first["refresh_token"], client_id=services_app.client_id, client_secret=None)
    # then it is refused
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("case", ["wrong_secret", "unknown_client", "missing_secret"])
def test_invalid_client_with_body_credentials_is_a_400(client, world, case):
    # given a code
    client.force_login(world["owner"])
    code = code_from(approve(client))
    overrides = {"wrong_secret": {"client_secret": "wrong"}, "unknown_client": {"client_id": "nobody"},
                 "missing_secret": {"client_secret": None}}[case]
    # when the client sends bad credentials in the body
    response = exchange(client, world, code, **overrides)
    # then it is the reference's 400, without a challenge
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client"}
    assert "WWW-Authenticate" not in response
    assert "no-store" in response["Cache-Control"]


def test_invalid_client_with_http_basic_is_a_401_with_a_basic_challenge(client, world):
    client.force_login(world["owner"])
    code = code_from(approve(client))
    response = post_form(client, basic=("flow-app", "wrong"), grant_type="authorization_code", code=code,
                         redirect_uri=REDIRECT)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")


def test_http_basic_with_the_right_secret_is_accepted(client, world):
    client.force_login(world["owner"])
    code = code_from(approve(client))
    response = post_form(client, basic=("flow-app", world["secret"]), grant_type="authorization_code", code=code,
                         redirect_uri=REDIRECT)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("case", ["unknown", "used", "expired"])
def test_bad_codes_are_invalid_grant_with_the_reference_description(client, world, case):
    # given a code that does not exist, was used, or has expired
    client.force_login(world["owner"])
    code = code_from(approve(client))
    if case == "unknown":
        code = "not-a-code"
    elif case == "used":
        assert exchange(client, world, code).status_code == 200
    else:
        Grant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    # when it is exchanged
    response = exchange(client, world, code)
    # then
    assert response.status_code == 400
    assert response.json() == UNKNOWN_CODE
    assert "no-store" in response["Cache-Control"]


def test_redirect_mismatch_is_invalid_grant_with_the_reference_description(client, world):
    client.force_login(world["owner"])
    code = code_from(approve(client))
    response = exchange(client, world, code, redirect_uri="https://app.example.com/elsewhere")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant",
                               "error_description": "Redirect uri does not match that used to request auth token"}


def test_unknown_refresh_token_is_invalid_grant_with_a_description(client, world):
    connected(client, world)
    response = refresh(client, world, "no-such-token")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_grant" and body["error_description"]


def test_unsupported_grant_type_and_unknown_account(client, world):
    # when a grant type the server does not offer is asked for
    response = post_form(client, grant_type="urn:example:unknown", client_id="flow-app", client_secret=world["secret"])
    # then
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    # when the account in the URL does not exist
    response = post_form(client, "/oauth/token/nosuchaccount", grant_type="authorization_code", code="x")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert "no-store" in response["Cache-Control"]


def test_the_three_token_urls_answer_alike(client, world):
    for path, extra in (("/oauth/token/outerheaven", {}), ("/outerheaven/oauth/token", {}),
                        ("/oauth/token", {"account_code": "outerheaven"})):
        client.force_login(world["owner"])
        code = code_from(approve(client))
        data = {"grant_type": "authorization_code", "code": code, "client_id": "flow-app",
                "client_secret": world["secret"], "redirect_uri": REDIRECT, **extra}
        response = post_form(client, path, **data)
        assert response.status_code == 200, (path, response.content)
        assert "installation_instance_id" in response.json()


def test_public_client_needs_pkce_and_the_right_verifier(client, world):
    # given a public app (PKCE stays required for public clients: a deliberate deviation)
    App.objects.filter(pk=world["app"].pk).update(client_type=App.CLIENT_PUBLIC, client_secret="")
    client.force_login(world["owner"])
    verifier, challenge = pkce_pair()
    # when it exchanges without a verifier (invalid_request), or with a wrong one (invalid_grant)
    code = code_from(approve(client, code_challenge=challenge, code_challenge_method="S256"))
    assert exchange(client, world, code, client_secret=None).json()["error"] == "invalid_request"
    code = code_from(approve(client, code_challenge=challenge, code_challenge_method="S256"))
    wrong = exchange(client, world, code, client_secret=None, code_verifier=pkce_pair()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # when it sends the right verifier, then it gets tokens
    code = code_from(approve(client, code_challenge=challenge, code_challenge_method="S256"))
    right = exchange(client, world, code, client_secret=None, code_verifier=verifier)
    assert right.status_code == 200, right.content
