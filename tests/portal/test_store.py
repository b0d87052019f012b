"""An account's app store: who sees which app, and turning apps on and off."""

import pytest
from django.urls import reverse

from portal import installations, selectors
from portal.models import EarlyAccess, Installation, Stage
from tests.factories import AccountFactory, AppFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("stage,early_access,show_beta,visible", [
    (Stage.IN_DEVELOPMENT, False, True, False),
    (Stage.IN_DEVELOPMENT, True, False, True),
    (Stage.ALPHA, False, True, False),
    (Stage.ALPHA, True, False, True),
    (Stage.BETA, False, False, False),
    (Stage.BETA, False, True, True),
    (Stage.BETA, True, False, True),
    (Stage.RELEASED, False, False, True),
])
def test_visibility_rule(stage, early_access, show_beta, visible):
    account = AccountFactory(show_beta_apps=show_beta)
    app = AppFactory(stage=stage)
    if early_access:
        EarlyAccess.objects.create(app=app, account=account)
    assert selectors.app_visible_to_account(app=app, account=account) is visible


def test_suspended_apps_are_visible_to_nobody():
    from django.utils import timezone

    account = AccountFactory(show_beta_apps=True)
    app = AppFactory(stage=Stage.RELEASED, suspended_at=timezone.now())
    EarlyAccess.objects.create(app=app, account=account)
    assert not selectors.app_visible_to_account(app=app, account=account)


def test_store_lists_visible_apps_and_staff_is_read_only(client):
    # given a staff member of an account and a released app
    membership = MembershipFactory(role="staff")
    app = AppFactory(stage=Stage.RELEASED, name="Visible App")
    AppFactory(stage=Stage.ALPHA, name="Hidden App")
    client.force_login(membership.user)
    # then the store shows only the visible app
    html = client.get(reverse("portal:store", args=[membership.account.code])).content.decode()
    assert "Visible App" in html and "Hidden App" not in html
    # and staff gets no Turn on button, and cannot start the flow
    page = client.get(reverse("portal:store_app", args=[membership.account.code, app.client_id])).content.decode()
    assert "Turn on" not in page
    assert (
        client.post(reverse("portal:store_turn_on", args=[membership.account.code, app.client_id])).status_code == 403
    )


def test_non_member_gets_404(client):
    client.force_login(MembershipFactory().user)
    assert client.get(reverse("portal:store", args=[AccountFactory().code])).status_code == 404


def test_turn_on_starts_the_consent_flow(client):
    membership = MembershipFactory(role="admin")
    app = AppFactory(stage=Stage.RELEASED)
    client.force_login(membership.user)
    response = client.post(reverse("portal:store_turn_on", args=[membership.account.code, app.client_id]))
    assert response.status_code == 302
    assert response["Location"].startswith(f"/oauth/authorize/{membership.account.code}?")
    assert f"client_id={app.client_id}" in response["Location"]


def test_turn_off_from_connected_apps(client):
    membership = MembershipFactory(role="owner")
    app = AppFactory(stage=Stage.RELEASED)
    installation = installations.installation_turn_on(app=app, account=membership.account, actor=membership.user)
    client.force_login(membership.user)
    html = client.get(reverse("portal:connected_apps", args=[membership.account.code])).content.decode()
    assert app.name in html
    client.post(reverse("portal:store_turn_off", args=[membership.account.code, app.client_id]), {"confirm": "yes"})
    installation.refresh_from_db()
    assert not installation.is_enabled and installation.disabled_at


def test_turn_on_refuses_staff_and_invisible_apps():
    from django.core.exceptions import PermissionDenied, ValidationError

    staff = MembershipFactory(role="staff")
    with pytest.raises(PermissionDenied):
        installations.installation_turn_on(
            app=AppFactory(stage=Stage.RELEASED), account=staff.account, actor=staff.user
        )
    owner = MembershipFactory(role="owner")
    with pytest.raises(ValidationError):
        installations.installation_turn_on(app=AppFactory(stage=Stage.ALPHA), account=owner.account, actor=owner.user)
    assert not Installation.objects.exists()
