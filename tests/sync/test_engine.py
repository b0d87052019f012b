"""The engine against the built-in API on a live server: full and incremental runs, checkpoints, fencing,
token refresh, re-authorisation and throttling. Slices run in the test process here; the tests with a
real Celery worker are in test_workers.py."""

import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection as db_connection
from django.utils import timezone

from accounts.models import Notification
from integrations.models import Product, RefreshToken
from sync import client as sync_client, engine, services as sync_services
from sync.client import SyncClient
from sync.dispatcher import _dispatch
from sync.models import ChangeEvent, Connection, SyncRecord, SyncRun, SyncStream
from tests.sync.conftest import redis_url, seed_products


def lease(stream: SyncStream) -> int:
    """Lease a stream the way the dispatcher does and return the epoch."""
    epoch = stream.epoch + 1
    SyncStream.objects.filter(pk=stream.pk).update(epoch=epoch, lease_expires_at=timezone.now() + timedelta(seconds=30))
    return epoch


def run_until_done(stream: SyncStream, *, slices: int = 20) -> list[str]:
    outcomes = []
    for _ in range(slices):
        stream.refresh_from_db()
        result = engine.run_slice(stream_id=stream.pk, epoch=lease(stream))
        outcomes.append(result.outcome)
        if result.outcome in ("done", "failed", "reauth", "inactive"):
            break
    return outcomes


def mirrored_ids(connection) -> list[str]:
    return sorted(SyncRecord.objects.filter(connection=connection).values_list("remote_id", flat=True))


def product_ids(account) -> list[str]:
    return sorted(str(pk) for pk in Product.objects.filter(account=account).values_list("pk", flat=True))


def test_a_full_sync_mirrors_every_record_of_the_account(connected):
    # given a connected account with 23 products (pages of 10, slices of at most 5 pages)
    connection, stream = connected["connection"], connected["connection"].streams.get()
    # when its stream runs to the end
    outcomes = run_until_done(stream)
    # then every product is mirrored once and the run says what it did
    assert outcomes == ["done"]
    assert mirrored_ids(connection) == product_ids(connected["account"])
    run = SyncRun.objects.get(stream=stream)
    assert (run.kind, run.status, run.pages, run.records_seen, run.records_created) == ("full", "succeeded", 3, 23, 23)
    assert run.calls == 6 and run.throttled == 0 and run.errors == 0  # per page: one search, one GET by ID set
    stream.refresh_from_db()
    assert stream.watermark is not None and stream.current_run is None and stream.cursor == {}
    assert stream.next_run_at > timezone.now() + timedelta(seconds=200)  # the spec's 300 s interval


def test_an_incremental_sync_picks_up_only_the_changes(connected):
    # given a completed full sync of products last changed an hour ago, and a webhook URL so that
    # changes become events
    connection, stream = connected["connection"], connected["connection"].streams.get()
    for i, pk in enumerate(Product.objects.values_list("pk", flat=True)):
        Product.objects.filter(pk=pk).update(updated_on=timezone.now() - timedelta(hours=1, minutes=i))
    run_until_done(stream)
    spec = connected["app"].sync_spec
    spec.webhook_url = "https://app.example.com/hooks"
    spec.save()
    # when two products change, one is added, and the next run is due
    changed = list(Product.objects.filter(account=connected["account"]).order_by("id")[:2])
    for product in changed:
        product.name += " (new edition)"
        product.save()
    seed_products(connected["account"], 1, start=500)
    SyncStream.objects.filter(pk=stream.pk).update(next_run_at=timezone.now())
    outcomes = run_until_done(stream)
    # then an incremental run reads one page and records exactly those three changes
    assert outcomes == ["done"]
    run = SyncRun.objects.filter(stream=stream).order_by("-id").first()
    assert (run.kind, run.records_created, run.records_updated, run.pages) == ("incremental", 1, 2, 1)
    events = ChangeEvent.objects.filter(connection=connection)
    assert sorted(events.values_list("kind", flat=True)) == ["created", "updated", "updated"]
    record = SyncRecord.objects.get(connection=connection, remote_id=str(changed[0].pk))
    assert record.payload["salesChannels"][0]["productName"] == changed[0].name
    assert len(mirrored_ids(connection)) == 24


def test_a_checkpoint_under_an_old_epoch_is_refused(connected):
    # given a slice that has leased the stream and checkpointed one page
    connection, stream = connected["connection"], connected["connection"].streams.get()
    old_epoch = lease(stream)
    stream.refresh_from_db()
    run = engine._start_run(stream, old_epoch)
    client = SyncClient(connection, redis_client=redis.Redis.from_url(redis_url()))
    product = engine.RESOURCES["product"]
    page = client.search(product, since=None, offset=0, page_size=10)
    records = client.records(product, [row["productId"] for row in page.rows])
    assert engine._checkpoint(stream, old_epoch, run, client, product, records,
                              engine.next_cursor({}, page.rows), emit_events=False) == (10, 0)
    # when its lease is taken over (a new dispatch, a new epoch) and the old slice writes again
    stream.refresh_from_db()
    new_epoch = lease(stream)
    second = client.search(product, since=stream.cursor["since"], offset=stream.cursor["offset"], page_size=10)
    refused = engine._checkpoint(stream, old_epoch, run, client, product,
                                 client.records(product, [row["productId"] for row in second.rows]),
                                 engine.next_cursor(stream.cursor, second.rows), emit_events=False)
    # then nothing of the old slice's page is written, and the new owner resumes from the checkpoint
    assert refused is None
    assert SyncRecord.objects.filter(connection=connection).count() == 10
    result = engine.run_slice(stream_id=stream.pk, epoch=new_epoch)
    assert result.outcome == "done" and result.pages == 2
    assert mirrored_ids(connection) == product_ids(connected["account"])
    assert SyncRun.objects.get(stream=stream).records_seen == 23


def test_many_callers_holding_an_expired_token_cause_exactly_one_refresh(connected):
    # given a connection whose access token has expired (on both sides)
    connection = connected["connection"]
    Connection.objects.filter(pk=connection.pk).update(token_expires_at=timezone.now() - timedelta(seconds=5))
    connected["installation"].access_tokens.update(expires=timezone.now() - timedelta(seconds=5))
    version = Connection.objects.get(pk=connection.pk).token_version
    # when 8 callers, each with its own client and copy of the connection, call the API at once
    refreshes, statuses, errors, barrier = [], [], [], threading.Barrier(8)

    def call():
        try:
            client = SyncClient(Connection.objects.select_related("app__user", "installation").get(pk=connection.pk),
                                redis_client=redis.Redis.from_url(redis_url()))
            barrier.wait()
            statuses.append(client.get("/product-service/product-search", params={"pageSize": 1}).status_code)
            refreshes.append(client.refreshes)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            db_connection.close()  # this thread's own database connection

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then exactly one refresh was sent, every call succeeded with the new token, nothing needs re-authorising
    assert errors == [] and statuses == [200] * 8
    assert sum(refreshes) == 1
    connection.refresh_from_db()
    assert connection.status == "active" and connection.token_version == version + 1
    assert RefreshToken.objects.filter(installation=connected["installation"]).count() == 2


def test_a_refused_refresh_needs_reauthorisation_and_reauthorising_resumes(connected, client):
    # given a sync that has read one slice, then loses its grant (refresh token revoked, access expired)
    connection, stream = connected["connection"], connected["connection"].streams.get()
    from django.test import override_settings

    with override_settings(SYNC_ENGINE={**settings.SYNC_ENGINE, "SLICE_MAX_PAGES": 1}):
        assert engine.run_slice(stream_id=stream.pk, epoch=lease(stream)).outcome == "more"
    connected["installation"].refresh_tokens.update(revoked=timezone.now())
    Connection.objects.filter(pk=connection.pk).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    # when the next slice runs
    stream.refresh_from_db()
    outcome = engine.run_slice(stream_id=stream.pk, epoch=lease(stream)).outcome
    # then the connection needs re-authorising, the owner and developer are told, and the cursor is kept
    connection.refresh_from_db()
    assert outcome == "reauth" and connection.status == Connection.Status.NEEDS_REAUTH
    assert "invalid_grant" in connection.status_reason
    told = set(Notification.objects.filter(subject__contains="needs re-authorising").values_list("user", flat=True))
    assert told == {connected["owner"].pk, connected["developer"].pk}
    stream.refresh_from_db()
    assert stream.cursor["offset"] == 10 or stream.cursor["since"]
    # when the owner re-authorises through the consent page and the portal's callback
    client.force_login(connected["owner"])
    consent_url = sync_services.reauthorize_url(connection=connection, actor=connected["owner"])
    assert client.get(consent_url).status_code == 200
    back = client.post(consent_url, {"decision": "allow"})
    origin = connected["connection"].api_base_url.split("/public-api")[0]
    assert back.status_code == 302 and back["Location"].startswith(origin)
    landed = client.get(back["Location"].split(origin)[1])
    # then the connection is active again and the same run resumes from its checkpoint to the end (the
    # portal dispatched it at once; Celery runs eagerly here)
    connection.refresh_from_db()
    assert landed.status_code == 302 and connection.status == Connection.Status.ACTIVE
    run = SyncRun.objects.get(stream=stream)
    assert (run.status, run.records_seen, run.records_created) == ("succeeded", 23, 23)
    assert mirrored_ids(connection) == product_ids(connected["account"])


def test_turning_the_app_off_stops_the_sync_before_its_next_call(connected):
    # given a connected account
    connection, stream = connected["connection"], connected["connection"].streams.get()
    # when the owner turns the app off
    from portal.installations import installation_turn_off

    installation_turn_off(installation=connected["installation"], actor=connected["owner"])
    # then the connection is disabled, the dispatcher skips it, and a slice already leased sends nothing
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISABLED
    assert _dispatch() == 0
    result = engine.run_slice(stream_id=stream.pk, epoch=lease(stream))
    assert result.outcome == "inactive" and not SyncRun.objects.filter(calls__gt=0).exists()


def test_a_throttled_call_pauses_the_whole_pool(connected, monkeypatch, settings):
    # given a server that answers the next call with 503 and Retry-After: 2
    from integrations import gateway
    from integrations.ratelimit import Decision

    original, refused = gateway._admit, []

    def admit_once_refused(pool):
        decision = original(pool)
        if not refused and pool.name.startswith("installation:"):
            refused.append(pool.name)
            return Decision(False, pool.limit, 0, 2000)
        return decision

    monkeypatch.setattr(gateway, "_admit", admit_once_refused)
    connection, stream = connected["connection"], connected["connection"].streams.get()
    # when a slice runs
    result = engine.run_slice(stream_id=stream.pk, epoch=lease(stream))
    # then it stops, counts the throttled call, and the stream waits the server's time
    assert result.outcome == "throttled"
    run = SyncRun.objects.get(stream=stream)
    assert (run.throttled, run.calls) == (1, 1)
    stream.refresh_from_db()
    assert stream.next_run_at > timezone.now() + timedelta(seconds=1)
    # and any other caller of the pool is held back as long
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "MAX_SLOT_WAIT_SECONDS": 0.5}
    other = SyncClient(connection, redis_client=redis.Redis.from_url(redis_url()))
    with pytest.raises(sync_client.PoolBusy) as busy:
        other._take_slot()
    assert 1.0 < busy.value.wait_s <= 2.0


def test_turning_on_a_managed_sync_app_in_the_store_connects_the_account(platform, client):
    # given a managed-sync app with early access for an account, and its owner signed in
    from portal import services
    from portal.models import App
    from tests.factories import AccountFactory, DeveloperFactory, MembershipFactory

    developer = DeveloperFactory(partner=True).user
    app, secret = services.app_register(actor=developer, app_ref="mirror-app", name="Mirror", short_description="M.",
                                        client_type=App.CLIENT_CONFIDENTIAL, redirect_uris="https://m.example.com/cb")
    owner = MembershipFactory(account=AccountFactory(code="outerheaven")).user
    account = owner.memberships.get().account
    services.early_access_add(app=app, account_code="outerheaven", actor=developer)
    sync_services.sync_spec_save(app=app, actor=developer, is_enabled=True, resources=["product"],
                                 interval_seconds=600, client_secret=secret)
    seed_products(account, 12)
    client.force_login(owner)
    # when the owner turns the app on and approves it on the consent page
    consent = client.post("/store/outerheaven/apps/mirror-app/turn-on/")
    assert consent.status_code == 302 and "redirect_uri=" in consent["Location"]
    assert client.get(consent["Location"]).status_code == 200
    back = client.post(consent["Location"], {"decision": "allow"})
    landed = client.get(back["Location"].replace(platform.url, ""))
    # then the portal exchanged the code itself, connected the account and ran the first sync
    connection = Connection.objects.get(app=app)
    assert landed.status_code == 302 and landed["Location"] == f"/sync/connections/{connection.pk}/"
    assert connection.status == "active" and connection.installation.account == account
    assert SyncRecord.objects.filter(connection=connection).count() == 12
    # and turning managed sync off stops dispatching it
    sync_services.sync_spec_save(app=app, actor=developer, is_enabled=False, resources=[], interval_seconds=600)
    SyncStream.objects.update(next_run_at=timezone.now())
    assert _dispatch() == 0


def test_a_refresh_whose_answer_was_lost_is_recovered_by_the_next_worker(connected):
    # given a worker that sent the refresh (the server rotated the pair) and died before storing the answer
    import requests

    from sync import crypto

    connection = connected["connection"]
    lost = requests.post(connection.token_url, data={
        "grant_type": "refresh_token", "refresh_token": crypto.decrypt(connection.refresh_token_encrypted),
        "client_id": connected["app"].client_id, "client_secret": connected["secret"]})
    assert lost.status_code == 200
    Connection.objects.filter(pk=connection.pk).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    # when the next worker refreshes with the refresh token it still has
    client = SyncClient(Connection.objects.get(pk=connection.pk), redis_client=redis.Redis.from_url(redis_url()))
    response = client.get("/product-service/product-search", params={"pageSize": 1})
    # then the server hands it a fresh pair (grace period; only checksums are stored, so the lost pair
    # cannot be sent again and is retired instead), and the sync goes on
    connection.refresh_from_db()
    assert response.status_code == 200 and connection.status == "active"
    assert crypto.decrypt(connection.access_token_encrypted) != lost.json()["access_token"]
    assert crypto.decrypt(connection.refresh_token_encrypted) != lost.json()["refresh_token"]
