"""The way usage alerts come in from the gateway: entries on the real Redis list ``usage:alerts`` in the limiter's
format, read by the consumer (and its beat task) into the portal's alerts."""

import logging
from datetime import datetime, timezone as dt_timezone

import pytest
from django.core import mail
from django.db import OperationalError, connection

from accounts.models import Account, Membership, Notification
from integrations import tasks
from integrations.redis_client import worker_redis
from integrations.usage_alert_consumer import ALERTS_KEY, MalformedEntry, consume_usage_alerts, parse_entry
from portal.models import App, Installation, UsageAlert
from tests.factories import AccountFactory, AppFactory, MembershipFactory

pytestmark = pytest.mark.django_db

AT = int(datetime(2026, 12, 1, 15, 42, 17, tzinfo=dt_timezone.utc).timestamp())
DAY = 86400


@pytest.fixture
def redis_client():
    client = worker_redis()
    client.delete(ALERTS_KEY)
    yield client
    client.delete(ALERTS_KEY)


@pytest.fixture
def installation():
    account = AccountFactory(code="outerheaven", name="Outer Heaven")
    MembershipFactory(account=account, role=Membership.Role.OWNER)
    MembershipFactory(account=account, role=Membership.Role.STAFF)
    return Installation.objects.create(app=AppFactory(client_id="demo-app", name="Demo App"), account=account)


def push(client, *entries):
    """Append entries as the limiter script does (RPUSH)."""
    client.rpush(ALERTS_KEY, *entries)


def entry(installation, level=80, at=AT, calls=160, limit=200) -> str:
    return f"{installation.pk}:{level}:{at}:{calls}:{limit}"


def people_told(installation):
    return sorted(Notification.objects.values_list("user__email", flat=True))


def test_an_entry_becomes_one_alert_told_once_and_leaves_the_list(redis_client, installation,
                                                                     django_capture_on_commit_callbacks):
    # given the same alert pushed twice (the limiter's Redis key was lost in between)
    push(redis_client, entry(installation), entry(installation, at=AT + 30, calls=170))

    # when the consumer runs
    with django_capture_on_commit_callbacks(execute=True):
        figures = consume_usage_alerts(client=redis_client)

    # then one alert, one set of notifications (developer and owner, not staff) and emails, and an empty list
    alert = UsageAlert.objects.get()
    assert (alert.installation, alert.level, alert.calls, alert.limit, alert.minute) == (
        installation, 80, 160, 200, datetime(2026, 12, 1, 15, 42, tzinfo=dt_timezone.utc))
    owner = installation.account.memberships.get(role=Membership.Role.OWNER).user
    assert people_told(installation) == sorted([installation.app.user.email, owner.email])
    assert len(mail.outbox) == 2
    assert figures == {"recorded": 1, "ignored": 1, "malformed": 0, "failed": 0, "stopped": False}
    assert redis_client.llen(ALERTS_KEY) == 0


def test_each_level_fires_once_a_day_and_again_the_next_day(redis_client, installation):
    # given both levels today, each twice (a second run, as if a worker had died before taking them off the list)
    push(redis_client, entry(installation, level=80), entry(installation, level=100, at=AT + 5, calls=200))
    consume_usage_alerts(client=redis_client)
    push(redis_client, entry(installation, level=80, at=AT + 600), entry(installation, level=100, at=AT + 605))
    consume_usage_alerts(client=redis_client)
    told_today = Notification.objects.count()

    # when the next day comes
    push(redis_client, entry(installation, level=80, at=AT + DAY), entry(installation, level=80, at=AT + DAY + 1))
    consume_usage_alerts(client=redis_client)

    # then two alerts today, one more tomorrow; two people told per alert
    assert sorted((a.day.isoformat(), a.level) for a in UsageAlert.objects.all()) == [
        ("2026-12-01", 80), ("2026-12-01", 100), ("2026-12-02", 80)]
    assert told_today == 4
    assert Notification.objects.count() == 6


def test_muting_the_app_stops_the_developers_alerts(redis_client, installation):
    App.objects.filter(pk=installation.app_id).update(usage_alerts_muted=True)
    push(redis_client, entry(installation))

    consume_usage_alerts(client=redis_client)

    owner = installation.account.memberships.get(role=Membership.Role.OWNER).user
    assert people_told(installation) == [owner.email]


def test_muting_the_account_stops_the_owners_alerts(redis_client, installation):
    Account.objects.filter(pk=installation.account_id).update(usage_alerts_muted=True)
    push(redis_client, entry(installation, level=100, calls=200))

    consume_usage_alerts(client=redis_client)

    assert people_told(installation) == [installation.app.user.email]


MALFORMED = [
    "", "garbage", "1:80:1764603737:160", "1:80:1764603737:160:200:7", "1:90:1764603737:160:200",
    "1:080:1764603737:160:200", "0:80:1764603737:160:200", "-1:80:1764603737:160:200", "1:80:-5:160:200",
    "1:80:1764603737:160:0", "1:80:1764603737: 160:200", "1:80:1764603737:160:200\n", "1:80:1.5:160:200",
    "1:80:1764603737:1e3:200", "1:80:99999999999999:160:200", "1:80:1764603737:160:99999999999",
    "1234567890123456789:80:1764603737:160:200", "١:80:1764603737:160:200",
]


@pytest.mark.parametrize("raw", [*MALFORMED, b"1:80:1764603737:160:200" + b"\xff"])
def test_parse_entry_refuses_anything_but_the_contract(raw):
    with pytest.raises(MalformedEntry):
        parse_entry(raw)


def test_parse_entry_reads_the_contract():
    parsed = parse_entry(b"42:100:1764603737:200:200")
    assert (parsed.installation_id, parsed.level, parsed.calls, parsed.limit) == (42, 100, 200, 200)
    assert parsed.at == datetime.fromtimestamp(1764603737, tz=dt_timezone.utc)


def test_malformed_entries_are_logged_and_dropped_and_the_good_ones_recorded(redis_client, installation, caplog):
    # given malformed entries around a good one, and one for an installation that does not exist
    push(redis_client, *MALFORMED[:8], entry(installation), b"\xff\xfe binary", *MALFORMED[8:],
         f"{installation.pk + 1000}:80:{AT}:160:200")

    # when the consumer runs
    with caplog.at_level(logging.WARNING, logger="integrations.usage_alert_consumer"):
        figures = consume_usage_alerts(client=redis_client)

    # then the good one is recorded, each malformed one logged and dropped, the unknown one dropped quietly
    assert UsageAlert.objects.count() == 1
    assert figures["recorded"] == 1 and figures["malformed"] == len(MALFORMED) + 1 and figures["ignored"] == 1
    assert redis_client.llen(ALERTS_KEY) == 0
    dropped = [record for record in caplog.records if "dropped a malformed entry" in record.getMessage()]
    assert len(dropped) == len(MALFORMED) + 1


def test_a_run_is_bounded_and_the_rest_waits_for_the_next(redis_client):
    # given more entries than one run takes (for installations that do not exist: the cheapest path)
    push(redis_client, *(f"{900000 + n}:80:{AT}:160:200" for n in range(25)))

    first = consume_usage_alerts(client=redis_client, max_entries=10, batch=4)
    assert first["ignored"] == 10 and redis_client.llen(ALERTS_KEY) == 15
    second = consume_usage_alerts(client=redis_client, max_entries=100, batch=4)
    assert second["ignored"] == 15 and redis_client.llen(ALERTS_KEY) == 0
    assert consume_usage_alerts(client=redis_client)["ignored"] == 0


def test_when_the_database_fails_the_entries_stay_for_the_next_run(redis_client, installation):
    push(redis_client, entry(installation), entry(installation, level=100, calls=200))

    def refuse_alert_rows(execute, sql, params, many, context):
        if "portal_usagealert" in sql:
            raise OperationalError("the database went away")
        return execute(sql, params, many, context)

    # when the database refuses the alert rows
    with connection.execute_wrapper(refuse_alert_rows):
        failed = consume_usage_alerts(client=redis_client)

    # then the run stops, nothing is recorded or told, and both entries are still on the list
    assert failed["stopped"] is True and failed["recorded"] == 0
    assert redis_client.llen(ALERTS_KEY) == 2
    assert not UsageAlert.objects.exists() and not Notification.objects.exists()

    # and the next run, with the database back, records them
    assert consume_usage_alerts(client=redis_client)["recorded"] == 2
    assert redis_client.llen(ALERTS_KEY) == 0


def test_the_beat_task_runs_the_consumer_every_ten_seconds(redis_client, installation, settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["usage-alerts"]
    assert (schedule["task"], schedule["schedule"]) == ("integrations.tasks.usage_alerts", 10.0)
    push(redis_client, entry(installation), "not an entry")

    tasks.usage_alerts.delay()

    assert UsageAlert.objects.filter(installation=installation).count() == 1
    assert redis_client.llen(ALERTS_KEY) == 0
