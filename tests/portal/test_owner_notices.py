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


def test_owners_are_told_when_an_app_on_their_account_is_suspended_and_lifted(
    installed, django_capture_on_commit_callbacks
):
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
    assert subjects == [
        "Warehouse Link is suspended in Outer Heaven Ltd",
        "Warehouse Link is no longer suspended in Outer Heaven Ltd",
    ]
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


def test_owners_are_told_when_the_install_callback_keeps_failing(installed, settings):
    # given an app whose install callback can never be delivered (it leads to a loopback address, which the
    # egress guard refuses outside demo mode: the delivery fails at once instead of after every retry)
    from integrations import callbacks, deliveries

    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": False}
    owner, app = installed
    app.install_callback_url = "https://127.0.0.1/installed"
    app.save(update_fields=["install_callback_url"])
    installation = app.installations.get()
    owner.user.notifications.all().delete()

    # when the callback is owed and tried until it gives up
    delivery = callbacks.callback_schedule(installation=installation, kind="install")
    deliveries.attempt(delivery)

    # then the delivery failed and the owner is told once
    delivery.refresh_from_db()
    assert delivery.status == delivery.Status.FAILED
    assert list(owner.user.notifications.values_list("subject", flat=True)) == [
        "Warehouse Link did not confirm it was turned on in Outer Heaven Ltd"
    ]


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
