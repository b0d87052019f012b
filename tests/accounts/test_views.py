"""The accounts pages, driven through Django's test client, and the create_account command."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Account, AuditEvent, DeveloperProfile, Membership, Notification, PartnerApplication
from tests.factories import AccountFactory, DeveloperFactory, MembershipFactory, UserFactory, make_reviewer

pytestmark = pytest.mark.django_db


# --- Developer profile -----------------------------------------------------------------------------------------


def test_register_as_developer_creates_the_profile(client):
    # given a signed-in user with no developer profile
    user = UserFactory()
    client.force_login(user)

    # when they register with a good developer reference
    response = client.post(reverse("accounts:developer_profile"), {
        "dev_ref": "Acme-Apps", "company": "Acme Ltd", "contact_name": "Ada", "website": "https://acme.example",
    })

    # then the profile exists with the normalised reference, and the page shows it
    assert response.status_code == 302
    profile = DeveloperProfile.objects.get(user=user)
    assert profile.dev_ref == "acme-apps"
    assert profile.partner_status == DeveloperProfile.PartnerStatus.NONE
    page = client.get(reverse("accounts:developer_profile"))
    assert "acme-apps" in page.content.decode()
    assert "Apply to become a partner" in page.content.decode()


def test_register_with_a_malformed_dev_ref_shows_an_error_and_creates_nothing(client):
    # given a signed-in user with no developer profile
    user = UserFactory()
    client.force_login(user)

    # when they register with a reference that is not a slug
    response = client.post(reverse("accounts:developer_profile"), {
        "dev_ref": "not a slug!", "company": "Acme Ltd", "contact_name": "Ada",
    })

    # then the form comes back with the field's error and nothing was created
    assert response.status_code == 200
    assert "dev_ref" in response.context["form"].errors
    assert "lowercase letters, digits and hyphens" in response.content.decode()
    assert not DeveloperProfile.objects.filter(user=user).exists()
    assert not AuditEvent.objects.filter(verb="developer.registered").exists()


def test_register_with_a_taken_dev_ref_shows_an_error(client):
    # given an existing developer and another signed-in user
    DeveloperFactory(dev_ref="acme")
    user = UserFactory()
    client.force_login(user)

    # when the user asks for the same reference
    response = client.post(reverse("accounts:developer_profile"), {
        "dev_ref": "acme", "company": "Other Ltd", "contact_name": "Bo",
    })

    # then they are told it is taken and get no profile
    assert response.status_code == 200
    assert "taken" in str(response.context["form"].errors["dev_ref"])
    assert not DeveloperProfile.objects.filter(user=user).exists()


def test_developer_edits_contact_details_but_not_the_dev_ref(client):
    # given a developer
    profile = DeveloperFactory(dev_ref="acme")
    client.force_login(profile.user)

    # when they save new contact details (and try to sneak in a new reference)
    response = client.post(reverse("accounts:developer_profile"), {
        "company": "Acme Group", "contact_name": "Ada", "contact_phone": "+44 20 0000", "dev_ref": "other",
    })

    # then the details change and the reference does not
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.company, profile.contact_phone, profile.dev_ref) == ("Acme Group", "+44 20 0000", "acme")
    assert AuditEvent.objects.filter(verb="developer.updated").count() == 1


# --- Partner application and review ------------------------------------------------------------------------------

APPLICATION = {
    "company_name": "Acme Ltd", "company_number": "01234567", "country": "United Kingdom",
    "website": "https://acme.example", "description": "Stock sync for shops.", "agreement_accepted": "on",
}


def test_partner_apply_then_reviewer_approves_through_the_views(client):
    # given a developer who applies to become a partner
    profile = DeveloperFactory()
    client.force_login(profile.user)
    response = client.post(reverse("accounts:partner_apply"), APPLICATION)
    assert response.status_code == 302
    application = PartnerApplication.objects.get(profile=profile)
    profile.refresh_from_db()
    assert profile.partner_status == DeveloperProfile.PartnerStatus.APPLIED

    # when a reviewer sees it in the queue and approves it
    reviewer = make_reviewer()
    client.force_login(reviewer)
    queue = client.get(reverse("accounts:partner_queue"))
    assert queue.status_code == 200
    assert "Acme Ltd" in queue.content.decode()
    response = client.post(reverse("accounts:partner_review", args=[application.pk]),
                           {"decision": "approve", "note": ""})

    # then the developer is a partner, was notified, and the queue is empty
    assert response.status_code == 302
    profile.refresh_from_db()
    application.refresh_from_db()
    assert profile.partner_status == DeveloperProfile.PartnerStatus.APPROVED
    assert application.status == PartnerApplication.Status.APPROVED
    assert application.reviewer == reviewer
    assert Notification.objects.filter(user=profile.user, subject="You are now a partner").exists()
    assert list(client.get(reverse("accounts:partner_queue")).context["pending"]) == []


def test_partner_apply_without_accepting_the_agreement_creates_nothing(client):
    # given a developer
    profile = DeveloperFactory()
    client.force_login(profile.user)

    # when they apply without ticking the agreement
    response = client.post(reverse("accounts:partner_apply"), {**APPLICATION, "agreement_accepted": ""})

    # then the form says so and nothing changed
    assert response.status_code == 200
    assert "agreement_accepted" in response.context["form"].errors
    assert not PartnerApplication.objects.exists()
    profile.refresh_from_db()
    assert profile.partner_status == DeveloperProfile.PartnerStatus.NONE


def test_partner_apply_needs_a_developer_profile(client):
    # given a signed-in user who is not a developer
    client.force_login(UserFactory())

    # when they open the partner application
    response = client.get(reverse("accounts:partner_apply"))

    # then they are sent to register as a developer first
    assert response.status_code == 302
    assert response.url == reverse("accounts:developer_profile")


def test_reviewer_rejects_with_a_note_and_the_developer_sees_it(client):
    # given a pending application
    profile = DeveloperFactory()
    client.force_login(profile.user)
    client.post(reverse("accounts:partner_apply"), APPLICATION)
    application = PartnerApplication.objects.get(profile=profile)
    reviewer = make_reviewer()
    client.force_login(reviewer)

    # when the reviewer rejects without a note, then with one
    without_note = client.post(reverse("accounts:partner_review", args=[application.pk]),
                               {"decision": "reject", "note": ""})
    application.refresh_from_db()
    status_after_first_try = application.status
    with_note = client.post(reverse("accounts:partner_review", args=[application.pk]),
                            {"decision": "reject", "note": "Please add a company number."})

    # then the first attempt is refused with a message, the second rejects, and the developer sees the note
    assert without_note.status_code == 200
    assert "note" in without_note.context["reject_form"].errors
    assert status_after_first_try == PartnerApplication.Status.PENDING
    assert with_note.status_code == 302
    application.refresh_from_db()
    assert application.status == PartnerApplication.Status.REJECTED
    client.force_login(profile.user)
    page = client.get(reverse("accounts:developer_profile")).content.decode()
    assert "Please add a company number." in page
    assert "Apply again" in page


def test_non_reviewer_gets_403_on_the_partner_queue(client):
    # given a signed-in staff user who is not in the reviewers group
    client.force_login(UserFactory(is_staff=True))

    # when they open the partner queue and a review page
    queue = client.get(reverse("accounts:partner_queue"))
    review = client.get(reverse("accounts:partner_review", args=[1]))

    # then both are forbidden
    assert queue.status_code == 403
    assert review.status_code == 403


# --- Accounts and members ---------------------------------------------------------------------------------------


def test_my_accounts_lists_only_my_memberships(client):
    # given a user in one account, and another account they are not in
    mine = MembershipFactory(account__code="outerheaven", role=Membership.Role.ADMIN)
    AccountFactory(code="elsewhere")
    client.force_login(mine.user)

    # when they open My accounts
    response = client.get(reverse("accounts:my_accounts"))

    # then only their account is listed, with their role
    page = response.content.decode()
    assert "outerheaven" in page and "Admin" in page
    assert "elsewhere" not in page


def test_my_accounts_empty_state_explains_how_to_get_in(client):
    # given a user in no account
    client.force_login(UserFactory())

    # when they open My accounts
    response = client.get(reverse("accounts:my_accounts"))

    # then the page explains who creates accounts and who adds members
    page = " ".join(response.content.decode().split())
    assert "created by a platform operator" in page
    assert "one of its owners can add you" in page


def test_non_member_gets_404_on_account_detail(client):
    # given an account and a signed-in user who is not a member
    account = AccountFactory()
    MembershipFactory(account=account)
    client.force_login(UserFactory())

    # when they open the account or post to it
    detail = client.get(reverse("accounts:account_detail", args=[account.code]))
    add = client.post(reverse("accounts:member_add", args=[account.code]), {"email": "x@example.com", "role": "staff"})

    # then it does not exist for them
    assert detail.status_code == 404
    assert add.status_code == 404


def test_owner_adds_and_removes_a_member(client):
    # given an account owner and another signed-up user
    owner = MembershipFactory(role=Membership.Role.OWNER)
    account = owner.account
    newcomer = UserFactory(email="newcomer@example.com")
    client.force_login(owner.user)

    # when the owner adds them as admin
    response = client.post(reverse("accounts:member_add", args=[account.code]),
                           {"email": "NEWCOMER@example.com", "role": "admin"})

    # then they are a member, told in their inbox, and listed on the account page
    assert response.status_code == 302
    membership = Membership.objects.get(account=account, user=newcomer)
    assert membership.role == Membership.Role.ADMIN
    assert membership.added_by == owner.user
    assert Notification.objects.filter(user=newcomer, subject__contains=account.code).exists()
    page = client.get(reverse("accounts:account_detail", args=[account.code])).content.decode()
    assert "newcomer@example.com" in page

    # when the owner removes them again
    response = client.post(reverse("accounts:member_remove", args=[account.code, membership.pk]), {"confirm": "yes"})

    # then they are gone, and both changes are audited
    assert response.status_code == 302
    assert not Membership.objects.filter(account=account, user=newcomer).exists()
    assert list(AuditEvent.objects.filter(verb__startswith="account.member").values_list("verb", flat=True)) == [
        "account.member_removed", "account.member_added",
    ]


def test_adding_an_unknown_email_shows_an_error_and_changes_nothing(client):
    # given an account owner
    owner = MembershipFactory(role=Membership.Role.OWNER)
    client.force_login(owner.user)

    # when they add an address nobody signed up with
    response = client.post(reverse("accounts:member_add", args=[owner.account.code]),
                           {"email": "nobody@example.com", "role": "staff"})

    # then the account page comes back with the error on the email field and no new member
    assert response.status_code == 200
    assert "No one has signed up with that email address" in str(response.context["add_form"].errors["email"])
    assert Membership.objects.filter(account=owner.account).count() == 1


def test_staff_member_cannot_add_members(client):
    # given a staff member of an account, and another signed-up user
    staff = MembershipFactory(role=Membership.Role.STAFF)
    other = UserFactory()
    client.force_login(staff.user)

    # when the staff member posts the add-member form anyway
    response = client.post(reverse("accounts:member_add", args=[staff.account.code]),
                           {"email": other.email, "role": "owner"}, follow=True)

    # then they are refused with a message and nothing changed; the page offers them no add form
    assert "Only an owner" in response.content.decode()
    assert not Membership.objects.filter(user=other).exists()
    assert response.context["add_form"] is None


def test_owner_cannot_remove_the_last_owner(client):
    # given an account with one owner
    owner = MembershipFactory(role=Membership.Role.OWNER)
    client.force_login(owner.user)

    # when they try to remove themselves
    response = client.post(reverse("accounts:member_remove", args=[owner.account.code, owner.pk]), {"confirm": "yes"},
                           follow=True)

    # then they are told why and stay an owner
    assert "at least one owner" in response.content.decode()
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_admin_turns_on_beta_apps_and_staff_cannot(client):
    # given an admin and a staff member of one account
    admin_membership = MembershipFactory(role=Membership.Role.ADMIN)
    account = admin_membership.account
    staff = MembershipFactory(account=account, role=Membership.Role.STAFF)
    url = reverse("accounts:account_show_beta", args=[account.code])

    # when the staff member tries, then the admin does
    client.force_login(staff.user)
    refused = client.post(url, {"show": "on"}, follow=True)
    account.refresh_from_db()
    after_staff = account.show_beta_apps
    client.force_login(admin_membership.user)
    client.post(url, {"show": "on"})

    # then only the admin's change took effect
    assert "Only owners and admins" in refused.content.decode()
    assert after_staff is False
    account.refresh_from_db()
    assert account.show_beta_apps is True


# --- Notifications ----------------------------------------------------------------------------------------------


def test_inbox_marks_one_and_all_notifications_read(client):
    # given a user with two unread notifications (and someone else's)
    user = UserFactory()
    first = Notification.objects.create(user=user, subject="First", link="/developer/")
    Notification.objects.create(user=user, subject="Second")
    foreign = Notification.objects.create(user=UserFactory(), subject="Not yours")
    client.force_login(user)
    assert "First" in client.get(reverse("accounts:notifications")).content.decode()

    # when they open the first one, then mark all read (and try someone else's)
    opened = client.post(reverse("accounts:notifications_read"), {"id": first.pk, "open": "1"})
    client.post(reverse("accounts:notifications_read"), {"id": foreign.pk})
    client.post(reverse("accounts:notifications_read"))

    # then the first led to its link, all of theirs are read, and the other user's is untouched
    assert opened.status_code == 302 and opened.url == "/developer/"
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
    foreign.refresh_from_db()
    assert foreign.read_at is None


# --- create_account command -------------------------------------------------------------------------------------


def test_create_account_command_creates_the_account_with_its_owner(capsys):
    # given a signed-up user
    owner = UserFactory(email="owner@example.com")

    # when an operator runs the command
    call_command("create_account", "outerheaven", "--name", "Outer Heaven", "--datacentre", "eu1",
                 "--owner", "owner@example.com")

    # then the account exists with that owner, and the command says so
    account = Account.objects.get(code="outerheaven")
    assert account.name == "Outer Heaven"
    assert Membership.objects.get(account=account).user == owner
    assert "Created account outerheaven" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["Not A Code", "--name", "X"], "code: Use 1–50 lowercase letters"),
    (["fine", "--name", "X", "--owner", "ghost@example.com"], "--owner: No user has the email address"),
    (["fine", "--name", "X", "--datacentre", "mars1"], "Unknown datacentre"),
    (["fine", "--name", ""], "--name: This field cannot be blank."),
])
def test_create_account_command_refuses_bad_input_and_creates_nothing(args, message):
    # given no accounts
    # when the command gets bad input
    with pytest.raises(CommandError) as raised:
        call_command("create_account", *args)

    # then it explains and nothing was created
    assert message in str(raised.value)
    assert not Account.objects.exists()
    assert not AuditEvent.objects.exists()


def test_create_account_command_refuses_a_taken_code():
    # given an existing account
    AccountFactory(code="outerheaven")

    # when the command is run with the same code
    with pytest.raises(CommandError) as raised:
        call_command("create_account", "outerheaven", "--name", "Again")

    # then it says the code is taken
    assert "already exists" in str(raised.value)
    assert Account.objects.count() == 1


# --- Django admin -------------------------------------------------------------------------------------------------


def test_admin_adding_an_account_goes_through_the_service(client):
    # given an operator (superuser) and a signed-up user
    operator = UserFactory(is_staff=True, is_superuser=True)
    owner = UserFactory(email="boss@example.com")
    client.force_login(operator)

    # when the operator adds an account in the admin with an unknown owner, then with a known one
    url = reverse("admin:accounts_account_add")
    refused = client.post(url, {"code": "big-boss", "name": "Big Boss", "datacentre": "eu1",
                                "owner_email": "ghost@example.com"})
    created = client.post(url, {"code": "big-boss", "name": "Big Boss", "datacentre": "eu1",
                                "owner_email": "boss@example.com"})

    # then the first is refused with nothing created, the second creates the account, its owner and audit rows
    assert refused.status_code == 200 and "No user has that email address" in refused.content.decode()
    assert created.status_code == 302
    account = Account.objects.get(code="big-boss")
    assert Membership.objects.get(account=account).user == owner
    assert AuditEvent.objects.filter(verb="account.created", actor=operator, target_id=str(account.pk)).exists()


def test_admin_approve_action_uses_the_service_and_reports_refusals(client):
    # given two pending applications, and an operator who is not a reviewer
    first, second = DeveloperFactory(), DeveloperFactory()
    for profile in (first, second):
        client.force_login(profile.user)
        client.post(reverse("accounts:partner_apply"), APPLICATION)
    operator = UserFactory(is_staff=True, is_superuser=True)
    url = reverse("admin:accounts_partnerapplication_changelist")
    ids = list(PartnerApplication.objects.values_list("pk", flat=True))

    # when the operator approves both, then a reviewer-superuser does
    client.force_login(operator)
    refused = client.post(url, {"action": "approve_selected", "_selected_action": ids}, follow=True)
    reviewer = make_reviewer(is_superuser=True)
    client.force_login(reviewer)
    client.post(url, {"action": "approve_selected", "_selected_action": ids})

    # then the operator was told only reviewers may decide, and the reviewer's approval took effect
    assert "Only reviewers can decide partner applications" in refused.content.decode()
    assert set(PartnerApplication.objects.values_list("status", flat=True)) == {PartnerApplication.Status.APPROVED}
    assert set(DeveloperProfile.objects.values_list("partner_status", flat=True)) == {"approved"}


def test_audit_events_are_read_only_in_the_admin(client):
    # given an audit event and a superuser
    AccountFactory()
    call_command("create_account", "audited", "--name", "Audited")
    event = AuditEvent.objects.get(verb="account.created")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    # when they open the add, change and delete pages
    add = client.get(reverse("admin:accounts_auditevent_add"))
    change = client.post(reverse("admin:accounts_auditevent_change", args=[event.pk]), {"verb": "forged"})
    delete = client.post(reverse("admin:accounts_auditevent_delete", args=[event.pk]), {"post": "yes"})

    # then nothing can be added, changed or deleted
    assert add.status_code == 403
    assert change.status_code == 403
    assert delete.status_code == 403
    event.refresh_from_db()
    assert event.verb == "account.created"
