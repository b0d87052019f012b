"""The Django admin edits memberships through the services: an account never loses its last owner there."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Membership
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _inline_data(account, rows, *, extra=()):
    """POST data of the account change page with its membership inline: rows of (membership, role, delete)."""
    data = {"name": account.name, "datacentre": account.datacentre, "status": account.status,
            "memberships-TOTAL_FORMS": str(len(rows) + len(extra)), "memberships-INITIAL_FORMS": str(len(rows)),
            "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000"}
    if account.show_beta_apps:
        data["show_beta_apps"] = "on"
    for i, (membership, role, delete) in enumerate(rows):
        data.update({f"memberships-{i}-id": str(membership.pk), f"memberships-{i}-account": str(account.pk),
                     f"memberships-{i}-user": str(membership.user_id), f"memberships-{i}-role": role})
        if delete:
            data[f"memberships-{i}-DELETE"] = "on"
    for j, (user, role) in enumerate(extra, start=len(rows)):
        data.update({f"memberships-{j}-account": str(account.pk), f"memberships-{j}-user": str(user.pk),
                     f"memberships-{j}-role": role})
    return data


@pytest.mark.parametrize("edit", ["demote", "remove"])
def test_the_account_page_cannot_demote_or_remove_the_last_owner(operator_client, edit):
    # given an account with one owner and one admin
    owner = MembershipFactory(role=Membership.Role.OWNER)
    account = owner.account
    admin_member = MembershipFactory(account=account, role=Membership.Role.ADMIN)
    rows = [(owner, "admin" if edit == "demote" else "owner", edit == "remove"), (admin_member, "admin", False)]

    # when the operator saves the account with the owner demoted or removed
    response = operator_client.post(reverse("admin:accounts_account_change", args=[account.pk]),
                                    _inline_data(account, rows))

    # then the page shows the refusal and the owner is still the owner
    assert response.status_code == 200
    assert "at least one owner" in response.content.decode()
    assert Membership.objects.get(pk=owner.pk).role == Membership.Role.OWNER


def test_the_account_page_hands_ownership_over_through_the_services(operator_client):
    # given an account with one owner, and another person
    owner = MembershipFactory(role=Membership.Role.OWNER)
    account = owner.account
    newcomer = UserFactory()

    # when the operator adds the newcomer as owner and demotes the old owner in one save
    response = operator_client.post(reverse("admin:accounts_account_change", args=[account.pk]),
                                    _inline_data(account, [(owner, "staff", False)], extra=[(newcomer, "owner")]))

    # then both changes are made, with the services' audit rows
    assert response.status_code == 302
    assert Membership.objects.get(pk=owner.pk).role == Membership.Role.STAFF
    assert Membership.objects.get(account=account, user=newcomer).role == Membership.Role.OWNER
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"account.member_added", "account.member_changed"} <= verbs


def test_the_membership_page_cannot_demote_the_last_owner(operator_client):
    # given the only owner of an account
    owner = MembershipFactory(role=Membership.Role.OWNER)

    # when the operator changes their role
    response = operator_client.post(reverse("admin:accounts_membership_change", args=[owner.pk]),
                                    {"role": Membership.Role.STAFF})

    # then it is refused
    assert response.status_code == 200
    assert "at least one owner" in response.content.decode()
    assert Membership.objects.get(pk=owner.pk).role == Membership.Role.OWNER


def test_the_membership_pages_cannot_delete_the_last_owner(operator_client):
    # given the only owner of an account, and a staff member
    owner = MembershipFactory(role=Membership.Role.OWNER)
    staff = MembershipFactory(account=owner.account, role=Membership.Role.STAFF)

    # when the operator deletes the owner alone, then both with the bulk action
    single = operator_client.post(reverse("admin:accounts_membership_delete", args=[owner.pk]), {"post": "yes"})
    bulk = operator_client.post(reverse("admin:accounts_membership_changelist"),
                                {"action": "delete_selected", "_selected_action": [owner.pk, staff.pk], "post": "yes"})

    # then both are refused and both members stay
    assert single.status_code == 403
    assert bulk.status_code == 403
    assert Membership.objects.filter(pk__in=[owner.pk, staff.pk]).count() == 2


def test_a_second_owner_can_be_removed_in_the_admin(operator_client):
    # given an account with two owners
    first = MembershipFactory(role=Membership.Role.OWNER)
    second = MembershipFactory(account=first.account, role=Membership.Role.OWNER)

    # when the operator deletes one of them
    response = operator_client.post(reverse("admin:accounts_membership_delete", args=[second.pk]), {"post": "yes"})

    # then it is gone, with the service's audit row
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=second.pk).exists()
    assert AuditEvent.objects.filter(verb="account.member_removed").exists()
    assert Membership.objects.filter(pk=first.pk).exists()
