"""Destructive actions ask first: a GET or an unconfirmed POST shows what will happen and changes nothing;
a POST with confirm=yes acts; someone else's object is still a 404."""

import pytest
from django.urls import reverse

from accounts import api_keys, staff_tokens
from accounts.models import DeveloperApiKey, Membership, StaffToken
from portal import installations
from portal.models import App, EarlyAccess, Installation, Stage
from tests.factories import AccountFactory, AppFactory, DeveloperFactory, MembershipFactory, make_reviewer

pytestmark = pytest.mark.django_db


@pytest.fixture
def on():
    owner = MembershipFactory(role="owner", account__name="Outer Heaven Ltd", account__code="outerheaven")
    app = AppFactory(stage=Stage.RELEASED, name="Warehouse Link", client_id="warehouse-link")
    installation = installations.installation_turn_on(app=app, account=owner.account, actor=owner.user)
    return {"owner": owner, "app": app, "installation": installation}


def test_turning_off_shows_what_happens_and_changes_nothing_until_confirmed(client, on):
    # given an owner with an app on
    client.force_login(on["owner"].user)
    url = reverse("portal:store_turn_off", args=["outerheaven", "warehouse-link"])

    # when they open the URL, or post the row's one-click form
    for response in (client.get(url), client.post(url)):
        # then the confirmation names the app, the account and that every token stops working now
        html = response.content.decode()
        assert response.status_code == 200
        assert "Turn off Warehouse Link in Outer Heaven Ltd?" in html
        assert "stops working now" in html and 'name="confirm" value="yes"' in html
    assert Installation.objects.get(pk=on["installation"].pk).is_enabled

    # when they confirm
    response = client.post(url, {"confirm": "yes"})

    # then the app is off
    assert response.status_code == 302
    assert not Installation.objects.get(pk=on["installation"].pk).is_enabled


def test_a_confirmation_of_another_accounts_installation_is_a_404(client, on):
    # given someone who is not a member of the account
    stranger = MembershipFactory(role="owner")
    client.force_login(stranger.user)

    # when they ask for the confirmation through the other account's URL, then it is not found
    assert client.get(reverse("portal:store_turn_off", args=["outerheaven", "warehouse-link"])).status_code == 404


def test_rotating_keeps_the_chosen_overlap_on_the_confirmation_page(client):
    # given a developer's confidential app
    app = AppFactory()
    client.force_login(app.user)
    url = reverse("portal:app_rotate_secret", args=[app.pk])

    # when they rotate with a 24-hour overlap without confirming
    html = client.post(url, {"overlap": "86400"}).content.decode()

    # then the page asks, with 24 hours still chosen, and nothing rotated
    assert "Rotate the client secret of" in html
    assert 'value="86400" checked' in html
    assert App.objects.get(pk=app.pk).secret_rotated_at is None

    # when they confirm, the secret rotates
    client.post(url, {"overlap": "86400", "confirm": "yes"})
    assert App.objects.get(pk=app.pk).previous_secret_is_live


def test_suspending_asks_first_with_the_reason_and_lifting_does_not(client):
    # given a reviewer and a released app on in one account
    reviewer = make_reviewer()
    owner = MembershipFactory(role="owner")
    app = AppFactory(stage=Stage.RELEASED)
    installations.installation_turn_on(app=app, account=owner.account, actor=owner.user)
    client.force_login(reviewer)
    url = reverse("portal:review_app_suspension", args=[app.pk])

    # when they suspend without confirming
    html = client.post(url, {"action": "suspend", "reason": "Leaks tokens"}).content.decode()

    # then the page says what happens, carries the reason, and nothing changed
    assert f"Suspend {app.name}?" in html and "1 account" in html and "Leaks tokens" in html
    assert 'name="reason" value="Leaks tokens"' in html
    assert not App.objects.get(pk=app.pk).is_suspended

    # when they confirm, it is suspended; lifting it needs no confirmation
    client.post(url, {"action": "suspend", "reason": "Leaks tokens", "confirm": "yes"})
    assert App.objects.get(pk=app.pk).is_suspended
    client.post(url, {"action": "unsuspend"})
    assert not App.objects.get(pk=app.pk).is_suspended


def test_deleting_an_app_and_removing_early_access_ask_first(client):
    # given a developer's app in development with one early-access account
    app = AppFactory()
    grant = EarlyAccess.objects.create(app=app, account=AccountFactory(code="acme"))
    client.force_login(app.user)

    # when they post the forms without confirming, then nothing is removed
    assert "Delete" in client.post(reverse("portal:app_delete", args=[app.pk])).content.decode()
    assert "Remove early access for acme?" in client.post(
        reverse("portal:early_access_remove", args=[app.pk, grant.pk])).content.decode()
    assert App.objects.filter(pk=app.pk).exists() and EarlyAccess.objects.filter(pk=grant.pk).exists()

    # when they confirm, both go
    client.post(reverse("portal:early_access_remove", args=[app.pk, grant.pk]), {"confirm": "yes"})
    client.post(reverse("portal:app_delete", args=[app.pk]), {"confirm": "yes"})
    assert not EarlyAccess.objects.exists() and not App.objects.filter(pk=app.pk).exists()


def test_revoking_a_staff_token_and_an_api_key_and_removing_a_member_ask_first(client):
    # given an owner with a staff member, a staff token and (as a developer) an API key
    owner = MembershipFactory(role="owner")
    DeveloperFactory(user=owner.user)
    account = owner.account
    staff = MembershipFactory(account=account, role=Membership.Role.STAFF)
    private_app = staff_tokens.private_app_create(
        account=account, actor=owner.user, identifier=f"{account.code}_scripts", name="Scripts"
    )
    token, _ = staff_tokens.staff_token_create(
        private_app=private_app, member=staff.user, name="Nightly", actor=owner.user
    )
    key, _ = api_keys.api_key_create(user=owner.user, name="Laptop", actor=owner.user)
    client.force_login(owner.user)
    urls = {
        "Revoke the staff token “Nightly”?": reverse("accounts:staff_token_revoke", args=[account.code, token.pk]),
        "Revoke the API key “Laptop”?": reverse("accounts:api_key_revoke", args=[key.pk]),
        f"Remove {staff.user.email} from": reverse("accounts:member_remove", args=[account.code, staff.pk]),
    }

    # when each is posted without confirming, then each page asks and nothing changed
    for question, url in urls.items():
        html = client.post(url).content.decode()
        assert question in html and "now" in html
    assert StaffToken.objects.get(pk=token.pk).revoked_at is None
    assert DeveloperApiKey.objects.get(pk=key.pk).revoked_at is None
    assert Membership.objects.filter(pk=staff.pk).exists()

    # when each is confirmed, it happens
    for url in urls.values():
        client.post(url, {"confirm": "yes"})
    assert StaffToken.objects.get(pk=token.pk).revoked_at is not None
    assert DeveloperApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert not Membership.objects.filter(pk=staff.pk).exists()
