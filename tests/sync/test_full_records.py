"""Runs read real Brightpearl records: a search page gives the ids (sorted by updatedOn, then id), full
records come from GETs by compact ID sets of at most IDSET_MAX ids, and the mirror and the change events
hold what GET returned. Against the built-in API, the gateway in forwarding mode, and an external account."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from integrations import api_views, idsets
from integrations.models import Contact, Order, Product
from sync import client as sync_client, engine, services as sync_services
from sync.models import ChangeEvent, SyncRecord, SyncRun
from tests.sync.brightpearl_upstream import BrightpearlUpstream
from tests.sync.conftest import seed_products
from tests.sync.test_engine import lease, mirrored_ids, product_ids, run_until_done


@pytest.fixture
def api_log(monkeypatch):
    """What the built-in API was asked: ("search", query) and ("product" | "contact" | "order", ID set)."""
    calls = []

    def recording(name, handler):
        def handle(request, caller, **kwargs):
            calls.append(("search", request.GET.dict()) if name == "search" else (name, kwargs["ids"]))
            return handler(request, caller, **kwargs)
        return handle

    for key, name in (("search", "search"), ("products", "product"), ("contacts", "contact"), ("orders", "order")):
        monkeypatch.setitem(api_views.HANDLERS, key, recording(name, api_views.HANDLERS[key]))
    return calls


def test_the_mirror_holds_the_full_get_record_of_every_resource(connected, settings):
    # given an account with products, contacts and orders, and an app that mirrors all three with a webhook
    account = connected["account"]
    contacts = Contact.objects.bulk_create([Contact(account=account, first_name="Ann", last_name=f"Lee {i}",
                                                    email=f"ann{i}@example.com") for i in range(4)])
    Order.objects.bulk_create([Order(account=account, contact=contacts[i], reference=f"SO-{i}",
                                     placed_on=timezone.now()) for i in range(3)])
    sync_services.sync_spec_save(app=connected["app"], actor=connected["developer"], is_enabled=True,
                                 resources=["product", "contact", "order"], interval_seconds=300,
                                 webhook_url="https://app.example.com/hooks")
    connection = connected["connection"]
    # when every stream runs to the end
    for stream in connection.streams.all():
        assert run_until_done(stream) == ["done"]
    # then the mirror holds the records as GET returns them (nested fields included), keyed by their ids
    product = Product.objects.filter(account=account).order_by("id").first()
    record = SyncRecord.objects.get(connection=connection, resource="product", remote_id=str(product.pk))
    assert record.payload["id"] == product.pk
    assert record.payload["identity"]["sku"] == product.sku
    assert record.payload["salesChannels"][0]["productName"] == product.name
    assert record.payload["stock"]["stockTracked"] is True and "taxCode" in record.payload["financialDetails"]
    assert record.remote_updated_at == product.updated_on.replace(microsecond=product.updated_on.microsecond // 1000
                                                                  * 1000)
    contact = SyncRecord.objects.get(connection=connection, resource="contact", remote_id=str(contacts[0].pk))
    assert contact.payload["contactId"] == contacts[0].pk
    assert contact.payload["communication"]["emails"]["PRI"]["email"] == "ann0@example.com"
    orders = SyncRecord.objects.filter(connection=connection, resource="order")
    assert orders.count() == 3
    assert {o.payload["parties"]["customer"]["contactId"] for o in orders} == {c.pk for c in contacts[:3]}
    assert all(o.remote_updated_at is not None for o in orders)  # updatedOn, or createdOn when never updated
    # and the change events carry the same full records
    event = ChangeEvent.objects.get(connection=connection, resource="product", remote_id=str(product.pk))
    assert event.payload == record.payload


def test_a_page_is_read_by_compact_id_sets_of_at_most_idset_max(connected, settings, api_log):
    # given 23 products with gaps in their ids, pages of 10 and ID sets of at most 4 ids
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "PAGE_SIZE": 10, "IDSET_MAX": 4}
    account = connected["account"]
    seed_products(account, 7, start=100)
    Product.objects.filter(pk__in=list(Product.objects.filter(account=account).values_list("pk", flat=True))[2::5]) \
        .delete()
    stream = connected["connection"].streams.get()
    # when the stream runs
    assert run_until_done(stream) == ["done"]
    # then each search page of 10 was followed by GETs of 4 + 4 + 2 ids, naming exactly the page's ids, as
    # compact ID sets; every call counts in the run's figures
    assert mirrored_ids(connected["connection"]) == product_ids(account)
    searches = [query for kind, query in api_log if kind == "search"]
    assert [q["sort"] for q in searches] == ["updatedOn.ASC"] * 3
    ordered = list(Product.objects.filter(account=account).order_by("updated_on", "id").values_list("id", flat=True))
    chunks = [ids for kind, ids in api_log if kind == "product"]
    expected = [ordered[at:at + 10][part:part + 4] for at in range(0, 24, 10) for part in range(0, 10, 4)]
    expected = [chunk for chunk in expected if chunk]
    assert chunks == [idsets.compact(chunk) for chunk in expected]
    assert any("-" in chunk for chunk in chunks) and any("," in chunk for chunk in chunks)
    run = SyncRun.objects.get(stream=stream)
    assert (run.pages, run.records_seen, run.records_created) == (3, 24, 24)
    assert run.calls == 3 + len(chunks) == 3 + 3 + 3 + 1


def test_records_deleted_between_search_and_get_are_skipped(connected, monkeypatch, api_log):
    # given an API where, right after each search, one product of the page is deleted, and the whole
    # last page (three products) is deleted after its search (its GET then answers 404)
    account = connected["account"]
    ordered = list(Product.objects.filter(account=account).order_by("id").values_list("id", flat=True))
    for i, pk in enumerate(ordered):  # one updatedOn each (a deleted row that ties with the cursor shifts the rest)
        Product.objects.filter(pk=pk).update(updated_on=timezone.now() - timedelta(minutes=100 - i))
    doomed = {1: [ordered[0]], 2: [ordered[10]], 3: ordered[20:]}
    search = api_views.HANDLERS["search"]
    searches = []

    def search_then_delete(request, caller, **kwargs):
        response = search(request, caller, **kwargs)
        searches.append(1)
        Product.objects.filter(pk__in=doomed.get(len(searches), [])).delete()
        return response

    monkeypatch.setitem(api_views.HANDLERS, "search", search_then_delete)
    stream = connected["connection"].streams.get()
    # when the stream runs
    outcomes = run_until_done(stream)
    # then the run completes without an error and mirrors exactly the products that still exist
    assert outcomes == ["done"]
    assert mirrored_ids(connected["connection"]) == product_ids(account)
    run = SyncRun.objects.get(stream=stream)
    assert (run.status, run.errors, run.pages, run.records_seen) == ("succeeded", 0, 3, 23 - 5)
    assert run.calls == 6


def test_a_slice_that_cannot_get_the_records_leaves_them_to_the_next_without_searching_again(connected, monkeypatch,
                                                                                              api_log):
    # given a pool with no slot for the first GET after the first search
    original, refused = sync_client.SyncClient.records, []

    def no_slot_once(self, resource, ids):
        if not refused:
            refused.append(ids)
            raise sync_client.PoolBusy(3.0)
        return original(self, resource, ids)

    monkeypatch.setattr(sync_client.SyncClient, "records", no_slot_once)
    connection, stream = connected["connection"], connected["connection"].streams.get()
    # when a slice runs, then the next
    assert engine.run_slice(stream_id=stream.pk, epoch=lease(stream)).outcome == "waiting"
    stream.refresh_from_db()
    assert stream.cursor["pending"]["ids"] == refused[0] and len(refused[0]) == 10
    assert stream.cursor["since"] is None and stream.cursor["offset"] == 0
    assert run_until_done(stream) == ["done"]
    # then the page's GET came next, not its search again: three searches, three GETs, in that order
    assert [kind for kind, _ in api_log] == ["search", "product"] * 3
    assert mirrored_ids(connection) == product_ids(connected["account"])
    assert SyncRun.objects.get(stream=stream).calls == 6


def test_forwarding_mode_reads_the_upstream_brightpearl_records(connected, settings):
    # given the gateway forwards the account API to an upstream Brightpearl-protocol service whose records
    # have non-consecutive ids and timestamps in the account's UTC offset (-06:00)
    with BrightpearlUpstream() as upstream:
        upstream.add_products(25)
        settings.PORTAL = {**settings.PORTAL, "UPSTREAM_API_URL": upstream.url, "UPSTREAM_TIMEOUT_SECONDS": 5}
        stream = connected["connection"].streams.get()
        # when the managed connection syncs (pages of 10, through the gateway)
        assert run_until_done(stream) == ["done"]
    # then the mirror holds the upstream's full records, read by search + compact ID set GETs
    connection = connected["connection"]
    assert mirrored_ids(connection) == sorted(str(pk) for pk in upstream.products)
    record = SyncRecord.objects.get(connection=connection, remote_id="1003")
    assert record.payload == upstream.products[1003]
    assert record.remote_updated_at.isoformat() == "2022-01-26T10:39:47+00:00"
    paths = [urlsplit(path) for path in upstream.paths]
    assert [p.path.split("/")[4] for p in paths] == ["product-search", "product"] * 3
    assert paths[1].path.endswith("/outerheaven/product-service/product/1000,1002-1003,1005-1006,1008-1009,"
                                  "1011-1012,1014")
    second = parse_qs(paths[2].query)
    assert second["updatedOn"] == ["2022-01-26T04:39:50.000-06:00/"] and second["firstResult"] == ["3"]
    run = SyncRun.objects.get(stream=stream)
    assert (run.records_seen, run.calls, run.errors) == (25, 6, 0)


def test_an_external_brightpearl_account_is_mirrored_with_full_records(connected, platform):
    # given an external connection to a Brightpearl-protocol account (here: the portal on a live server)
    from django.test import Client

    app, developer, owner = connected["app"], connected["developer"], connected["owner"]
    seed_products(connected["account"], 2, start=900)
    connection, consent_url = sync_services.external_connection_start(
        app=app, actor=developer, name="Outer Heaven (external)", account_code="outerheaven",
        authorize_url=f"{platform.url}/oauth/authorize/outerheaven",
        token_url=f"{platform.url}/oauth/token/outerheaven", api_base_url=f"{platform.url}/public-api/outerheaven",
        client_id=app.client_id, client_secret=connected["secret"], rate_limit=600, rate_window_seconds=60)
    owner_browser, developer_browser = Client(), Client()
    owner_browser.force_login(owner)
    developer_browser.force_login(developer)
    path = consent_url.replace(platform.url, "")
    assert owner_browser.get(path).status_code == 200
    back = owner_browser.post(path, {"decision": "allow"})
    # when the developer's browser lands on the portal's callback (the first sync runs eagerly)
    developer_browser.get(back["Location"].replace(platform.url, ""))
    # then the external connection mirrors the full records by search pages and ID-set GETs
    connection.refresh_from_db()
    assert connection.status == "active"
    records = SyncRecord.objects.filter(connection=connection)
    assert sorted(records.values_list("remote_id", flat=True)) == product_ids(connected["account"])
    assert all(r.payload["salesChannels"][0]["productName"] and r.payload["identity"]["sku"] for r in records)
    run = SyncRun.objects.get(connection=connection)
    assert (run.pages, run.records_seen, run.calls) == (3, 25, 6)  # per page: a search and a GET by ID set


def test_a_slice_whose_stream_was_dispatched_again_while_it_waited_sends_nothing(connected, monkeypatch, api_log):
    # given a slice that, while it waits for its slot, loses its stream to a new dispatch (its lease expired)
    stream = connected["connection"].streams.get()
    epoch = lease(stream)
    take_slot = sync_client.SyncClient._take_slot

    def slow_slot(self):
        take_slot(self)
        lease(type(stream).objects.get(pk=stream.pk))

    monkeypatch.setattr(sync_client.SyncClient, "_take_slot", slow_slot)
    # when it goes on
    result = engine.run_slice(stream_id=stream.pk, epoch=epoch)
    # then it sends no call and writes nothing; the stream is the new slice's
    assert result.outcome == "fenced" and api_log == []
    assert SyncRun.objects.get(stream=stream).calls == 0
    assert not SyncRecord.objects.exists()
