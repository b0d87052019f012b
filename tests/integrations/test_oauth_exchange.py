"""The token endpoint's fast refresh (integrations/oauth_exchange.py): the common case in one lookup and the
writes, with the same stored result as the toolkit's path; every other case answered by the toolkit as before,
without the fast path consuming anything on the way."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from integrations.gateway import bearer_token
from integrations.models import AccessToken, Grant, RefreshToken
from integrations.oauth import token_checksum
from portal import services
from portal.models import App
from tests.factories import AccountFactory, MembershipFactory
from tests.integrations.oauth_support import (  # noqa: F401 (fixtures)
    approve,
    code_from,
    connected,
    exchange,
    fresh_token_pools,
    plain_http_on_loopback,
    post_form,
    refresh,
    world,
)


def test_a_refresh_rotates_the_pair_in_a_few_statements(client, world, django_assert_max_num_queries, settings):
    # given a connected app
    first = connected(client, world)
    old_refresh = RefreshToken.objects.get(token_checksum=token_checksum(first["refresh_token"]))
    old_access = AccessToken.objects.get(token_checksum=token_checksum(first["access_token"]))
    # when it refreshes: a lookup and the writes (SQLite: BEGIN, claim, delete, two inserts, COMMIT)
    with django_assert_max_num_queries(7):
        response = refresh(client, world, first["refresh_token"])
    # then the answer has the reference's shape and is never cached
    assert response.status_code == 200, response.content
    body = response.json()
    assert list(body) == ["access_token", "refresh_token", "api_domain", "token_type", "expires_in"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    # and the old pair is retired as the toolkit retires it: refresh token revoked, access token deleted
    old_refresh.refresh_from_db()
    assert old_refresh.revoked is not None and old_refresh.access_token_id is None
    assert not AccessToken.objects.filter(pk=old_access.pk).exists()
    # and the new pair is stored as checksums only, in the same family and installation, from the old token
    access = AccessToken.objects.get(token_checksum=token_checksum(body["access_token"]))
    new_refresh = RefreshToken.objects.get(token_checksum=token_checksum(body["refresh_token"]))
    assert (access.token, new_refresh.token) == ("", "")
    assert access.source_refresh_token_id == old_refresh.pk and new_refresh.access_token_id == access.pk
    assert new_refresh.token_family == old_refresh.token_family is not None
    assert access.installation_id == new_refresh.installation_id == old_refresh.installation_id is not None
    assert (access.user_id, access.application_id, access.scope) == (old_access.user_id, old_access.application_id,
                                                                     old_access.scope)
    assert new_refresh.revoked is None and new_refresh.resource == [] == access.resource
    lifetime = settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    assert abs((access.expires - timezone.now()) - timedelta(seconds=lifetime)) < timedelta(minutes=1)
    # and the new access token calls the API, the old one does not
    assert bearer_token(body["access_token"]).pk == access.pk
    assert bearer_token(first["access_token"]) is None


def test_a_code_exchange_issues_the_pair_in_a_few_statements(client, world, django_assert_max_num_queries):
    # given an approved installation
    client.force_login(world["owner"])
    code = code_from(approve(client))
    grant = Grant.objects.get(code=token_checksum(code))
    # when the app exchanges the code: a lookup and the writes (SQLite: BEGIN, claim, two inserts, COMMIT)
    with django_assert_max_num_queries(6):
        response = exchange(client, world, code)
    # then the answer has the reference's shape
    assert response.status_code == 200, response.content
    body = response.json()
    assert list(body) == ["access_token", "refresh_token", "installation_instance_id", "api_domain", "token_type",
                          "expires_in"]
    assert body["installation_instance_id"] == str(grant.installation_id)
    assert response["Cache-Control"] == "no-store"
    # and the code is kept redeemed with the family it started, the pair stored as checksums of that family
    grant.refresh_from_db()
    access = AccessToken.objects.get(token_checksum=token_checksum(body["access_token"]))
    new_refresh = RefreshToken.objects.get(token_checksum=token_checksum(body["refresh_token"]))
    assert grant.redeemed_at is not None and grant.token_family == new_refresh.token_family is not None
    assert (access.token, new_refresh.token, access.source_refresh_token_id) == ("", "", None)
    assert new_refresh.access_token_id == access.pk
    assert (access.user_id, access.scope, access.installation_id) == (grant.user_id, grant.scope,
                                                                     grant.installation_id)
    assert new_refresh.installation_id == grant.installation_id
    assert bearer_token(body["access_token"]).pk == access.pk
    # and a replay of the code is refused and revokes what it issued (RFC 6749 §10.5)
    replay = exchange(client, world, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert bearer_token(body["access_token"]) is None
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_a_chain_of_refreshes_then_a_stale_replay_revokes_the_family(client, world, settings):
    # given a pair refreshed three times
    first = connected(client, world)
    latest = first
    for _ in range(3):
        latest = refresh(client, world, latest["refresh_token"]).json()
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    # when the first refresh token is replayed after the grace period
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0}
    replay = refresh(client, world, first["refresh_token"])
    # then it is refused and the family's live pair is gone too
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert bearer_token(latest["access_token"]) is None
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_http_basic_refresh(client, world):
    first = connected(client, world)
    wrong = post_form(client, basic=("flow-app", "wrong"), grant_type="refresh_token",
                      refresh_token=first["refresh_token"])
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    right = post_form(client, basic=("flow-app", world["secret"]), grant_type="refresh_token",
                      refresh_token=first["refresh_token"])
    assert right.status_code == 200, right.content


def _still_works(client, world, refresh_token: str) -> bool:
    return refresh(client, world, refresh_token).status_code == 200


def test_a_token_at_another_accounts_endpoint_is_refused_and_not_consumed(client, world):
    first = connected(client, world)
    MembershipFactory(account=AccountFactory(code="topfurniture"), user=world["owner"])
    elsewhere = refresh(client, world, first["refresh_token"], client_id="flow-app")
    assert elsewhere.status_code == 200  # its own account
    token = elsewhere.json()["refresh_token"]
    response = post_form(client, "/oauth/token/topfurniture", grant_type="refresh_token", refresh_token=token,
                         client_id="flow-app", client_secret=world["secret"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert _still_works(client, world, token)


def test_an_unknown_account_is_refused(client, world):
    first = connected(client, world)
    response = post_form(client, "/oauth/token/nosuchaccount", grant_type="refresh_token",
                         refresh_token=first["refresh_token"], client_id="flow-app", client_secret=world["secret"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert _still_works(client, world, first["refresh_token"])


def test_a_wrong_secret_or_another_client_does_not_consume_the_token(client, world):
    first = connected(client, world)
    services.app_register(actor=world["developer"], app_ref="other-app", name="Other", short_description="o",
                          client_type=App.CLIENT_CONFIDENTIAL, redirect_uris="https://o.example.com/cb")
    assert refresh(client, world, first["refresh_token"], client_secret="wrong").status_code == 400
    assert refresh(client, world, first["refresh_token"], client_id="other-app",
                   client_secret=None).json()["error"] == "invalid_grant"
    assert _still_works(client, world, first["refresh_token"])


def test_a_refresh_token_past_its_lifetime_is_refused(client, world, settings):
    # given a pair whose access token expired longer ago than a refresh token lives
    first = connected(client, world)
    lifetime = settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"]
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=lifetime + 60))
    # then it no longer refreshes
    response = refresh(client, world, first["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_suspended_app_or_a_turned_off_installation_cannot_refresh(client, world):
    first = connected(client, world)
    from tests.factories import make_reviewer

    services.app_suspend(app=world["app"], actor=make_reviewer(), reason="abuse")
    assert refresh(client, world, first["refresh_token"]).status_code == 400


def test_the_previous_secret_still_refreshes_during_a_rotations_overlap(client, world):
    first = connected(client, world)
    services.app_rotate_secret(app=world["app"], actor=world["developer"], overlap_seconds=3600)
    response = refresh(client, world, first["refresh_token"])  # world["secret"] is now the previous one
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("extra", [{"scope": "read"}, {"resource": "https://api.example.com/"}])
def test_requests_the_fast_path_leaves_alone_are_answered_as_before(client, world, extra):
    first = connected(client, world)
    response = refresh(client, world, first["refresh_token"], **extra)
    # then the toolkit answers as it did: a scope within the original is accepted; a resource indicator
    # (RFC 8707) is bound to the new access token
    assert response.status_code == 200, response.content
    access = AccessToken.objects.get(token_checksum=token_checksum(response.json()["access_token"]))
    assert access.resource == ([extra["resource"]] if "resource" in extra else [])


def test_one_refresh_token_presented_eight_times_at_once_leaves_one_live_pair(client, world, live_server):
    # given a pair
    first = connected(client, world)
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": "flow-app",
            "client_secret": world["secret"]}

    def present(_):
        return requests.post(f"{live_server.url}/oauth/token/outerheaven", data=data, timeout=30)

    # when eight requests present it at once (a client retrying a lost answer, within the grace period)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(present, range(8)))
    # then each gets a working answer or a clean refusal, none fails, and one pair is left live
    assert all(answer.status_code in (200, 400) for answer in answers), [a.text[:200] for a in answers]
    assert any(answer.status_code == 200 for answer in answers)
    live = RefreshToken.objects.filter(revoked__isnull=True)
    assert live.count() == 1
    assert AccessToken.objects.count() == 1 and live.get().access_token_id == AccessToken.objects.get().pk
