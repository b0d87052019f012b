"""Owners are told about the apps on their account, and a suspended app never shows as on."""

import pytest
from django.core import mail
from django.urls import reverse

from portal import installations, services
from portal.models import Stage
from tests.factories import AppFactory, DeveloperFactory, MembershipFactory, make_reviewer

pytestmark = pytest.mark.django_db


@pytest.fixture
def installed():
    owner = MembershipFactory(role="owner", account__name="Outer Heaven Ltd", account__code="outerheaven")
    app = AppFactory(stage=Stage.RELEASED, name="Warehouse Link", client_id="warehouse-link",
                     support_url="https://help.example.com/")
    installations.installation_turn_on(app=app, account=owner.account, actor=owner.user)
    return owner, app


def test_owners_are_told_when_an_app_on_their_account_is_suspended_and_lifted(installed, django_capture_on_commit_callbacks):
    # given an owner with an app on, and a staff member who is not told
    owner, app = installed
    staff = MembershipFactory(account=owner.account, role="staff")
    reviewer = make_reviewer()

    # when a reviewer suspends the app, then lifts the suspension
    with django_capture_on_commit_callbacks(execute=True):
        services.app_suspend(app=app, actor=reviewer, reason="Leaks tokens")
        services.app_unsuspend(app=app, actor=reviewer)

    # then the owner has both in the inbox and by email, and the staff member nothing
    subjects = list(owner.user.notifications.order_by("id").values_list("subject", flat=True))
    assert subjects == ["Warehouse Link is suspended in Outer Heaven Ltd",
                        "Warehouse Link is no longer suspended in Outer Heaven Ltd"]
    assert not staff.user.notifications.exists()
    to_owner = [message for message in mail.outbox if owner.user.email in message.to]
    assert any("tokens stopped working" in message.body for message in to_owner)


def test_owners_are_told_when_a_developer_gives_their_account_early_access():
    # given an owner's account and a developer's app in development
    owner = MembershipFactory(role="owner", account__code="acme")
    developer = DeveloperFactory(company="Foxhound Apps").user
    app = AppFactory(user=developer, name="Inventory Sync")

    # when the developer gives the account early access
    services.early_access_add(app=app, account_code="acme", actor=developer)

    # then the owner is told who did it and where to find the app
    notification = owner.user.notifications.get()
    assert notification.subject == f"Early access to Inventory Sync for {owner.account.name}"
    assert "Foxhound Apps gave" in notification.body
    assert notification.link == reverse("portal:store_app", args=["acme", app.client_id])


def test_owners_are_told_when_the_install_callback_keeps_failing(installed, monkeypatch):
    # given an app whose install callback always fails
    from integrations import callbacks, tasks

    owner, app = installed
    installation = app.installations.get()
    owner.user.notifications.all().delete()

    class Failed:
        status_code, refused = 500, False

    monkeypatch.setattr(callbacks, "callback_send", lambda **kwargs: Failed())
    monkeypatch.setattr(callbacks, "callback_is_stale", lambda **kwargs: False)

    # when the callback is sent and retried until it gives up
    tasks.send_callback.apply(args=[installation.pk, "install"])

    # then the owner is told once
    assert list(owner.user.notifications.values_list("subject", flat=True)) == [
        "Warehouse Link did not confirm it was turned on in Outer Heaven Ltd"]


def test_the_owner_sees_a_suspended_app_as_suspended_everywhere(client, installed):
    # given a suspended app that is on in the owner's account
    owner, app = installed
    services.app_suspend(app=app, actor=make_reviewer(), reason="Leaks tokens")
    client.force_login(owner.user)

    # when the owner opens the store, the connected apps and the app's page
    store = client.get(reverse("portal:store", args=["outerheaven"])).content.decode()
    connected = client.get(reverse("portal:connected_apps", args=["outerheaven"])).content.decode()
    page = client.get(reverse("portal:store_app", args=["outerheaven", "warehouse-link"]))

    # then each says suspended, never on, and the app's page says what the owner can do
    assert "Warehouse Link is suspended." in store
    assert "Suspended" in connected and ">On<" not in connected and "tokens do not work" in connected
    html = page.content.decode()
    assert page.status_code == 200
    assert "badge-suspended" in html and ">On<" not in html
    assert "Its tokens do not work" in html and "https://help.example.com/" in html and "Turn off" in html
