"""Usage alerts (issue 11, section 3): the service that records an alert once a day per installation and level and
tells the developer and the account's owners, and the mutes per app and per account with their pages. The way in
from the gateway (the Redis list) is tested in tests/integrations/test_usage_alert_consumer.py."""

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import services as account_services
from accounts.audit_text import event_sentence
from accounts.models import Account, AuditEvent, Membership, Notification
from portal.models import App, Installation, UsageAlert
from portal.usage_alerts import app_usage_alerts_mute, record_usage_alert
from tests.factories import AccountFactory, AppFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 1, 15, 42, 17, tzinfo=dt_timezone.utc)


@pytest.fixture
def installation():
    """demo-app in outerheaven, which has two owners, an admin and a staff member."""
    account = AccountFactory(code="outerheaven", name="Outer Heaven")
    for role in (Membership.Role.OWNER, Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.STAFF):
        MembershipFactory(account=account, role=role)
    return Installation.objects.create(app=AppFactory(client_id="demo-app", name="Demo App"), account=account)


def owners(installation):
    return {m.user for m in installation.account.memberships.filter(role=Membership.Role.OWNER)}


def told(installation) -> dict:
    """Who got which inbox rows: user -> [(subject, link)]."""
    rows = {}
    for notification in Notification.objects.order_by("id"):
        rows.setdefault(notification.user, []).append((notification.subject, notification.link))
    return rows


def record(installation, level=80, at=AT, calls=160, limit=200):
    return record_usage_alert(installation_id=installation.pk, level=level, at=at, calls=calls, limit=limit)


# --- record_usage_alert -------------------------------------------------------------------------------------------

def test_an_alert_tells_the_developer_and_each_owner_once_with_links(installation, django_capture_on_commit_callbacks):
    # when the installation reaches 80% of its limit
    with django_capture_on_commit_callbacks(execute=True):
        alert = record(installation)

    # then the alert is stored with the minute, the day and the figures
    assert (alert.installation, alert.level, alert.day, alert.minute, alert.calls, alert.limit) == (
        installation, 80, AT.date(), AT.replace(second=0), 160, 200)
    # and the developer (link: the Limits tab for this account, one day) and the two owners (link: connected
    # apps) are told; the admin and the staff member are not
    app = installation.app
    developer_link = f"/apps/{app.pk}/limits/?account=outerheaven&days=1"
    owner_link = "/store/outerheaven/connected/"
    subject = "Demo App is at 80% of its API limit in Outer Heaven"
    assert told(installation) == {
        app.user: [(subject, developer_link)], **{owner: [(subject, owner_link)] for owner in owners(installation)},
    }
    assert developer_link == reverse("portal:app_limits", args=[app.pk]) + "?account=outerheaven&days=1"
    # and each of them gets the email, which says what happened and what 100% means
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [app.user.email, *(owner.email for owner in owners(installation))])
    developer_mail = next(message for message in mail.outbox if message.to == [app.user.email])
    for words in ("Demo App (demo-app)", "Outer Heaven (outerheaven)", "160 calls in a minute",
                  "against a limit of 200.", "15:42 UTC on 1 Dec 2026", "Retry-After",
                  "At 100% further calls are refused", f"/apps/{app.pk}/limits/?account=outerheaven&days=1"):
        assert words in developer_mail.body
    owner_mail = next(message for message in mail.outbox if message.to[0] != app.user.email)
    assert "Retry-After" in owner_mail.body and owner_link in owner_mail.body
    # and one audit event says so
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.app_ref, event.target_type, event.target_id) == (
        "usage_alert.sent", None, "demo-app", "portal.installation", str(installation.pk))
    assert event_sentence(event) == ("The portal saw demo-app reach 80% of its limit in outerheaven (160 of 200 "
                                     "calls a minute) and told its developer and 2 owners of the account.")


def test_the_100_percent_alert_says_calls_are_refused(installation, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record(installation, level=100, calls=200)

    developer = installation.app.user
    subject, _ = told(installation)[developer][0]
    assert subject == "Demo App hit its API limit in Outer Heaven"
    body = Notification.objects.get(user=developer).body
    assert "200 calls in a minute" in body and "Its further calls were refused" in body and "Retry-After" in body


def test_each_level_fires_once_a_day_and_again_the_next_day(installation, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        # given alerts at 80% and at 100% today
        first_80, first_100 = record(installation, level=80), record(installation, level=100, calls=200)
        # when both levels are reached again later the same UTC day
        later_80 = record(installation, level=80, at=AT.replace(hour=23, minute=59, second=59), calls=170)
        later_100 = record(installation, level=100, at=AT.replace(hour=18), calls=205)
        # and the next day
        next_day = record(installation, level=80, at=AT + timedelta(days=1), calls=165)

    # then the repeats did nothing: no row, no message, no audit event; the next day is a new alert
    assert first_80 and first_100 and next_day
    assert later_80 is None and later_100 is None
    assert sorted((alert.day, alert.level) for alert in UsageAlert.objects.all()) == [
        (AT.date(), 80), (AT.date(), 100), (AT.date() + timedelta(days=1), 80)]
    people = 1 + len(owners(installation))
    assert Notification.objects.count() == 3 * people
    assert len(mail.outbox) == 3 * people
    assert AuditEvent.objects.filter(verb="usage_alert.sent").count() == 3
    # and a repeat keeps the first figures
    assert UsageAlert.objects.get(level=80, day=AT.date()).calls == 160


def test_the_day_is_the_utc_day(installation):
    # a time given in another zone counts in the UTC day it falls on
    evening_in_new_york = datetime(2026, 12, 1, 20, 30, tzinfo=dt_timezone(timedelta(hours=-5)))
    alert = record(installation, at=evening_in_new_york)
    assert alert.day == datetime(2026, 12, 2).date()
    assert alert.minute == datetime(2026, 12, 2, 1, 30, tzinfo=dt_timezone.utc)


def test_a_muted_app_tells_only_the_owners(installation):
    App.objects.filter(pk=installation.app_id).update(usage_alerts_muted=True)

    record(installation)

    assert set(told(installation)) == owners(installation)
    assert AuditEvent.objects.get().data["developer_told"] is False


def test_a_muted_account_tells_only_the_developer(installation):
    Account.objects.filter(pk=installation.account_id).update(usage_alerts_muted=True)

    record(installation)

    assert set(told(installation)) == {installation.app.user}
    assert AuditEvent.objects.get().data["owners_told"] == 0


def test_with_both_muted_the_alert_is_still_recorded_once_and_nobody_is_told(installation):
    App.objects.filter(pk=installation.app_id).update(usage_alerts_muted=True)
    Account.objects.filter(pk=installation.account_id).update(usage_alerts_muted=True)

    assert record(installation) is not None
    assert record(installation) is None

    assert UsageAlert.objects.count() == 1
    assert not Notification.objects.exists()
    assert event_sentence(AuditEvent.objects.get()).endswith("told nobody (alerts are muted).")


def test_a_developer_who_owns_the_account_gets_one_message(installation):
    MembershipFactory(account=installation.account, user=installation.app.user, role=Membership.Role.OWNER)

    record(installation)

    assert len(told(installation)[installation.app.user]) == 1
    assert Notification.objects.count() == 1 + 2


def test_an_unknown_installation_does_nothing(installation):
    assert record_usage_alert(installation_id=installation.pk + 1000, level=80, at=AT, calls=160, limit=200) is None
    assert not UsageAlert.objects.exists() and not Notification.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.parametrize(("field", "changes"), [
    ("level", {"level": 90}),
    ("level", {"level": "80"}),
    ("at", {"at": AT.replace(tzinfo=None)}),
    ("at", {"at": "2026-12-01T15:42:17Z"}),
    ("calls", {"calls": -1}),
    ("limit", {"limit": 0}),
    ("limit", {"limit": 2.5}),
])
def test_bad_input_is_refused_and_changes_nothing(installation, field, changes):
    arguments = {"installation_id": installation.pk, "level": 80, "at": AT, "calls": 160, "limit": 200, **changes}
    with pytest.raises(ValidationError) as refused:
        record_usage_alert(**arguments)
    assert field in refused.value.message_dict
    assert not UsageAlert.objects.exists() and not Notification.objects.exists() and not AuditEvent.objects.exists()


# --- Mutes ----------------------------------------------------------------------------------------------------------

def test_the_developer_mutes_and_unmutes_their_app(installation):
    app, developer = installation.app, installation.app.user

    app_usage_alerts_mute(actor=developer, app=app, muted=True)
    app_usage_alerts_mute(actor=developer, app=app, muted=True)  # the same again: no event
    app_usage_alerts_mute(actor=developer, app=app, muted=False)

    assert App.objects.get(pk=app.pk).usage_alerts_muted is False
    events = list(AuditEvent.objects.order_by("id"))
    assert [(event.verb, event.actor, event.data) for event in events] == [
        ("app.usage_alerts_changed", developer, {"muted": True}),
        ("app.usage_alerts_changed", developer, {"muted": False})]
    assert event_sentence(events[0]).endswith("muted usage alerts for Demo App.")
    assert event_sentence(events[1]).endswith("turned back on usage alerts for Demo App.")


@pytest.mark.parametrize("who", ["another developer", "account owner", "reviewer"])
def test_only_the_developer_can_mute_the_app(installation, who):
    from tests.factories import DeveloperFactory, make_reviewer

    actor = {"another developer": lambda: DeveloperFactory().user,
             "account owner": lambda: next(iter(owners(installation))),
             "reviewer": make_reviewer}[who]()
    with pytest.raises(PermissionDenied):
        app_usage_alerts_mute(actor=actor, app=installation.app, muted=True)
    assert App.objects.get(pk=installation.app_id).usage_alerts_muted is False
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", [Membership.Role.OWNER, Membership.Role.ADMIN])
def test_owners_and_admins_mute_the_account(installation, role):
    actor = installation.account.memberships.filter(role=role).first().user

    account_services.account_usage_alerts_mute(actor=actor, account=installation.account, muted=True)

    assert Account.objects.get(pk=installation.account_id).usage_alerts_muted is True
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.data) == ("account.usage_alerts_changed", actor, {"muted": True})
    assert event_sentence(event).endswith("muted usage alerts for the owners of outerheaven.")


@pytest.mark.parametrize("who", ["staff member", "outsider", "owner of another account", "the app's developer"])
def test_nobody_else_can_mute_the_account(installation, who):
    actor = {"staff member": lambda: installation.account.memberships.get(role=Membership.Role.STAFF).user,
             "outsider": UserFactory,
             "owner of another account": lambda: MembershipFactory(role=Membership.Role.OWNER).user,
             "the app's developer": lambda: installation.app.user}[who]()
    with pytest.raises(PermissionDenied):
        account_services.account_usage_alerts_mute(actor=actor, account=installation.account, muted=True)
    assert Account.objects.get(pk=installation.account_id).usage_alerts_muted is False
    assert not AuditEvent.objects.exists()


def test_a_mute_that_is_not_true_or_false_is_refused(installation):
    with pytest.raises(ValidationError):
        app_usage_alerts_mute(actor=installation.app.user, app=installation.app, muted="yes")
    owner = next(iter(owners(installation)))
    with pytest.raises(ValidationError):
        account_services.account_usage_alerts_mute(actor=owner, account=installation.account, muted=1)
    assert not AuditEvent.objects.exists()


# --- Pages ----------------------------------------------------------------------------------------------------------

def test_the_developer_toggles_alerts_on_the_app_page(client, installation):
    app = installation.app
    client.force_login(app.user)
    page = reverse("portal:app_detail", args=[app.pk])
    toggle = reverse("portal:app_usage_alerts", args=[app.pk])

    # the overview offers to mute
    assert "Mute usage alerts for this app" in client.get(page).content.decode()
    # muting redirects back with a message, and the page then offers to turn them back on
    response = client.post(toggle, {"muted": "yes"}, follow=True)
    assert response.redirect_chain == [(page + "#usage-alerts", 302)]
    html = response.content.decode()
    assert "Usage alerts for Demo App are muted." in html
    assert "Email me when this app nears its limit" in html
    assert App.objects.get(pk=app.pk).usage_alerts_muted is True
    client.post(toggle, {"muted": "no"})
    assert App.objects.get(pk=app.pk).usage_alerts_muted is False


@pytest.mark.parametrize("data", [{}, {"muted": "maybe"}])
def test_a_toggle_without_a_clear_choice_changes_nothing(client, installation, data):
    client.force_login(installation.app.user)
    response = client.post(reverse("portal:app_usage_alerts", args=[installation.app_id]), data, follow=True)
    assert "Choose whether to mute usage alerts." in response.content.decode()
    assert App.objects.get(pk=installation.app_id).usage_alerts_muted is False
    assert not AuditEvent.objects.exists()


def test_another_developers_app_is_a_404_and_get_is_not_allowed(client, installation):
    from tests.factories import DeveloperFactory

    client.force_login(DeveloperFactory().user)
    toggle = reverse("portal:app_usage_alerts", args=[installation.app_id])
    assert client.post(toggle, {"muted": "yes"}).status_code == 404
    client.force_login(installation.app.user)
    assert client.get(toggle).status_code == 405
    assert App.objects.get(pk=installation.app_id).usage_alerts_muted is False


def test_the_toggle_needs_the_csrf_token(installation):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(installation.app.user)
    toggle = reverse("portal:app_usage_alerts", args=[installation.app_id])
    assert client.post(toggle, {"muted": "yes"}).status_code == 403
    assert App.objects.get(pk=installation.app_id).usage_alerts_muted is False


def test_owners_toggle_alerts_on_the_account_page_and_staff_cannot(client, installation):
    account = installation.account
    page = reverse("accounts:account_detail", args=[account.code])
    toggle = reverse("accounts:account_usage_alerts", args=[account.code])
    staff = account.memberships.get(role=Membership.Role.STAFF).user
    owner = next(iter(owners(installation)))

    # a staff member sees whether owners are told but no switch, and a post is refused
    client.force_login(staff)
    html = client.get(page).content.decode()
    assert "Sent to owners" in html and "Mute usage alerts for this account" not in html
    refused = client.post(toggle, {"muted": "yes"}, follow=True)
    assert "Only owners and admins can change this." in refused.content.decode()
    assert Account.objects.get(pk=account.pk).usage_alerts_muted is False

    # an owner mutes them, and can turn them back on
    client.force_login(owner)
    assert "Mute usage alerts for this account" in client.get(page).content.decode()
    response = client.post(toggle, {"muted": "yes"}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [(page, 302)]
    assert "Owners are no longer told when an app nears its limit in this account." in html
    assert "Email owners when an app nears its limit" in html
    assert Account.objects.get(pk=account.pk).usage_alerts_muted is True
    client.post(toggle, {"muted": "no"})
    assert Account.objects.get(pk=account.pk).usage_alerts_muted is False


def test_the_inbox_shows_the_alert_with_its_link(client, installation):
    record(installation)
    client.force_login(installation.app.user)
    html = client.get(reverse("accounts:notifications")).content.decode()
    assert "Demo App is at 80% of its API limit in Outer Heaven" in html
