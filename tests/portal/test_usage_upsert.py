"""Writing per-minute usage rows (portal/usage_upsert.py, through portal.usage's services): absolute upserts that
leave unchanged rows alone, skip owners that are gone, and stay right when several writers overlap. Each test
runs on the database of DATABASE_URL; the PostgreSQL path (json_to_recordset, ON CONFLICT ... WHERE) and the
ORM path (SQLite) must behave alike."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from portal.models import Installation, StaffUsageMinute, UsageMinute
from portal.usage import staff_usage_minutes_record, usage_minutes_record
from tests.factories import AccountFactory, AppFactory

pytestmark = pytest.mark.django_db


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def this_minute():
    return timezone.now().replace(second=0, microsecond=0)


def row_version(installation_id, minute):
    """PostgreSQL's xmin: the transaction that last wrote the row (it changes whenever the row is rewritten)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT xmin::text FROM {UsageMinute._meta.db_table} WHERE installation_id = %s "
                       "AND minute = %s", [installation_id, minute])
        return cursor.fetchone()[0]


@pytest.fixture
def installations():
    app = AppFactory()
    return [Installation.objects.create(app=app, account=AccountFactory()) for _ in range(3)]


def test_unchanged_minutes_are_not_written_again(installations):
    # given two minutes of three installations, stored once
    minute = this_minute()
    counts = {(one.pk, minute - timedelta(minutes=offset)): {"calls": 4 + offset, "endpoints": {"GET a single": 3}}
              for one in installations for offset in (0, 1)}
    assert usage_minutes_record(counts=counts) == 6
    before = row_version(installations[0].pk, minute) if on_postgresql() else None

    # when the same figures come again (the next pass re-reads its grace period)
    written = usage_minutes_record(counts=dict(counts))

    # then nothing is written, and the rows are as they were
    assert written == 0
    assert UsageMinute.objects.count() == 6
    if on_postgresql():
        assert row_version(installations[0].pk, minute) == before


def test_a_minute_that_got_more_calls_later_is_written(installations):
    # given a stored minute
    one, minute = installations[0], this_minute()
    usage_minutes_record(counts={(one.pk, minute): {"calls": 2, "endpoints": {"GET a single": 2}}})

    # when the minute went on: more calls; then only a new endpoint; then the same endpoints in another order
    more = usage_minutes_record(counts={(one.pk, minute): {"calls": 5, "endpoints": {"GET a single": 2}}})
    detail = usage_minutes_record(counts={(one.pk, minute): {
        "calls": 5, "endpoints": {"GET a single": 2, "GET b collection": 3}}})
    reordered = usage_minutes_record(counts={(one.pk, minute): {
        "calls": 5, "endpoints": {"GET b collection": 3, "GET a single": 2}}})

    # then the first two are written, the third is the same row
    assert (more, detail, reordered) == (1, 1, 0)
    row = UsageMinute.objects.get(installation=one, minute=minute)
    assert (row.calls, row.endpoints) == (5, {"GET a single": 2, "GET b collection": 3})


def test_a_figure_going_down_is_written_too(installations):
    # the writes are absolute: whatever the counters say is stored, even less than before
    one, minute = installations[0], this_minute()
    usage_minutes_record(counts={(one.pk, minute): (9, 2)})
    assert usage_minutes_record(counts={(one.pk, minute): (9, 0)}) == 1
    assert UsageMinute.objects.get(installation=one).throttled == 0


def test_rows_of_installations_and_accounts_that_are_gone_are_skipped(installations):
    # given
    minute = this_minute()
    gone = max(one.pk for one in installations) + 1000
    account = installations[0].account

    # when
    written = usage_minutes_record(counts={(gone, minute): (3, 0), (installations[0].pk, minute): (1, 0)},
                                   last_calls={gone: minute})
    staff = staff_usage_minutes_record(counts={(account.pk + 1000, minute): (3, 0), (account.pk, minute): (2, 0)})

    # then
    assert (written, staff) == (1, 1)
    assert list(UsageMinute.objects.values_list("installation_id", flat=True)) == [installations[0].pk]
    assert list(StaffUsageMinute.objects.values_list("account_id", "calls")) == [(account.pk, 2)]


def test_staff_minutes_that_did_not_change_are_not_written_again(installations):
    account, minute = installations[0].account, this_minute()
    assert staff_usage_minutes_record(counts={(account.pk, minute): {"calls": 3, "status_4xx": 1}}) == 1
    assert staff_usage_minutes_record(counts={(account.pk, minute): {"calls": 3, "status_4xx": 1}}) == 0
    assert staff_usage_minutes_record(counts={(account.pk, minute): {"calls": 4, "status_4xx": 1}}) == 1
    assert StaffUsageMinute.objects.get(account=account).calls == 4


def test_last_call_at_only_moves_forward(installations):
    # given one installation with a later call stored than the one written now, one with none
    minute = this_minute()
    later, none = installations[0], installations[1]
    Installation.objects.filter(pk=later.pk).update(last_call_at=minute + timedelta(seconds=30))

    # when
    usage_minutes_record(counts={(later.pk, minute): (1, 0), (none.pk, minute): (1, 0)},
                         last_calls={later.pk: minute + timedelta(seconds=5), none.pk: minute + timedelta(seconds=5)})

    # then
    later.refresh_from_db()
    none.refresh_from_db()
    assert later.last_call_at == minute + timedelta(seconds=30)
    assert none.last_call_at == minute + timedelta(seconds=5)


@pytest.mark.django_db(transaction=True)
def test_overlapping_writers_store_the_same_rows_without_deadlock():
    # given 200 installations, and four writers (as overlapping rollup shards) with the same minutes in
    # different orders and different latest-call times
    app = AppFactory()
    ids = [Installation.objects.create(app=app, account=AccountFactory()).pk for _ in range(200)]
    minute = this_minute()
    counts = {(pk, minute - timedelta(minutes=offset)): {"calls": pk % 13 + offset, "endpoints": {"GET a single": 1}}
              for pk in ids for offset in range(3)}
    items = list(counts.items())
    errors = []

    def write(order, seconds):
        try:
            usage_minutes_record(counts=dict(order),
                                 last_calls={pk: minute + timedelta(seconds=seconds) for pk in ids})
        except Exception as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)
        finally:
            if on_postgresql():
                connections.close_all()

    writers = [threading.Thread(target=write, args=(order, seconds)) for order, seconds in
               ((items, 10), (items[::-1], 40), (items[1::2] + items[::2], 20), (items[::-1], 30))]

    # when they run at once (on PostgreSQL; SQLite takes one writer at a time, so there they run one by one)
    if on_postgresql():
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=60)
    else:
        for writer in writers:
            writer.run()

    # then no writer failed, every row is there once with its figures, and last_call_at is the latest given
    assert errors == []
    stored = {(row.installation_id, row.minute): row.calls for row in UsageMinute.objects.all()}
    assert stored == {key: figures["calls"] for key, figures in counts.items()}
    assert set(Installation.objects.filter(pk__in=ids).values_list("last_call_at", flat=True)) == {
        minute + timedelta(seconds=40)}
