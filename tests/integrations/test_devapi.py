"""The developer JSON API: API-key authentication, scoping to the key's developer, and each endpoint's
happy path and refusals (bad input is a 400 with field errors and changes nothing)."""

import re
from datetime import date, timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_keys import api_key_create, api_key_revoke
from accounts.audit import audit_record
from accounts.models import AuditEvent, DeveloperApiKey
from portal.models import (
    App,
    EarlyAccess,
    Installation,
    PlatformSettings,
    ProgressionRequest,
    RateLimitIncreaseRequest,
    UsageMinute,
)
from tests.factories import AccountFactory, AppFactory, DeveloperFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/developer"
NEW_APP = {
    "app_ref": "stock-sync", "name": "Stock Sync", "short_description": "Syncs stock.",
    "redirect_uris": ["https://stock.example.com/cb"],
}
LIMIT_REQUEST = {
    "use_case": "Nightly full catalogue sync.", "calls_per_period": 50000, "period": "hour",
    "processing_time": "Within the hour.", "optimisations": "Batched reads, ID sets of 200.", "requested_limit": 600,
}


def api_client(raw_key: str | None = None, header: str = "bearer") -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    if raw_key and header == "bearer":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    elif raw_key:
        client.credentials(HTTP_X_API_KEY=raw_key)
    return client


@pytest.fixture
def developer():
    return DeveloperFactory(partner=True).user


@pytest.fixture
def raw_key(developer):
    return api_key_create(user=developer, name="tests", actor=developer)[1]


@pytest.fixture
def api(raw_key):
    return api_client(raw_key)


@pytest.fixture
def app(developer):
    return AppFactory(user=developer, client_id="my-app", name="My App")


def installed(app, account=None, **fields) -> Installation:
    return Installation.objects.create(app=app, account=account or AccountFactory(), **fields)


# --- Authentication -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/me/", "/apps/", "/apps/my-app/", "/accounts/outerheaven/location/"])
def test_without_a_key_it_is_a_401(app, path):
    # when a request carries no key
    response = api_client().get(API + path)
    # then it is refused as unauthenticated, saying how to authenticate
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_or_unknown_key_is_a_401(developer, raw_key):
    # given a key that worked
    assert api_client(raw_key).get(f"{API}/me/").status_code == 200
    # when it is revoked
    api_key_revoke(key=DeveloperApiKey.objects.get(user=developer), actor=developer)
    # then it no longer works, like a key that never existed
    assert api_client(raw_key).get(f"{API}/me/").status_code == 401
    assert api_client("pdk_" + "x" * 43).get(f"{API}/me/").status_code == 401
    assert api_client("pdk_" + "x" * 43, header="x-api-key").get(f"{API}/me/").status_code == 401


def test_the_key_of_a_deactivated_user_is_a_401(developer, raw_key):
    developer.is_active = False
    developer.save(update_fields=["is_active"])
    assert api_client(raw_key).get(f"{API}/me/").status_code == 401


def test_the_x_api_key_header_works_too_and_use_is_recorded(developer, raw_key):
    # when the key is sent in X-Api-Key
    response = api_client(raw_key, header="x-api-key").get(f"{API}/me/")
    # then the request is the developer's, and the key's last use is recorded
    assert response.status_code == 200
    assert response.json()["email"] == developer.email
    assert DeveloperApiKey.objects.get(user=developer).last_used_at is not None


def test_a_session_does_not_authenticate_and_a_key_needs_no_csrf_token(developer, raw_key):
    # given a signed-in browser session and no key
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(developer)
    # then the session is not enough
    assert client.get(f"{API}/me/").status_code == 401
    # and with a key a write needs no CSRF token
    response = api_client(raw_key).post(f"{API}/apps/", NEW_APP, format="json")
    assert response.status_code == 201


def test_a_user_who_is_not_a_developer_is_a_403():
    user = UserFactory()
    raw = api_key_create(user=user, name="x", actor=user)[1]
    response = api_client(raw).get(f"{API}/apps/")
    assert response.status_code == 403
    assert "developer" in response.json()["detail"]


# --- Scoping ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method,path,body", [
    ("get", "", None),
    ("patch", "", {"name": "Taken over"}),
    ("delete", "", None),
    ("post", "rotate-secret/", None),
    ("get", "history/", None),
    ("get", "early-access/", None),
    ("post", "early-access/", {"account_code": "outerheaven"}),
    ("delete", "early-access/outerheaven/", None),
    ("get", "progression-requests/", None),
    ("post", "progression-requests/", {"message": "Please"}),
    ("get", "limit-requests/", None),
    ("post", "limit-requests/", LIMIT_REQUEST),
    ("get", "installations/", None),
    ("get", "installations/outerheaven/usage/", None),
])
def test_another_developers_app_is_a_404_and_unchanged(api, method, path, body):
    # given someone else's app, installed and with early access in outerheaven
    account = AccountFactory(code="outerheaven")
    foreign = AppFactory(client_id="their-app", name="Theirs")
    installed(foreign, account)
    EarlyAccess.objects.create(app=foreign, account=account)
    events = AuditEvent.objects.count()
    # when the developer addresses it
    response = getattr(api, method)(f"{API}/apps/their-app/{path}", body, format="json")
    # then it does not exist for them, and nothing changed
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert (foreign.name, foreign.early_access.count(), AuditEvent.objects.count()) == ("Theirs", 1, events)


def test_another_apps_requests_are_a_404_under_your_app(api, app):
    # given a pending progression request and limit request of someone else's app
    foreign = AppFactory()
    progression = ProgressionRequest.objects.create(app=foreign, from_stage="in_development", to_stage="alpha",
                                                    submitted_by=foreign.user, message="x")
    limit = RateLimitIncreaseRequest.objects.create(app=foreign, submitted_by=foreign.user, use_case="x",
                                                    calls_per_period=1, processing_time="x", optimisations="x",
                                                    requested_limit=500)
    # when the developer tries them under their own app
    for path in (f"progression-requests/{progression.pk}/", f"limit-requests/{limit.pk}/"):
        assert api.get(f"{API}/apps/my-app/{path}").status_code == 404
        assert api.post(f"{API}/apps/my-app/{path}withdraw/").status_code == 404
    # then both are still pending
    progression.refresh_from_db()
    limit.refresh_from_db()
    assert progression.status == limit.status == "pending"


def test_a_huge_id_is_a_404_not_an_error(api, app):
    assert api.get(f"{API}/apps/my-app/progression-requests/{10 ** 30}/").status_code == 404


# --- Me ----------------------------------------------------------------------------------------------------------


def test_me_is_the_developer_profile_and_the_key_in_use(api, developer):
    body = api.get(f"{API}/me/").json()
    profile = developer.developer_profile
    assert (body["dev_ref"], body["email"], body["is_partner"]) == (profile.dev_ref, developer.email, True)
    key = DeveloperApiKey.objects.get(user=developer)
    assert (body["api_key"]["name"], body["api_key"]["prefix"]) == ("tests", key.prefix)
    assert "key_hash" not in str(body)


# --- Apps --------------------------------------------------------------------------------------------------------


def test_list_shows_only_your_apps_with_counts(api, app):
    # given one of my apps with an installation and someone else's app
    installed(app)
    AppFactory(name="Not mine")
    # when I list apps
    body = api.get(f"{API}/apps/").json()
    # then only mine, with its counts
    assert body["count"] == 1
    (item,) = body["results"]
    assert (item["app_ref"], item["installation_count"], item["early_access_count"], item["stage"]) == (
        "my-app", 1, 0, "in_development")
    assert "client_secret" not in item


def test_register_returns_the_secret_once(api, developer):
    # when an app is registered through the API
    response = api.post(f"{API}/apps/", {**NEW_APP, "redirect_uris": ["https://stock.example.com/cb",
                                                                      "http://localhost:8080/cb"]}, format="json")
    # then the answer carries the secret, which checks against the stored hash
    assert response.status_code == 201
    body = response.json()
    app = App.objects.get(client_id="stock-sync")
    assert app.user == developer and body["app_ref"] == "stock-sync"
    assert body["redirect_uris"] == ["https://stock.example.com/cb", "http://localhost:8080/cb"]
    assert check_password(body["client_secret"], app.client_secret)
    assert AuditEvent.objects.filter(verb="app.registered", app_ref="stock-sync").exists()
    # and reading the app again never shows it
    again = api.get(f"{API}/apps/stock-sync/").json()
    assert "client_secret" not in again and body["client_secret"] not in str(again)


def test_a_public_app_has_no_secret(api):
    response = api.post(f"{API}/apps/", {**NEW_APP, "client_type": "public"}, format="json")
    assert response.status_code == 201
    assert response.json()["client_secret"] is None


@pytest.mark.parametrize("changes,field", [
    ({"app_ref": "Bad Ref"}, "app_ref"),
    ({"app_ref": "x"}, "app_ref"),
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"short_description": "x" * 161}, "short_description"),
    ({"client_type": "secretive"}, "client_type"),
    ({"redirect_uris": []}, "redirect_uris"),
    ({"redirect_uris": "https://stock.example.com/cb"}, "redirect_uris"),
    ({"redirect_uris": ["http://example.com/cb"]}, "redirect_uris"),
    ({"redirect_uris": ["https://a.example.com/cb https://b.example.com/cb"]}, "redirect_uris"),
    ({"homepage_url": "not a url"}, "homepage_url"),
    ({"name": "Nul\x00byte"}, "name"),
])
def test_register_refuses_bad_input_and_creates_nothing(api, changes, field):
    response = api.post(f"{API}/apps/", {**NEW_APP, **changes}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not App.objects.exists()


def test_register_refuses_a_taken_app_ref_and_non_json(api, app):
    response = api.post(f"{API}/apps/", {**NEW_APP, "app_ref": "my-app"}, format="json")
    assert response.status_code == 400 and "app_ref" in response.json()
    assert api.post(f"{API}/apps/", "{not json", content_type="application/json").status_code == 400
    assert api.post(f"{API}/apps/", [NEW_APP], format="json").status_code == 400
    assert api.post(f"{API}/apps/", "app_ref=x", content_type="application/x-www-form-urlencoded").status_code == 415
    assert App.objects.count() == 1


def test_edit_changes_only_the_fields_sent(api, app):
    response = api.patch(f"{API}/apps/my-app/", {"name": "Renamed", "redirect_uris": ["https://new.example.com/cb"]},
                         format="json")
    assert response.status_code == 200
    app.refresh_from_db()
    assert (app.name, app.redirect_uris, app.short_description) == (
        "Renamed", "https://new.example.com/cb", "Keeps things in sync.")
    assert response.json()["name"] == "Renamed"


@pytest.mark.parametrize("changes,field", [
    ({"homepage_url": "ftp:/nope"}, "homepage_url"),
    ({"name": "Renamed", "redirect_uris": ["http://example.com/cb"]}, "redirect_uris"),
    ({"app_ref": "new-ref", "name": ""}, "name"),
])
def test_edit_refuses_bad_input_and_changes_nothing(api, app, changes, field):
    response = api.patch(f"{API}/apps/my-app/", changes, format="json")
    assert response.status_code == 400 and field in response.json()
    app.refresh_from_db()
    assert (app.name, app.client_id) == ("My App", "my-app")


def test_a_public_app_cannot_become_confidential(api, developer):
    AppFactory(user=developer, client_id="pub-app", client_type=App.CLIENT_PUBLIC)
    response = api.patch(f"{API}/apps/pub-app/", {"client_type": "confidential"}, format="json")
    assert response.status_code == 400 and "client_type" in response.json()
    assert App.objects.get(client_id="pub-app").client_type == App.CLIENT_PUBLIC


def test_delete_an_app_in_development(api, app):
    assert api.delete(f"{API}/apps/my-app/").status_code == 204
    assert not App.objects.filter(client_id="my-app").exists()


def test_an_installed_app_cannot_be_deleted(api, app):
    installed(app)
    response = api.delete(f"{API}/apps/my-app/")
    assert response.status_code == 400
    assert "installed" in response.json()["non_field_errors"][0]
    assert App.objects.filter(client_id="my-app").exists()


def test_rotate_secret_returns_the_new_secret_once(api, app):
    # when the secret is rotated
    response = api.post(f"{API}/apps/my-app/rotate-secret/")
    # then the new secret is in the answer and is the only one that works
    assert response.status_code == 200
    secret = response.json()["client_secret"]
    app.refresh_from_db()
    assert check_password(secret, app.client_secret) and not check_password("factory-secret", app.client_secret)
    assert response.json()["secret_rotated_at"] and app.secret_rotated_at
    assert secret not in str(api.get(f"{API}/apps/my-app/").json())


def test_a_public_app_has_no_secret_to_rotate(api, developer):
    AppFactory(user=developer, client_id="pub-app", client_type=App.CLIENT_PUBLIC)
    response = api.post(f"{API}/apps/pub-app/rotate-secret/")
    assert response.status_code == 400 and "non_field_errors" in response.json()


def test_history_lists_what_happened(api, app):
    api.patch(f"{API}/apps/my-app/", {"name": "Renamed"}, format="json")
    body = api.get(f"{API}/apps/my-app/history/").json()
    assert [event["verb"] for event in body["results"]] == ["app.updated"]
    assert body["results"][0]["data"]["changed"]["name"] == ["My App", "Renamed"]


def test_bad_page_numbers_are_refused(api, app):
    assert api.get(f"{API}/apps/?page=0").status_code == 404
    assert api.get(f"{API}/apps/?page=abc").status_code == 404
    for size in ("0", "201", "abc", "-1", "١"):
        response = api.get(f"{API}/apps/", {"page_size": size})
        assert response.status_code == 400 and "page_size" in response.json()
    body = api.get(f"{API}/apps/?page_size=1").json()
    assert (body["count"], len(body["results"])) == (1, 1)


def test_unknown_paths_are_json_404s(api):
    # an unknown path under the API, and a known one without its trailing slash
    assert api.get(f"{API}/nothing-here/").json() == {"detail": "Not found."}
    for odd in ("a%0Ab", "%C3%9B%3B%0D", "%F0%9F%90%8D"):
        response = api.delete(f"{API}/apps/{odd}/")
        assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    response = api.post(f"{API}/apps", NEW_APP, format="json")
    assert response.status_code == 404 and "slash" in response.json()["detail"]
    assert not App.objects.exists()


def test_options_describes_an_operation(api, app):
    response = api.options(f"{API}/apps/my-app/rotate-secret/")
    assert response.status_code == 200 and response.json()["name"]


# --- Early access ------------------------------------------------------------------------------------------------


def test_early_access_add_list_remove(api, app):
    AccountFactory(code="outerheaven", name="Outer Heaven Ltd")
    # when an account is added
    response = api.post(f"{API}/apps/my-app/early-access/", {"account_code": " OuterHeaven "}, format="json")
    # then it is listed
    assert response.status_code == 201
    assert response.json()["account_code"] == "outerheaven"
    listed = api.get(f"{API}/apps/my-app/early-access/").json()["results"]
    assert [(g["account_code"], g["account_name"]) for g in listed] == [("outerheaven", "Outer Heaven Ltd")]
    # and removing it takes it away
    assert api.delete(f"{API}/apps/my-app/early-access/outerheaven/").status_code == 204
    assert not EarlyAccess.objects.exists()
    assert api.delete(f"{API}/apps/my-app/early-access/outerheaven/").status_code == 404


@pytest.mark.parametrize("body", [{"account_code": "nowhere"}, {"account_code": ""}, {}, {"account_code": "x" * 51}])
def test_early_access_refuses_bad_input(api, app, body):
    response = api.post(f"{API}/apps/my-app/early-access/", body, format="json")
    assert response.status_code == 400 and "account_code" in response.json()
    assert not EarlyAccess.objects.exists()


def test_early_access_refuses_an_account_twice(api, app):
    account = AccountFactory(code="outerheaven")
    EarlyAccess.objects.create(app=app, account=account)
    response = api.post(f"{API}/apps/my-app/early-access/", {"account_code": "outerheaven"}, format="json")
    assert response.status_code == 400 and "already" in response.json()["account_code"][0]


# --- Progression requests ----------------------------------------------------------------------------------------


def test_progression_request_submit_list_withdraw(api, app):
    # when a partner asks to move on
    response = api.post(f"{API}/apps/my-app/progression-requests/", {"message": "Ready for alpha."}, format="json")
    # then a pending request to alpha exists
    assert response.status_code == 201
    created = response.json()
    assert (created["from_stage"], created["to_stage"], created["status"]) == ("in_development", "alpha", "pending")
    assert [r["id"] for r in api.get(f"{API}/apps/my-app/progression-requests/").json()["results"]] == [created["id"]]
    assert api.get(f"{API}/apps/my-app/progression-requests/{created['id']}/").json()["message"] == "Ready for alpha."
    # and withdrawing it ends it; a second withdrawal is refused
    withdrawn = api.post(f"{API}/apps/my-app/progression-requests/{created['id']}/withdraw/")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    again = api.post(f"{API}/apps/my-app/progression-requests/{created['id']}/withdraw/")
    assert again.status_code == 400 and "already" in again.json()["non_field_errors"][0]


@pytest.mark.parametrize("body,field", [({}, "message"), ({"message": "   "}, "message"),
                                        ({"message": "x" * 5001}, "message")])
def test_progression_request_refuses_bad_input(api, app, body, field):
    response = api.post(f"{API}/apps/my-app/progression-requests/", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not ProgressionRequest.objects.exists()


def test_only_partners_request_progression(app):
    profile = DeveloperFactory()  # not a partner
    AppFactory(user=profile.user, client_id="plain-app")
    raw = api_key_create(user=profile.user, name="x", actor=profile.user)[1]
    response = api_client(raw).post(f"{API}/apps/plain-app/progression-requests/", {"message": "Go"}, format="json")
    assert response.status_code == 403 and "partner" in response.json()["detail"]
    assert not ProgressionRequest.objects.exists()


def test_closed_intake_refuses_with_the_platform_message(api, app):
    PlatformSettings.objects.update_or_create(pk=1, defaults={"progression_intake_open": False,
                                                              "intake_closed_message": "Back in March."})
    response = api.post(f"{API}/apps/my-app/progression-requests/", {"message": "Go"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Back in March."]}
    assert not ProgressionRequest.objects.exists()


# --- Rate-limit increase requests --------------------------------------------------------------------------------


def test_limit_request_submit_list_withdraw(api, app):
    account = AccountFactory(code="outerheaven")
    installed(app, account)
    until = (timezone.localdate() + timedelta(days=30)).isoformat()
    # when the developer asks for more for one account
    response = api.post(f"{API}/apps/my-app/limit-requests/",
                        {**LIMIT_REQUEST, "account_code": "outerheaven", "requested_until": until}, format="json")
    # then a pending request for that account exists
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["account_code"], created["requested_limit"], created["status"], created["requested_until"]) == (
        "outerheaven", 600, "pending", until)
    assert [r["id"] for r in api.get(f"{API}/apps/my-app/limit-requests/").json()["results"]] == [created["id"]]
    # and it can be withdrawn once
    withdrawn = api.post(f"{API}/apps/my-app/limit-requests/{created['id']}/withdraw/")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert api.post(f"{API}/apps/my-app/limit-requests/{created['id']}/withdraw/").status_code == 400


def test_a_limit_request_for_every_installation(api, app):
    response = api.post(f"{API}/apps/my-app/limit-requests/", LIMIT_REQUEST, format="json")
    assert response.status_code == 201 and response.json()["account_code"] is None


@pytest.mark.parametrize("changes,field", [
    ({"account_code": "nowhere"}, "account_code"),
    ({"account_code": "elsewhere"}, "account_code"),  # exists, but no installation or early access
    ({"requested_limit": 100}, "requested_limit"),  # not above the default
    ({"requested_limit": 10 ** 20}, "requested_limit"),
    ({"calls_per_period": 0}, "calls_per_period"),
    ({"period": "fortnight"}, "period"),
    ({"use_case": ""}, "use_case"),
    ({"requested_until": "2001-01-01"}, "requested_until"),
    ({"requested_until": "soon"}, "requested_until"),
])
def test_limit_request_refuses_bad_input(api, app, changes, field):
    AccountFactory(code="elsewhere")
    response = api.post(f"{API}/apps/my-app/limit-requests/", {**LIMIT_REQUEST, **changes}, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not RateLimitIncreaseRequest.objects.exists()


# --- Installations and usage -------------------------------------------------------------------------------------


def test_installations_show_accounts_state_and_current_limit(api, app, developer):
    # given two installations, one raised by an approved grant until a date
    raised, plain = AccountFactory(code="raised"), AccountFactory(code="plain")
    called = timezone.now() - timedelta(minutes=3)
    installed(app, raised, last_call_at=called)
    installed(app, plain, is_enabled=False, disabled_at=timezone.now())
    until = timezone.now() + timedelta(days=7)
    RateLimitIncreaseRequest.objects.create(
        app=app, account=raised, submitted_by=developer, use_case="x", calls_per_period=1, processing_time="x",
        optimisations="x", requested_limit=900, status="approved", granted_limit=900, granted_until=until)
    # when the developer lists installations
    body = api.get(f"{API}/apps/my-app/installations/").json()
    rows = {row["account_code"]: row for row in body["results"]}
    # then each shows its state, last call and current limit
    assert rows["raised"]["is_enabled"] and not rows["plain"]["is_enabled"]
    assert rows["raised"]["last_call_at"] is not None and rows["plain"]["last_call_at"] is None
    assert rows["raised"]["current_limit"]["calls"] == 900 and not rows["raised"]["current_limit"]["is_default"]
    assert rows["raised"]["current_limit"]["granted_until"] is not None
    assert rows["plain"]["current_limit"] == {"calls": 200, "window_seconds": 60, "per_minute": 200,
                                              "is_default": True, "granted_until": None}


@pytest.mark.parametrize("path", ["apps/", "apps/my-app/installations/", "apps/my-app/history/",
                                  "apps/my-app/early-access/"])
def test_lists_take_a_fixed_number_of_queries(api, app, developer, path):
    def add_rows(count):
        for _ in range(count):
            installation = installed(app)
            EarlyAccess.objects.create(app=app, account=installation.account, added_by=developer)
            AppFactory(user=developer)
            audit_record(actor=developer, verb="app.updated", target=app, app_ref=app.client_id)

    # given a few rows of each kind (counted once the key's last use is recorded)
    add_rows(2)
    api.get(f"{API}/{path}")
    with CaptureQueriesContext(connection) as few:
        assert api.get(f"{API}/{path}").status_code == 200
    # when there are many more
    add_rows(8)
    with CaptureQueriesContext(connection) as many:
        assert api.get(f"{API}/{path}").status_code == 200
    # then the list costs the same
    assert len(many) == len(few)


def test_usage_per_minute_defaults_to_the_last_24_hours(api, app):
    installation = installed(app, AccountFactory(code="outerheaven"))
    now = timezone.now().replace(second=0, microsecond=0)
    for minutes_ago, calls, throttled in [(5, 10, 0), (6, 200, 7), (60 * 25, 99, 0)]:
        UsageMinute.objects.create(installation=installation, minute=now - timedelta(minutes=minutes_ago),
                                   calls=calls, throttled=throttled)
    # when the developer asks for usage without a range
    response = api.get(f"{API}/apps/my-app/installations/outerheaven/usage/")
    # then the last 24 hours come back minute by minute, oldest first, with totals
    assert response.status_code == 200
    body = response.json()
    assert [(m["calls"], m["throttled"]) for m in body["minutes"]] == [(200, 7), (10, 0)]
    assert (body["total_calls"], body["total_throttled"], body["current_limit"]["calls"]) == (210, 7, 200)
    # and a range picks its own minutes
    since = (now - timedelta(hours=26)).isoformat()
    until = (now - timedelta(hours=24)).isoformat()
    ranged = api.get(f"{API}/apps/my-app/installations/outerheaven/usage/", {"since": since, "until": until}).json()
    assert [m["calls"] for m in ranged["minutes"]] == [99]


@pytest.mark.parametrize("query,field", [
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
    ({"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}, "since"),
    ({"until": "0001-01-01T00:00:00Z"}, "since"),
    ({"until": "9999-12-31T23:59:59-12:00"}, "until"),
])
def test_usage_refuses_bad_ranges(api, app, query, field):
    installed(app, AccountFactory(code="outerheaven"))
    response = api.get(f"{API}/apps/my-app/installations/outerheaven/usage/", query)
    assert response.status_code == 400 and field in response.json(), response.json()


def test_usage_of_an_account_without_the_app_is_a_404(api, app):
    AccountFactory(code="outerheaven")
    assert api.get(f"{API}/apps/my-app/installations/outerheaven/usage/").status_code == 404


# --- Account location --------------------------------------------------------------------------------------------


def test_account_location(api, settings):
    settings.SITE_URL = "https://portal.example.com"
    settings.PORTAL = {**settings.PORTAL, "API_DOMAIN": "api-use1.example.com"}
    AccountFactory(code="topfurniture", datacentre="use1")
    body = api.get(f"{API}/accounts/topfurniture/location/").json()
    assert body == {
        "account_code": "topfurniture", "datacentre": "use1", "api_domain": "api-use1.example.com",
        "api_base_url": "https://api-use1.example.com/public-api/topfurniture/",
        "authorize_url": "https://portal.example.com/oauth/authorize/topfurniture",
        "token_url": "https://portal.example.com/oauth/token/topfurniture",
    }
    assert api.get(f"{API}/accounts/nowhere/location/").status_code == 404


# --- Schema and docs ---------------------------------------------------------------------------------------------


def test_the_schema_is_served_as_json_and_yaml():
    client = APIClient()
    as_json = client.get(f"{API}/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert as_json.status_code == 200
    schema = as_json.json()
    paths = set(schema["paths"])
    assert {f"{API}/apps/", f"{API}/apps/{{app_ref}}/rotate-secret/", f"{API}/me/",
            f"{API}/accounts/{{code}}/location/", f"{API}/apps/{{app_ref}}/installations/{{account_code}}/usage/",
            f"{API}/apps/{{app_ref}}/limit-requests/{{request_id}}/withdraw/"} <= paths
    assert all(path.startswith(f"{API}/") for path in paths)
    assert set(schema["components"]["securitySchemes"]) == {"apiKeyBearer", "apiKeyHeader"}
    as_yaml = client.get(f"{API}/schema/?format=yaml")
    assert as_yaml.status_code == 200 and as_yaml.content.startswith(b"openapi: 3")


def test_the_docs_page_uses_only_local_assets():
    # Swagger UI from drf-spectacular-sidecar: no CDN, no fonts or validator elsewhere (the portal may be offline)
    response = APIClient().get(f"{API}/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)
    script = APIClient().get(f"{API}/docs/?script=").content.decode()
    assert '"validatorUrl": null' in script and "/api/developer/schema/" in script


def test_dates_in_the_future_are_accepted_for_requested_until(api, app):
    response = api.post(f"{API}/apps/my-app/limit-requests/",
                        {**LIMIT_REQUEST, "requested_until": date(2999, 1, 1).isoformat()}, format="json")
    assert response.status_code == 201


# --- Demo seed ---------------------------------------------------------------------------------------------------


def test_seed_demo_writes_a_working_api_key_and_keeps_it(settings, tmp_path):
    import json
    from io import StringIO

    from django.core.management import call_command

    settings.BASE_DIR, settings.DEMO_MODE = tmp_path, True
    credentials = tmp_path / ".demo" / "credentials.json"
    # when the demo is seeded
    call_command("seed_demo", stdout=StringIO())
    key = json.loads(credentials.read_text())["developer_api_key"]
    # then its key works against the API as the demo developer
    assert api_client(key).get(f"{API}/me/").json()["dev_ref"] == "demo-developer"
    # and seeding again keeps it
    call_command("seed_demo", stdout=StringIO())
    assert json.loads(credentials.read_text())["developer_api_key"] == key
    # and without the file a new key replaces it (the lost one is revoked)
    credentials.unlink()
    call_command("seed_demo", stdout=StringIO())
    new_key = json.loads(credentials.read_text())["developer_api_key"]
    assert new_key != key
    assert api_client(new_key).get(f"{API}/me/").status_code == 200
    assert api_client(key).get(f"{API}/me/").status_code == 401
