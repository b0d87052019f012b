"""Streams of connections that are not active are parked (left out of the dispatcher's order index,
docs/scaling.md): every status change parks or unparks them in its transaction, a stream made for an inactive
connection is born parked, and the dispatcher never picks a parked stream."""

import pytest
from django.db import connection as db_connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from portal import installations, services
from portal.models import App
from sync import services as sync_services
from sync.dispatcher import pick_streams
from sync.models import Connection, SyncStream
from tests.factories import AccountFactory, AppFactory, DeveloperFactory, MembershipFactory, make_reviewer


@pytest.fixture
def world(db):
    """A managed-sync app (products and orders) turned on in an account, and its active connection."""
    developer = DeveloperFactory(partner=True).user
    app, secret = services.app_register(
        actor=developer, app_ref="park-app", name="Park App", short_description="Mirrors things.",
        client_type=App.CLIENT_CONFIDENTIAL, redirect_uris="https://app.example.com/callback")
    owner = MembershipFactory(account=AccountFactory(code="parkacct")).user
    account = owner.memberships.get().account
    services.early_access_add(app=app, account_code="parkacct", actor=developer)
    installation = installations.installation_turn_on(app=app, account=account, actor=owner)
    sync_services.sync_spec_save(app=app, actor=developer, is_enabled=True, resources=["product", "order"],
                                 interval_seconds=300, client_secret=secret)
    connection = sync_services.managed_connection_provision(installation=installation, actor=owner)
    return {"app": app, "secret": secret, "developer": developer, "owner": owner, "account": account,
            "installation": installation, "connection": connection}


def parked(connection) -> list[bool]:
    return list(SyncStream.objects.filter(connection=connection).order_by("resource").values_list("parked", flat=True))


def status(connection) -> str:
    return Connection.objects.values_list("status", flat=True).get(pk=connection.pk)


def picked(free: int = 10) -> set[int]:
    """The stream ids the dispatcher would lease now (rolled back)."""
    with transaction.atomic():
        ids = {stream_id for stream_id, _ in pick_streams(timezone.now(), free)}
        transaction.set_rollback(True)
    return ids


def test_pausing_parks_the_streams_and_resuming_unparks_them(world):
    connection, owner = world["connection"], world["owner"]
    # given an active connection, whose streams are not parked and are picked by the dispatcher
    streams = set(connection.streams.values_list("pk", flat=True))
    assert parked(connection) == [False, False] and picked() == streams
    # when the owner pauses it
    sync_services.connection_pause(connection=connection, actor=owner)
    # then its streams are parked and the dispatcher passes them by
    assert (status(connection), parked(connection)) == ("paused", [True, True])
    assert picked() == set()
    # and when the owner resumes it, they are unparked and picked again
    sync_services.connection_resume(connection=connection, actor=owner)
    assert (status(connection), parked(connection)) == ("active", [False, False])
    assert picked() == streams


def test_a_connection_needing_reauthorisation_is_parked_until_authorised_again(world):
    connection, owner = world["connection"], world["owner"]
    # when the engine finds the authorisation gone
    assert sync_services.connection_needs_reauth(connection=connection, reason="refresh refused")
    # then the streams are parked and not picked
    assert (status(connection), parked(connection)) == ("needs_reauth", [True, True])
    assert picked() == set()
    # and once the account authorises the app again, they are unparked and picked
    sync_services.managed_connection_provision(installation=world["installation"], actor=owner)
    assert (status(connection), parked(connection)) == ("active", [False, False])
    assert picked() == set(connection.streams.values_list("pk", flat=True))


def test_turning_the_app_off_parks_the_streams_and_turning_it_on_again_unparks_them(world):
    connection, owner = world["connection"], world["owner"]
    # when the owner turns the app off in the account
    installations.installation_turn_off(installation=world["installation"], actor=owner)
    # then the connection is disabled and its streams parked
    assert (status(connection), parked(connection)) == ("disabled", [True, True])
    assert picked() == set()
    # and turning it on again (and connecting) unparks them
    installation = installations.installation_turn_on(app=world["app"], account=world["account"], actor=owner)
    sync_services.managed_connection_provision(installation=installation, actor=owner)
    assert (status(connection), parked(connection)) == ("active", [False, False])


def test_suspending_the_app_parks_the_streams_of_every_connection(world):
    connection = world["connection"]
    other = Connection.objects.create(app=world["app"], kind="external", account_code="elsewhere", client_id="x",
                                      authorize_url="https://p.example/a", token_url="https://p.example/t",
                                      api_base_url="https://p.example/public-api/elsewhere")
    SyncStream.objects.create(connection=other, resource="product")
    # when a reviewer suspends the app
    services.app_suspend(app=world["app"], actor=make_reviewer(), reason="abuse")
    # then both connections are disabled and all their streams parked
    assert (status(connection), status(other)) == ("disabled", "disabled")
    assert (parked(connection), parked(other)) == ([True, True], [True])
    assert picked() == set()


def test_a_stream_made_for_an_inactive_connection_is_born_parked(world):
    connection, owner, developer = world["connection"], world["owner"], world["developer"]
    sync_services.connection_pause(connection=connection, actor=owner)
    # when the developer adds a resource while the connection is paused
    sync_services.sync_spec_save(app=world["app"], actor=developer, is_enabled=True,
                                 resources=["product", "order", "contact"], interval_seconds=300)
    # then the new stream is parked like the others, and resuming unparks all three
    assert parked(connection) == [True, True, True]
    sync_services.connection_resume(connection=connection, actor=owner)
    assert parked(connection) == [False, False, False]
    assert len(picked()) == 3


def test_the_dispatcher_does_not_pick_a_parked_stream(world):
    # given an active connection one of whose streams is parked (the mark alone, whatever the status)
    connection = world["connection"]
    order, product = connection.streams.order_by("resource")
    SyncStream.objects.filter(pk=order.pk).update(parked=True)
    # then only the other stream is picked
    assert picked() == {product.pk}


@pytest.mark.django_db(transaction=True)
def test_the_migration_parks_the_streams_of_inactive_connections():
    # given a database before parking, with a stream of an active connection and one of a paused one
    before, after = [("sync", "0003_dispatcher_indexes")], [("sync", "0004_parked_streams")]
    executor = MigrationExecutor(db_connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    app = AppFactory()  # the portal's tables are at their latest migration
    streams = {}
    for code, state in (("on", "active"), ("off", "paused")):
        row = old.get_model("sync", "Connection").objects.create(
            app_id=app.pk, kind="external", account_code=code, authorize_url="https://a.example",
            token_url="https://t.example", api_base_url=f"https://api.example/public-api/{code}", client_id="old",
            status=state)
        streams[state] = old.get_model("sync", "SyncStream").objects.create(connection=row, resource="product").pk
    # when the migration runs
    executor = MigrationExecutor(db_connection)
    executor.loader.build_graph()
    executor.migrate(after)
    # then only the paused connection's stream is parked
    new = executor.loader.project_state(after).apps.get_model("sync", "SyncStream")
    assert dict(new.objects.values_list("pk", "parked")) == {streams["active"]: False, streams["paused"]: True}
    executor = MigrationExecutor(db_connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
