"""The OAuth server's security rules: checksum storage, reuse detection, introspection scope, PKCE and
redirect URI input rules, one-transaction consent, concurrent redemption, rate limits, secret overlap."""

import importlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import quote

import pytest
import requests
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from oauthlib.oauth2.rfc6749 import errors

from accounts.models import AuditEvent
from integrations.gateway import bearer_token
from integrations.models import AccessToken, Grant, RefreshToken
from integrations.oauth import PortalOAuth2Validator, token_checksum
from portal import services
from portal.models import App, Installation
from portal.validation import parse_redirect_uris
from tests.integrations.oauth_support import (  # noqa: F401 (fixtures)
    REDIRECT,
    approve,
    code_from,
    connected,
    exchange,
    fresh_token_pools,
    plain_http_on_loopback,
    post_form,
    redirect_query,
    refresh,
    world,
)


def _no_grace(settings):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0}


# --- 3. storage and caching --------------------------------------------------------------------------

def test_tokens_and_codes_are_stored_only_as_checksums(client, world):
    # given an approved installation
    client.force_login(world["owner"])
    code = code_from(approve(client))
    # then the grant holds the code's checksum only
    assert not Grant.objects.filter(code=code).exists()
    assert Grant.objects.filter(code=token_checksum(code)).exists()
    # when the code is exchanged
    body = exchange(client, world, code).json()
    # then the tokens are stored as checksums, the plaintext nowhere, and the gateway still finds them
    access = AccessToken.objects.get()
    refresh_row = RefreshToken.objects.get()
    assert (access.token, access.token_checksum) == ("", token_checksum(body["access_token"]))
    assert (refresh_row.token, refresh_row.token_checksum) == ("", token_checksum(body["refresh_token"]))
    assert bearer_token(body["access_token"]).pk == access.pk


def test_the_migration_converts_existing_rows(world):
    # given rows written before the change, with plaintext tokens and codes
    installation = services_installation(world)
    access = AccessToken.objects.create(user=world["owner"], application=world["app"], token="old-access",
                                        installation=installation, expires=timezone.now() + timedelta(hours=1))
    RefreshToken.objects.create(user=world["owner"], application=world["app"], token="old-refresh",
                                access_token=access, installation=installation)
    Grant.objects.create(user=world["owner"], application=world["app"], code="old-code", redirect_uri=REDIRECT,
                         expires=timezone.now() + timedelta(minutes=1), installation=installation)
    # when the migration's conversion runs
    migration = importlib.import_module("integrations.migrations.0006_token_checksums")
    migration.store_checksums_only(django_apps, None)
    # then only checksums remain, and the old access token still authenticates at the gateway
    assert list(AccessToken.objects.values_list("token", "token_checksum")) == [("", token_checksum("old-access"))]
    assert list(RefreshToken.objects.values_list("token", "token_checksum")) == [("", token_checksum("old-refresh"))]
    assert list(Grant.objects.values_list("code", flat=True)) == [token_checksum("old-code")]
    assert bearer_token("old-access").pk == access.pk


def services_installation(world) -> Installation:
    from portal.installations import installation_turn_on

    return installation_turn_on(app=world["app"], account=world["account"], actor=world["owner"])


def test_consent_page_is_never_cached(client, world):
    client.force_login(world["owner"])
    page = client.get(reverse("integrations:authorize", args=["outerheaven"]),
                      {"response_type": "code", "client_id": "flow-app", "redirect_uri": REDIRECT, "state": "xyz"})
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]


# --- 4. reuse detection ------------------------------------------------------------------------------

def test_a_replaced_refresh_token_used_after_the_grace_period_revokes_the_family(client, world, settings):
    # given a chain of three pairs from one authorization
    first = connected(client, world)
    second = refresh(client, world, first["refresh_token"]).json()
    third = refresh(client, world, second["refresh_token"]).json()
    # when the first refresh token is replayed after its grace period
    _no_grace(settings)
    replay = refresh(client, world, first["refresh_token"])
    # then it is refused and every token descended from that authorization is revoked
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert bearer_token(third["access_token"]) is None
    assert refresh(client, world, third["refresh_token"]).status_code == 400
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_a_replay_within_the_grace_period_gets_a_fresh_pair_and_retires_the_unreceived_one(client, world, settings):
    # given a refresh whose answer was lost
    first = connected(client, world)
    lost = refresh(client, world, first["refresh_token"]).json()
    # when the client retries with the refresh token it still has, within the grace period
    retry = refresh(client, world, first["refresh_token"])
    # then it gets a new working pair, and the lost pair no longer works
    assert retry.status_code == 200, retry.content
    fresh = retry.json()
    assert fresh["access_token"] != lost["access_token"]
    assert bearer_token(fresh["access_token"]) is not None
    assert bearer_token(lost["access_token"]) is None
    # and whoever presents the lost refresh token later revokes the family (it was never the client's)
    assert refresh(client, world, lost["refresh_token"]).status_code == 400
    assert refresh(client, world, fresh["refresh_token"]).status_code == 400


def test_a_replayed_code_revokes_every_token_issued_from_it(client, world):
    # given a code exchanged and its pair refreshed once
    client.force_login(world["owner"])
    code = code_from(approve(client))
    first = exchange(client, world, code).json()
    second = refresh(client, world, first["refresh_token"]).json()
    # when the code is replayed
    replay = exchange(client, world, code)
    # then it is refused and the descendants are revoked too
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert bearer_token(second["access_token"]) is None
    assert refresh(client, world, second["refresh_token"]).status_code == 400


# --- 4. introspection --------------------------------------------------------------------------------

def _other_confidential_app(world, client_id="other-app") -> tuple[App, str]:
    app, secret = services.app_register(
        actor=world["developer"], app_ref=client_id, name="Other App", short_description="Other.",
        client_type=App.CLIENT_CONFIDENTIAL, redirect_uris=REDIRECT,
    )
    return app, secret


def test_introspection_answers_only_the_tokens_own_client(client, world):
    # given a token of flow-app and another confidential app
    body = connected(client, world)
    _other, other_secret = _other_confidential_app(world)
    url = reverse("integrations:introspect")
    # when its own client introspects it
    own = post_form(client, url, token=body["access_token"], client_id="flow-app", client_secret=world["secret"])
    # then it is active and described
    assert own.status_code == 200 and own.json()["active"] is True
    assert own.json()["client_id"] == "flow-app" and "no-store" in own["Cache-Control"]
    # when another client introspects it, then it learns nothing
    other = post_form(client, url, token=body["access_token"], basic=("other-app", other_secret))
    assert other.status_code == 200 and other.json() == {"active": False}


def test_a_configured_resource_server_may_introspect_any_token(client, world, settings):
    body = connected(client, world)
    _other, other_secret = _other_confidential_app(world, "api-gateway")
    settings.PORTAL = {**settings.PORTAL, "OAUTH_INTROSPECTION_CLIENTS": ["api-gateway"]}
    answer = post_form(client, reverse("integrations:introspect"), token=body["access_token"],
                       basic=("api-gateway", other_secret))
    assert answer.json()["active"] is True and answer.json()["client_id"] == "flow-app"


@pytest.mark.parametrize("credentials", [
    {}, {"client_id": "flow-app", "client_secret": "wrong"}, {"client_id": "flow-app"}])
def test_introspection_needs_an_authenticated_confidential_client(client, world, credentials):
    body = connected(client, world)
    answer = post_form(client, reverse("integrations:introspect"), token=body["access_token"], **credentials)
    assert answer.status_code == 401 and answer.json() == {"error": "invalid_client"}


# --- 4. PKCE and redirect URI input rules ------------------------------------------------------------

@pytest.mark.parametrize("challenge", ["short", "x" * 129, "a" * 42 + "!", "a" * 43 + " "])
def test_a_malformed_code_challenge_is_refused(client, world, challenge):
    client.force_login(world["owner"])
    response = approve(client, code_challenge=challenge, code_challenge_method="S256")
    query = redirect_query(response)
    assert query["error"] == "invalid_request" and query["state"] == "xyz"
    assert not Installation.objects.exists()


def test_a_well_formed_code_challenge_of_the_maximum_length_is_accepted(client, world):
    client.force_login(world["owner"])
    response = approve(client, code_challenge="A-._~" * 25 + "abc", code_challenge_method="S256")
    assert "code" in redirect_query(response)


def test_redirect_uris_with_control_characters_are_refused(client, world):
    # at registration
    for uri in ("https://app.example.com/cb\x01", "https://app.example.com/c\x7fb", "https://app.example.com/\x00"):
        with pytest.raises(ValidationError):
            parse_redirect_uris(uri)
    # and at authorization, even if such a URI was stored before the rule existed
    App.objects.filter(pk=world["app"].pk).update(redirect_uris="https://app.example.com/cb\x01")
    client.force_login(world["owner"])
    response = client.get(reverse("integrations:authorize", args=["outerheaven"]), {
        "response_type": "code", "client_id": "flow-app", "redirect_uri": "https://app.example.com/cb\x01"})
    assert response.status_code == 400 and "Location" not in response


# --- 5. one-transaction consent ----------------------------------------------------------------------

@pytest.mark.parametrize("extra", [
    {"code_challenge": "a" * 43},
    {"code_challenge": "a" * 43, "code_challenge_method": "plain"},
    {"resource": "https://api.example.com/"},
])
def test_bad_approval_parameters_change_nothing_and_redirect_with_an_oauth_error(
        client, world, extra, django_capture_on_commit_callbacks):
    # given an app with an install callback
    App.objects.filter(pk=world["app"].pk).update(install_callback_url="https://app.example.com/installed")
    client.force_login(world["owner"])
    url = reverse("integrations:authorize", args=["outerheaven"])
    params = {"response_type": "code", "client_id": "flow-app", "redirect_uri": REDIRECT, "state": "xyz", **extra}
    query = "&".join(f"{key}={quote(value, safe='')}" for key, value in params.items())
    # when the owner approves
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"{url}?{query}", {"decision": "allow"})
    # then the app gets an OAuth error and nothing changed: no installation, no callback, no code
    answer = redirect_query(response)
    assert answer["error"] in ("invalid_request", "invalid_target") and answer["state"] == "xyz"
    assert not Installation.objects.exists() and not Grant.objects.exists()
    assert callbacks == []
    assert not AuditEvent.objects.filter(verb="installation.turned_on").exists()


def test_a_failure_while_issuing_the_code_rolls_the_installation_back(
        client, world, monkeypatch, django_capture_on_commit_callbacks):
    # given the code cannot be stored
    App.objects.filter(pk=world["app"].pk).update(install_callback_url="https://app.example.com/installed")

    def refuse(self, client_id, code, request, *args, **kwargs):
        raise errors.InvalidRequestError(description="cannot store", request=request)

    monkeypatch.setattr(PortalOAuth2Validator, "save_authorization_code", refuse)
    client.force_login(world["owner"])
    # when the owner approves
    with django_capture_on_commit_callbacks() as callbacks:
        response = approve(client)
    # then the app gets the OAuth error and the installation is not on
    assert redirect_query(response)["error"] == "invalid_request"
    assert not Installation.objects.exists()
    assert callbacks == []


def test_one_code_redeemed_eight_times_at_once_issues_one_token(client, world, live_server):
    # given a code
    client.force_login(world["owner"])
    code = code_from(approve(client))
    data = {"grant_type": "authorization_code", "code": code, "client_id": "flow-app",
            "client_secret": world["secret"], "redirect_uri": REDIRECT}

    def redeem(_):
        return requests.post(f"{live_server.url}/oauth/token/outerheaven", data=data, timeout=30)

    # when eight requests redeem it at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(redeem, range(8)))
    # then one gets a token, seven get invalid_grant, none fails
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [400] * 7, [answer.text[:200] for answer in answers]
    assert all(answer.json()["error"] == "invalid_grant" for answer in answers if answer.status_code == 400)
    assert RefreshToken.objects.count() == 1  # one pair was ever issued (the replays then revoked it)


# --- 4. token endpoint rate limits -------------------------------------------------------------------

def test_the_token_endpoint_is_rate_limited_per_client(client, world, settings):
    settings.PORTAL = {**settings.PORTAL, "OAUTH_TOKEN_LIMIT_PER_CLIENT": 2}
    answers = [refresh(client, world, "nope").status_code for _ in range(3)]
    assert answers == [400, 400, 429]
    limited = refresh(client, world, "nope")
    assert int(limited["Retry-After"]) >= 1 and limited.json()["error"]
    # another client from the same address is not affected
    assert refresh(client, world, "nope", client_id="other").status_code == 400
    # and requests naming the client from another address draw on a pool of their own: nobody spends the
    # app's budget by naming it
    elsewhere = client.post("/oauth/token/outerheaven", {"grant_type": "refresh_token", "refresh_token": "nope",
                                                         "client_id": "flow-app"}, REMOTE_ADDR="10.0.0.7")
    assert elsewhere.status_code == 400


def test_the_token_endpoint_is_rate_limited_per_address(client, world, settings):
    settings.PORTAL = {**settings.PORTAL, "OAUTH_TOKEN_LIMIT_PER_ADDRESS": 2}
    answers = [refresh(client, world, "nope", client_id=f"c{n}").status_code for n in range(3)]
    assert answers == [400, 400, 429]
    # another address is not affected
    other = client.post("/oauth/token/outerheaven", {"grant_type": "refresh_token", "refresh_token": "nope",
                                                     "client_id": "c9"}, REMOTE_ADDR="10.0.0.9")
    assert other.status_code == 400


# --- 4. client secret rotation with overlap ----------------------------------------------------------

def _authenticates(client, secret) -> bool:
    answer = post_form(client, reverse("integrations:introspect"), token="x", client_id="flow-app",
                       client_secret=secret)
    return answer.status_code == 200


def test_rotation_with_overlap_keeps_both_secrets_working_until_the_chosen_time(client, world):
    # when the developer rotates with a one-hour overlap
    new = services.app_rotate_secret(app=world["app"], actor=world["developer"], overlap_seconds=3600)
    # then both secrets authenticate
    assert _authenticates(client, new) and _authenticates(client, world["secret"])
    app = App.objects.get(pk=world["app"].pk)
    assert abs((app.previous_secret_expires_at - timezone.now()) - timedelta(hours=1)) < timedelta(minutes=1)
    # and once the overlap is over only the new one does
    App.objects.filter(pk=app.pk).update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    assert _authenticates(client, new) and not _authenticates(client, world["secret"])


def test_rotation_without_overlap_ends_the_old_secret_at_once(client, world):
    new = services.app_rotate_secret(app=world["app"], actor=world["developer"], overlap_seconds=0)
    assert _authenticates(client, new) and not _authenticates(client, world["secret"])


def test_rotation_refuses_an_overlap_that_is_not_offered(world):
    with pytest.raises(ValidationError):
        services.app_rotate_secret(app=world["app"], actor=world["developer"], overlap_seconds=7 * 86400)


def test_the_credentials_page_asks_for_confirmation_before_rotating(client, world):
    client.force_login(world["developer"])
    page = client.get(reverse("portal:app_credentials", args=[world["app"].pk]))
    assert b'name="overlap"' in page.content
    url = reverse("portal:app_rotate_secret", args=[world["app"].pk])
    # when the form is sent without the confirmation, the confirmation page answers and nothing changes
    assert b"Rotate client secret" in client.post(url, {"overlap": "3600"}).content
    assert App.objects.get(pk=world["app"].pk).secret_rotated_at is None
    # when it is confirmed, the secret rotates with the chosen overlap
    client.post(url, {"overlap": "86400", "confirm": "yes"})
    app = App.objects.get(pk=world["app"].pk)
    assert app.secret_rotated_at is not None and app.previous_secret_is_live


def test_revocation_finds_tokens_by_checksum_and_ends_the_pair(client, world):
    # given a pair
    body = connected(client, world)
    # when the app revokes its refresh token (RFC 7009)
    answer = post_form(client, reverse("integrations:revoke"), token=body["refresh_token"],
                       token_type_hint="refresh_token", client_id="flow-app", client_secret=world["secret"])
    # then neither token works any more
    assert answer.status_code == 200
    assert bearer_token(body["access_token"]) is None
    assert refresh(client, world, body["refresh_token"]).status_code == 400
