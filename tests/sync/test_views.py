"""The sync pages through Django's test client: the developer's sync settings, connections, runs and
webhook log, and an account's syncs. Services run for real; dispatches enqueued after commit are never run
(``django_db`` without transactions keeps on_commit callbacks from firing), so no HTTP call is made."""

import json
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Membership
from portal import installations, services
from portal.models import App
from sync import services as sync_services
from sync.models import Connection, SyncRecord, SyncRun, SyncSpec, WebhookAttempt, WebhookDelivery
from tests.factories import AccountFactory, DeveloperFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced():
    """A managed-sync app turned on in `outerheaven` by its owner, and the portal's connection to it."""
    developer = DeveloperFactory(partner=True).user
    app, secret = services.app_register(
        actor=developer, app_ref="sync-app", name="Sync App", short_description="Mirrors things.",
        client_type=App.CLIENT_CONFIDENTIAL, redirect_uris="https://app.example.com/callback",
    )
    account = AccountFactory(code="outerheaven")
    owner = MembershipFactory(account=account, role=Membership.Role.OWNER).user
    staff = MembershipFactory(account=account, role=Membership.Role.STAFF).user
    services.early_access_add(app=app, account_code="outerheaven", actor=developer)
    installation = installations.installation_turn_on(app=app, account=account, actor=owner)
    sync_services.sync_spec_save(app=app, actor=developer, is_enabled=True, resources=["product"],
                                 interval_seconds=300, client_secret=secret)
    connection = sync_services.managed_connection_provision(installation=installation, actor=owner)
    return {"app": app, "secret": secret, "developer": developer, "owner": owner, "staff": staff,
            "account": account, "connection": connection}


def _run(connection: Connection, **fields) -> SyncRun:
    stream = connection.streams.get(resource="product")
    defaults = {"resource": "product", "kind": SyncRun.Kind.FULL, "status": SyncRun.Status.SUCCEEDED,
                "finished_at": timezone.now()}
    return SyncRun.objects.create(stream=stream, connection=connection, **{**defaults, **fields})


def _delivery(connection: Connection, **fields) -> WebhookDelivery:
    body = json.dumps({"accountCode": connection.account_code, "events": [{"id": 1, "remoteId": "7"}]})
    return WebhookDelivery.objects.create(connection=connection, url="https://app.example.com/hook",
                                          request_body=body, event_count=1, **fields)


# --- Who sees which page ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sync:app_sync", "sync:external_connect", "sync:webhooks"])
def test_app_pages_render_for_the_developer_only(client, synced, name):
    # given the app's developer
    client.force_login(synced["developer"])
    # when they open the page
    response = client.get(reverse(name, args=[synced["app"].pk]))
    # then it renders
    assert response.status_code == 200
    # and for another developer and for the account's owner the app does not exist
    for other in (DeveloperFactory().user, synced["owner"]):
        client.force_login(other)
        assert client.get(reverse(name, args=[synced["app"].pk])).status_code == 404


def test_app_sync_page_lists_the_connections_with_their_figures(client, synced):
    # given a connection with two runs in the last hour and mirrored records
    connection = synced["connection"]
    _run(connection, calls=12, throttled=2, errors=1, last_error="boom")
    _run(connection, calls=5)
    SyncRecord.objects.create(connection=connection, resource="product", remote_id="1", payload={}, payload_hash="x")
    client.force_login(synced["developer"])
    # when the developer opens the sync page
    response = client.get(reverse("sync:app_sync", args=[synced["app"].pk]))
    # then the connection shows its figures against the pool (the installation's 200 calls per 60 s)
    row = response.context["connections"][0]
    assert (row.record_count, row.calls_last_hour, row.throttled_recent, row.errors_recent) == (1, 17, 2, 1)
    assert (row.pool_calls, row.pool_window_seconds) == (200, 60)
    html = response.content.decode()
    assert "outerheaven" in html and "pool 200/60 s" in html and "Connect an external account" in html
    assert reverse("sync:webhooks", args=[synced["app"].pk]) in html


def test_app_sync_page_takes_a_fixed_number_of_queries(client, synced):
    # given the developer's app with one connection
    client.force_login(synced["developer"])
    url = reverse("sync:app_sync", args=[synced["app"].pk])
    client.get(url)
    with CaptureQueriesContext(db_connection) as one:
        client.get(url)
    # when nine more accounts are connected
    for n in range(9):
        account = AccountFactory(code=f"more{n}")
        owner = MembershipFactory(account=account).user
        services.early_access_add(app=synced["app"], account_code=account.code, actor=synced["developer"])
        installation = installations.installation_turn_on(app=synced["app"], account=account, actor=owner)
        sync_services.managed_connection_provision(installation=installation, actor=owner)
    with CaptureQueriesContext(db_connection) as ten:
        response = client.get(url)
    # then the page costs the same number of queries
    assert len(response.context["connections"]) == 10
    assert len(ten) == len(one)


def test_connection_page_for_the_developer_owner_and_staff_and_404_for_others(client, synced):
    url = reverse("sync:connection", args=[synced["connection"].pk])
    # the developer and the owner get the buttons
    for user in (synced["developer"], synced["owner"]):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
        assert response.context["can_manage"] is True
        assert "Sync now" in response.content.decode()
    # a staff member of the account reads it without buttons
    client.force_login(synced["staff"])
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["can_manage"] is False
    assert "Sync now" not in response.content.decode()
    # and anyone else, including an owner of another account, gets a 404
    for other in (UserFactory(), MembershipFactory().user, DeveloperFactory().user):
        client.force_login(other)
        assert client.get(url).status_code == 404
        assert client.get(reverse("sync:connection_progress", args=[synced["connection"].pk])).status_code == 404


def test_account_syncs_for_members_with_buttons_for_owners(client, synced):
    url = reverse("sync:account_syncs", args=["outerheaven"])
    # given the account's owner
    client.force_login(synced["owner"])
    # when they open the account's syncs
    response = client.get(url)
    # then the app's connection is listed with its buttons, and the store nav has the tab
    html = response.content.decode()
    assert response.status_code == 200
    assert [c.pk for c in response.context["connections"]] == [synced["connection"].pk]
    assert "Sync App" in html and "Sync now" in html and "Pause" in html
    # a staff member sees the list without buttons
    client.force_login(synced["staff"])
    html = client.get(url).content.decode()
    assert "Sync App" in html and "Sync now" not in html
    # someone outside the account gets a 404
    client.force_login(MembershipFactory().user)
    assert client.get(url).status_code == 404


def test_needs_reauth_banner_offers_re_authorise_to_the_owner(client, synced):
    # given a connection whose authorisation was refused
    connection = synced["connection"]
    sync_services.connection_needs_reauth(connection=connection, reason="The refresh token was refused.")
    client.force_login(synced["owner"])
    # when the owner opens the connection and the account's syncs
    for url in (reverse("sync:connection", args=[connection.pk]), reverse("sync:account_syncs", args=["outerheaven"])):
        html = client.get(url).content.decode()
        # then both explain and offer the button
        assert "The refresh token was refused." in html
        assert reverse("sync:connection_action", args=[connection.pk, "reauthorize"]) in html
    # and the button sends the owner to the consent page
    response = client.post(reverse("sync:connection_action", args=[connection.pk, "reauthorize"]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("integrations:authorize", args=["outerheaven"]))
    # the developer (who cannot re-authorise a managed connection) is told who can instead
    client.force_login(synced["developer"])
    html = client.get(reverse("sync:connection", args=[connection.pk])).content.decode()
    assert "An owner or admin of" in html
    assert reverse("sync:connection_action", args=[connection.pk, "reauthorize"]) not in html


# --- Managed sync settings -------------------------------------------------------------------------------

def test_spec_form_saves(client, synced):
    # given the developer
    client.force_login(synced["developer"])
    # when they choose two resources, a longer interval and a webhook URL
    response = client.post(reverse("sync:app_sync", args=[synced["app"].pk]), {
        "is_enabled": "on", "resources": ["product", "order"], "interval_seconds": "600",
        "webhook_url": "https://app.example.com/hook", "client_secret": ""})
    # then the settings are saved and the connection gets a stream for the new resource
    assert response.status_code == 302
    spec = SyncSpec.objects.get(app=synced["app"])
    assert (spec.resources, spec.interval_seconds, spec.webhook_url) == (["product", "order"], 600,
                                                                         "https://app.example.com/hook")
    assert set(synced["connection"].streams.values_list("resource", flat=True)) == {"product", "order"}


def test_spec_form_refuses_a_wrong_client_secret_and_changes_nothing(client, synced):
    # given the developer and the saved settings
    client.force_login(synced["developer"])
    before = SyncSpec.objects.get(app=synced["app"])
    events = AuditEvent.objects.count()
    # when they post a secret that is not the app's
    response = client.post(reverse("sync:app_sync", args=[synced["app"].pk]), {
        "is_enabled": "on", "resources": ["order"], "interval_seconds": "600", "client_secret": "not-the-secret"})
    # then the form says so on the field
    assert response.status_code == 200
    assert response.context["form"].errors["client_secret"] == ["That is not the app's current client secret."]
    assert "That is not the app&#x27;s current client secret." in response.content.decode()
    # and nothing changed
    after = SyncSpec.objects.get(app=synced["app"])
    assert (after.resources, after.interval_seconds, after.client_secret_encrypted) == (
        before.resources, before.interval_seconds, before.client_secret_encrypted)
    assert AuditEvent.objects.count() == events


def test_spec_form_asks_for_the_secret_after_it_was_rotated(client, synced):
    # given the app's secret was rotated after it was saved
    services.app_rotate_secret(app=synced["app"], actor=synced["developer"])
    client.force_login(synced["developer"])
    # when the page is opened, it warns; and saving without the new secret is refused
    assert client.get(reverse("sync:app_sync", args=[synced["app"].pk])).context["secret_state"] == "stale"
    response = client.post(reverse("sync:app_sync", args=[synced["app"].pk]), {
        "is_enabled": "on", "resources": ["product"], "interval_seconds": "300"})
    assert "client_secret" in response.context["form"].errors


def test_external_connect_redirects_to_the_provider(client, synced):
    # given the developer
    client.force_login(synced["developer"])
    # when they register an external account
    response = client.post(reverse("sync:external_connect", args=[synced["app"].pk]), {
        "name": "Acme", "account_code": "acme", "authorize_url": "https://provider.example.com/oauth/authorize/acme",
        "token_url": "https://provider.example.com/oauth/token/acme",
        "api_base_url": "https://provider.example.com/public-api/acme", "client_id": "abc", "client_secret": "xyz",
        "rate_limit": "100", "rate_window_seconds": "60"})
    # then the browser goes to the provider's consent page and the connection waits for it
    assert response.status_code == 302
    assert response["Location"].startswith("https://provider.example.com/oauth/authorize/acme?")
    connection = Connection.objects.get(account_code="acme")
    assert connection.status == Connection.Status.NEEDS_REAUTH and connection.kind == Connection.Kind.EXTERNAL


def test_external_connect_refuses_bad_urls(client, synced):
    client.force_login(synced["developer"])
    response = client.post(reverse("sync:external_connect", args=[synced["app"].pk]), {
        "account_code": "acme", "authorize_url": "not a url", "token_url": "https://p.example.com/t",
        "api_base_url": "https://p.example.com/public-api/acme", "client_id": "abc", "client_secret": "xyz",
        "rate_limit": "200", "rate_window_seconds": "60"})
    assert response.status_code == 200
    assert response.context["form"].errors["authorize_url"] == ["Enter a full http(s) URL."]
    assert not Connection.objects.filter(account_code="acme").exists()


# --- Buttons -----------------------------------------------------------------------------------------------

def test_owner_pauses_resumes_and_syncs_now(client, synced, django_capture_on_commit_callbacks):
    connection = synced["connection"]
    client.force_login(synced["owner"])
    back = reverse("sync:account_syncs", args=["outerheaven"])
    # when the owner pauses from the account's syncs page
    response = client.post(reverse("sync:connection_action", args=[connection.pk, "pause"]), {"next": back})
    # then the connection is paused and they are back on that page
    assert response["Location"] == back
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED
    # when they resume it
    client.post(reverse("sync:connection_action", args=[connection.pk, "resume"]))
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    # and ask for a sync now (the dispatch is enqueued after commit, not run here)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("sync:connection_action", args=[connection.pk, "sync-now"]), follow=True)
    # then a manual run has started and the page says so
    assert SyncRun.objects.filter(connection=connection, trigger="manual", status=SyncRun.Status.RUNNING).count() == 1
    assert len(callbacks) == 1
    assert "A sync of every resource has started." in response.content.decode()


def test_staff_member_is_refused_the_buttons(client, synced):
    connection = synced["connection"]
    client.force_login(synced["staff"])
    # when a staff member of the account posts each action
    for action in ("pause", "sync-now", "full-resync"):
        response = client.post(reverse("sync:connection_action", args=[connection.pk, action]), follow=True)
        # then it is refused with the service's reason and nothing changes
        assert "Only the app&#x27;s developer or the account&#x27;s owners and admins can do this." in (
            response.content.decode())
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert not SyncRun.objects.filter(connection=connection).exists()


def test_refused_transition_is_shown_as_a_message(client, synced):
    # given an active connection, when the owner asks to resume it
    client.force_login(synced["owner"])
    response = client.post(reverse("sync:connection_action", args=[synced["connection"].pk, "resume"]), follow=True)
    # then the service's reason is shown
    assert "Only a paused sync can be resumed; this one is active." in response.content.decode()


def test_unknown_action_and_get_are_refused(client, synced):
    client.force_login(synced["owner"])
    assert client.post(reverse("sync:connection_action", args=[synced["connection"].pk, "explode"])).status_code == 404
    assert client.get(reverse("sync:connection_action", args=[synced["connection"].pk, "pause"])).status_code == 405


def test_a_foreign_next_is_ignored(client, synced):
    client.force_login(synced["owner"])
    response = client.post(reverse("sync:connection_action", args=[synced["connection"].pk, "pause"]),
                           {"next": "https://evil.example.com/"})
    assert response["Location"] == reverse("sync:connection", args=[synced["connection"].pk])


# --- Progress ------------------------------------------------------------------------------------------------

def test_progress_json_gives_the_runs_figures(client, synced):
    # given a running run and a finished one
    connection = synced["connection"]
    done = _run(connection, started_at=timezone.now() - timedelta(minutes=5), pages=3, records_seen=30, calls=4,
                finished_at=timezone.now() - timedelta(minutes=4))
    running = _run(connection, status=SyncRun.Status.RUNNING, finished_at=None, pages=1, records_seen=10,
                   records_created=10, calls=2, throttled=1)
    client.force_login(synced["staff"])
    # when a member of the account polls the progress
    data = client.get(reverse("sync:connection_progress", args=[connection.pk])).json()
    # then it has the connection's status and each run's figures, newest first
    assert data["status"] == "active"
    assert [run["id"] for run in data["runs"]] == [running.pk, done.pk]
    first = data["runs"][0]
    assert {k: first[k] for k in ("status", "pages", "records_seen", "records_created", "records_updated", "calls",
                                  "throttled", "errors")} == {
        "status": "running", "pages": 1, "records_seen": 10, "records_created": 10, "records_updated": 0,
        "calls": 2, "throttled": 1, "errors": 0}
    assert data["runs"][1]["duration_seconds"] == 60.0


def test_connection_page_polls_only_while_a_run_is_running(client, synced):
    connection = synced["connection"]
    client.force_login(synced["developer"])
    url = reverse("sync:connection", args=[connection.pk])
    progress = reverse("sync:connection_progress", args=[connection.pk])
    _run(connection)
    assert progress not in client.get(url).content.decode()
    _run(connection, status=SyncRun.Status.RUNNING, finished_at=None)
    assert progress in client.get(url).content.decode()


# --- Webhooks ------------------------------------------------------------------------------------------------

def test_webhook_log_and_delivery_page(client, synced):
    # given a failed delivery with one logged attempt
    delivery = _delivery(synced["connection"], status=WebhookDelivery.Status.PENDING, attempts=1,
                         last_status_code=500)
    WebhookAttempt.objects.create(delivery=delivery, number=1, status_code=500, response_body="oops", duration_ms=42)
    client.force_login(synced["developer"])
    # when the developer opens the log and the delivery
    log = client.get(reverse("sync:webhooks", args=[synced["app"].pk])).content.decode()
    page = client.get(reverse("sync:delivery", args=[synced["app"].pk, delivery.pk]))
    # then the log lists it and the page shows the pretty body, the attempt and how to verify signatures
    assert reverse("sync:delivery", args=[synced["app"].pk, delivery.pk]) in log
    html = page.content.decode()
    assert '&quot;accountCode&quot;: &quot;outerheaven&quot;' in html
    assert "oops" in html and "42 ms" in html and "X-Portal-Signature" in html and "Redeliver" in html


def test_another_apps_delivery_is_a_404(client, synced):
    # given a developer with their own app
    other = DeveloperFactory().user
    app, _ = services.app_register(actor=other, app_ref="other-app", name="Other", short_description="x",
                                   client_type=App.CLIENT_CONFIDENTIAL, redirect_uris="https://o.example.com/cb")
    delivery = _delivery(synced["connection"])
    client.force_login(other)
    # when they open or redeliver a delivery of another app through their own app's URL
    assert client.get(reverse("sync:delivery", args=[app.pk, delivery.pk])).status_code == 404
    assert client.post(reverse("sync:delivery_redeliver", args=[app.pk, delivery.pk])).status_code == 404


def test_redeliver(client, synced):
    # given a failed delivery
    delivery = _delivery(synced["connection"], status=WebhookDelivery.Status.PENDING, attempts=5,
                         next_attempt_at=timezone.now() + timedelta(hours=1))
    client.force_login(synced["developer"])
    # when the developer presses Redeliver
    response = client.post(reverse("sync:delivery_redeliver", args=[synced["app"].pk, delivery.pk]), follow=True)
    # then it is due again at once
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.next_attempt_at <= timezone.now()
    assert "will be sent again in a moment" in response.content.decode()


def test_redeliver_while_webhooks_are_paused_says_when_it_goes(client, synced):
    # given paused webhooks and a failed delivery
    SyncSpec.objects.filter(app=synced["app"]).update(webhook_paused_at=timezone.now())
    delivery = _delivery(synced["connection"], status=WebhookDelivery.Status.PENDING, attempts=5)
    client.force_login(synced["developer"])
    # when the developer redelivers it
    response = client.post(reverse("sync:delivery_redeliver", args=[synced["app"].pk, delivery.pk]), follow=True)
    # then it is queued, and the page says it waits for the webhooks to be resumed
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert "once you resume the app&#x27;s webhooks" in response.content.decode()


def test_webhook_resume(client, synced):
    # given the app's webhooks were paused after failures
    SyncSpec.objects.filter(app=synced["app"]).update(webhook_paused_at=timezone.now(), webhook_failures=8,
                                                      webhook_pause_reason="8 failed attempts in a row.")
    client.force_login(synced["developer"])
    page = client.get(reverse("sync:webhooks", args=[synced["app"].pk])).content.decode()
    assert "8 failed attempts in a row." in page and "Resume webhooks" in page
    # when the developer resumes them
    response = client.post(reverse("sync:webhooks_resume", args=[synced["app"].pk]), follow=True)
    # then they are on again
    spec = SyncSpec.objects.get(app=synced["app"])
    assert spec.webhook_paused_at is None and spec.webhook_failures == 0
    assert "Webhooks are on again" in response.content.decode()
    # and resuming again is refused with the service's reason
    response = client.post(reverse("sync:webhooks_resume", args=[synced["app"].pk]), follow=True)
    assert "Webhooks of this app are not paused." in response.content.decode()
