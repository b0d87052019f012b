"""The client believes the server's throttle headers, backs off on 5xx, and the dispatcher takes turns;
an external Brightpearl-protocol account connected through the OAuth code flow."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from django.test import Client
from django.utils import timezone

from integrations import api_views
from integrations.ratelimit import SlidingLogLimiter
from portal.models import App
from sync import client as sync_client, engine, services as sync_services
from sync.client import SyncClient
from sync.dispatcher import _dispatch
from sync.models import Connection, SyncRecord, SyncRun, SyncStream
from tests.sync.conftest import redis_url, seed_products
from tests.sync.test_engine import lease


def test_the_client_slows_down_when_the_server_says_less_is_left(connected, settings):
    # given the app itself has already used 596 of its installation's 600 calls in this minute
    connection = connected["connection"]
    pool = connection.pool_name
    limiter = SlidingLogLimiter(redis.Redis.from_url(redis_url()))
    for _ in range(596):
        limiter.hit(pool, limit=600, window_s=60)
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "MAX_SLOT_WAIT_SECONDS": 1}
    client = SyncClient(connection, redis_client=redis.Redis.from_url(redis_url()))
    # when the engine makes one call (our pace alone would allow another 0.1 s later)
    response = client.get("/product-service/product-search", params={"pageSize": 1})
    # then it believes the server's remaining count (3 left for most of a minute) and holds the pool back
    assert int(response.headers["brightpearl-requests-remaining"]) == 3
    with pytest.raises(sync_client.PoolBusy) as busy:
        client.get("/product-service/product-search", params={"pageSize": 1})
    assert busy.value.wait_s > 30


def test_server_errors_back_off_with_jitter_then_fail_the_run_keeping_the_cursor(connected, monkeypatch, settings):
    # given an API that answers 500 to every search
    monkeypatch.setattr(api_views.resources, "search", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "MAX_FAILURES": 3, "BACKOFF_BASE_SECONDS": 1}
    stream = connected["connection"].streams.get()
    SyncStream.objects.filter(pk=stream.pk).update(cursor={"since": "2026-01-01T00:00:00.000Z", "offset": 4})
    # when slices run three times
    delays = []
    for attempt in range(3):
        stream.refresh_from_db()
        before = timezone.now()
        outcome = engine.run_slice(stream_id=stream.pk, epoch=lease(stream)).outcome
        stream.refresh_from_db()
        delays.append((stream.next_run_at - before).total_seconds())
        assert outcome == ("retry" if attempt < 2 else "failed")
    # then the first waits were random within the growing cap, the run failed with the reason, and the
    # cursor is kept for the next run
    assert 0 <= delays[0] <= 2.1 and 0 <= delays[1] <= 4.1
    run = SyncRun.objects.get(stream=stream)
    assert run.status == "failed" and run.errors == 3 and "500" in run.last_error
    assert stream.cursor == {"since": "2026-01-01T00:00:00.000Z", "offset": 4}
    assert stream.current_run is None and stream.failures == 0


def test_the_dispatcher_gives_every_stream_its_turn(connected, settings, monkeypatch):
    # given a huge account's stream dispatched a moment ago and three small accounts never dispatched,
    # with room for two slices
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "MAX_IN_FLIGHT": 2}
    huge = connected["connection"].streams.get()
    SyncStream.objects.filter(pk=huge.pk).update(last_dispatched_at=timezone.now() - timedelta(seconds=1))
    small = []
    for code in ("small-a", "small-b", "small-c"):
        other = Connection.objects.create(app=connected["app"], kind="external", account_code=code, client_id="x",
                                          authorize_url="https://p.example/a", token_url="https://p.example/t",
                                          api_base_url=f"https://p.example/public-api/{code}")
        small.append(SyncStream.objects.create(connection=other, resource="product"))
    # when the dispatcher runs (what it would enqueue is recorded instead of sent)
    from sync import dispatcher

    sent = []
    monkeypatch.setattr(dispatcher, "_enqueue", sent.extend)
    first = _dispatch()
    second = _dispatch()  # no free place left
    # then the two streams that waited longest go first, each leased with a new epoch, and nothing more
    assert (first, second) == (2, 0)
    assert [stream_id for stream_id, _ in sent] == [small[0].pk, small[1].pk]
    assert all(epoch == 1 for _, epoch in sent)


def test_a_developer_connects_an_external_account_through_its_consent_page(connected, platform):
    # given the provider is a Brightpearl-protocol platform (here: this portal on a live server) where the
    # developer's app is registered with the portal's callback as a redirect URI
    app, developer, owner = connected["app"], connected["developer"], connected["owner"]
    callback = sync_services.callback_uri()
    assert callback in App.objects.get(pk=app.pk).redirect_uri_list  # added when managed sync was enabled
    seed_products(connected["account"], 2, start=900)
    developer_browser, owner_browser = Client(), Client()
    developer_browser.force_login(developer)
    owner_browser.force_login(owner)
    # when the developer registers the account and is sent to the provider's consent page
    connection, consent_url = sync_services.external_connection_start(
        app=app, actor=developer, name="Outer Heaven (external)", account_code="outerheaven",
        authorize_url=f"{platform.url}/oauth/authorize/outerheaven",
        token_url=f"{platform.url}/oauth/token/outerheaven",
        api_base_url=f"{platform.url}/public-api/outerheaven", client_id=app.client_id,
        client_secret=connected["secret"], rate_limit=600, rate_window_seconds=60)
    assert connection.status == "needs_reauth"
    # and the account's owner approves there; the browser comes back to the portal with a code
    path = consent_url.replace(platform.url, "")
    assert owner_browser.get(path).status_code == 200
    back = owner_browser.post(path, {"decision": "allow"})
    code = parse_qs(urlsplit(back["Location"]).query)
    landed = developer_browser.get(back["Location"].replace(platform.url, ""))
    # then the portal exchanged the code with requests-oauthlib, and the connection syncs (eagerly here)
    connection.refresh_from_db()
    assert "code" in code and landed.status_code == 302
    assert connection.status == "active" and connection.kind == "external" and connection.token_version == 1
    assert SyncRecord.objects.filter(connection=connection).count() == 25


def test_bad_external_connection_input_changes_nothing(connected):
    with pytest.raises(Exception) as refused:
        sync_services.external_connection_start(
            app=connected["app"], actor=connected["developer"], name="x", account_code="", authorize_url="nope",
            token_url="ftp://x", api_base_url="", client_id="", client_secret="", rate_limit=0, rate_window_seconds=60)
    assert set(refused.value.message_dict) >= {"authorize_url", "token_url", "api_base_url", "account_code",
                                               "client_id", "rate_limit"}
    assert Connection.objects.filter(kind="external").count() == 0


def test_a_stream_waiting_for_its_pool_gives_its_worker_back_and_returns_before_its_slot(connected, settings):
    # given a pool whose next free slot is 10 s away (slices may wait 2 s in a worker)
    from integrations.ratelimit import PacedReserver

    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "MAX_SLOT_WAIT_SECONDS": 2}
    PacedReserver(redis.Redis.from_url(redis_url())).pause(connected["connection"].pool_name, seconds=10)
    stream = connected["connection"].streams.get()
    # when a slice runs
    started = timezone.now()
    result = engine.run_slice(stream_id=stream.pk, epoch=lease(stream))
    # then it sends nothing, holds no lease, and the stream is due 1.75 s before the slot
    stream.refresh_from_db()
    assert result.outcome == "waiting" and SyncRun.objects.get(stream=stream).calls == 0
    assert stream.lease_expires_at is None
    assert 7.5 <= (stream.next_run_at - started).total_seconds() <= 8.3
