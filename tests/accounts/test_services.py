"""Account services: developer profiles, partner applications, platform accounts, members, the audit log."""

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts import services
from accounts.audit import audit_record
from accounts.models import Account, AuditEvent, DeveloperProfile, Membership, Notification, PartnerApplication
from tests.factories import AccountFactory, DeveloperFactory, MembershipFactory, UserFactory, make_reviewer


def _operator(**kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="accounts", codename="add_account"))
    return user


def _apply(profile: DeveloperProfile, **overrides) -> PartnerApplication:
    fields = {
        "profile": profile, "actor": profile.user, "company_name": "Acme Integrations Ltd",
        "company_number": "01234567", "country": "United Kingdom", "website": "https://acme.example.com",
        "description": "Stock and order sync for marketplaces.", "agreement_accepted": True, **overrides,
    }
    return services.partner_application_submit(**fields)


# --- developer_profile_create -------------------------------------------------------------------


@pytest.mark.django_db
def test_developer_profile_create_registers_the_user():
    # given
    user = UserFactory()

    # when
    profile = services.developer_profile_create(
        user=user, dev_ref="  Acme-Dev ", company=" Acme ", contact_name="Ada", website="https://acme.example.com")

    # then
    stored = DeveloperProfile.objects.get(user=user)
    assert stored == profile
    assert (stored.dev_ref, stored.company, stored.partner_status) == ("acme-dev", "Acme", "none")
    assert stored.is_partner is False
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.data) == ("developer.registered", user, {"dev_ref": "acme-dev"})


@pytest.mark.django_db
@pytest.mark.parametrize("dev_ref", ["bad ref", "-x", "x-", "with_underscore", "", "dots.not.allowed", "x" * 51])
def test_developer_profile_create_refuses_a_bad_dev_ref(dev_ref):
    # given
    user = UserFactory()

    # when
    with pytest.raises(ValidationError) as exc:
        services.developer_profile_create(user=user, dev_ref=dev_ref, company="Acme", contact_name="Ada")

    # then
    assert "dev_ref" in exc.value.message_dict
    assert not DeveloperProfile.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_developer_profile_create_refuses_a_taken_dev_ref():
    # given
    taken = DeveloperFactory(dev_ref="acme")
    user = UserFactory()

    # when
    with pytest.raises(ValidationError) as exc:
        services.developer_profile_create(user=user, dev_ref="ACME", company="Other", contact_name="Bob")

    # then
    assert "dev_ref" in exc.value.message_dict
    assert list(DeveloperProfile.objects.all()) == [taken]
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_developer_profile_create_refuses_a_second_profile():
    # given
    existing = DeveloperFactory(dev_ref="first")

    # when
    with pytest.raises(ValidationError):
        services.developer_profile_create(user=existing.user, dev_ref="second", company="Acme", contact_name="Ada")

    # then
    assert list(DeveloperProfile.objects.values_list("dev_ref", flat=True)) == ["first"]
    assert not AuditEvent.objects.exists()


# --- partner_application_submit -----------------------------------------------------------------


@pytest.mark.django_db
def test_partner_application_submit_creates_a_pending_application():
    # given
    profile = DeveloperFactory()

    # when
    application = _apply(profile)

    # then
    stored = PartnerApplication.objects.get()
    assert stored == application
    assert (stored.status, stored.profile, stored.company_name) == ("pending", profile, "Acme Integrations Ltd")
    assert stored.agreement_accepted_at is not None
    profile.refresh_from_db()
    assert profile.partner_status == DeveloperProfile.PartnerStatus.APPLIED
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.data) == (
        "partner.applied", profile.user, {"company": "Acme Integrations Ltd"})


@pytest.mark.django_db
def test_partner_application_submit_requires_the_agreement():
    # given
    profile = DeveloperFactory()

    # when
    with pytest.raises(ValidationError) as exc:
        _apply(profile, agreement_accepted=False)

    # then
    assert "agreement" in exc.value.messages[0]
    assert not PartnerApplication.objects.exists()
    assert DeveloperProfile.objects.get(pk=profile.pk).partner_status == DeveloperProfile.PartnerStatus.NONE
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_partner_application_submit_refuses_a_second_pending_application():
    # given
    profile = DeveloperFactory()
    first = _apply(profile)

    # when
    with pytest.raises(ValidationError):
        _apply(profile, company_name="Again Ltd")

    # then
    assert list(PartnerApplication.objects.all()) == [first]
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_partner_application_submit_refuses_an_existing_partner():
    # given
    profile = DeveloperFactory(partner=True)

    # when
    with pytest.raises(ValidationError):
        _apply(profile)

    # then
    assert not PartnerApplication.objects.exists()


@pytest.mark.django_db
def test_partner_application_submit_for_someone_elses_profile_is_refused():
    # given
    profile = DeveloperFactory()

    # when
    with pytest.raises(PermissionDenied):
        _apply(profile, actor=DeveloperFactory().user)

    # then
    assert not PartnerApplication.objects.exists()
    assert DeveloperProfile.objects.get(pk=profile.pk).partner_status == DeveloperProfile.PartnerStatus.NONE


# --- partner_application_decide -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["applicant", "staff-not-reviewer", "superuser-not-reviewer"])
def test_partner_application_decide_by_a_non_reviewer_is_refused(who):
    # given
    profile = DeveloperFactory()
    application = _apply(profile)
    actor = {"applicant": lambda: profile.user, "staff-not-reviewer": lambda: UserFactory(is_staff=True),
             "superuser-not-reviewer": lambda: UserFactory(is_staff=True, is_superuser=True)}[who]()

    # when
    with pytest.raises(PermissionDenied):
        services.partner_application_decide(application=application, actor=actor, approve=True)

    # then
    assert PartnerApplication.objects.get(pk=application.pk).status == PartnerApplication.Status.PENDING
    assert DeveloperProfile.objects.get(pk=profile.pk).is_partner is False
    assert not Notification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("note", ["", "  "])
def test_partner_application_reject_needs_a_note(note):
    # given
    profile = DeveloperFactory()
    application = _apply(profile)

    # when
    with pytest.raises(ValidationError):
        services.partner_application_decide(application=application, actor=make_reviewer(), approve=False, note=note)

    # then
    assert PartnerApplication.objects.get(pk=application.pk).status == PartnerApplication.Status.PENDING
    assert DeveloperProfile.objects.get(pk=profile.pk).partner_status == DeveloperProfile.PartnerStatus.APPLIED
    assert not Notification.objects.exists()
    assert not AuditEvent.objects.filter(verb="partner.rejected").exists()


@pytest.mark.django_db
def test_partner_application_reject_with_a_note_notifies(django_capture_on_commit_callbacks, mailoutbox):
    # given
    profile = DeveloperFactory()
    application = _apply(profile)
    reviewer = make_reviewer()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.partner_application_decide(application=application, actor=reviewer, approve=False,
                                            note="We could not verify the company number.")

    # then
    application.refresh_from_db()
    assert (application.status, application.reviewer, application.decision_note) == (
        PartnerApplication.Status.REJECTED, reviewer, "We could not verify the company number.")
    profile.refresh_from_db()
    assert (profile.partner_status, profile.is_partner) == (DeveloperProfile.PartnerStatus.REJECTED, False)
    assert AuditEvent.objects.filter(verb="partner.rejected", actor=reviewer).count() == 1
    notification = Notification.objects.get()
    assert (notification.user, notification.body) == (profile.user, "We could not verify the company number.")
    assert [message.to for message in mailoutbox] == [[profile.user.email]]


@pytest.mark.django_db
def test_partner_application_approve_makes_the_developer_a_partner(django_capture_on_commit_callbacks, mailoutbox):
    # given
    profile = DeveloperFactory(company="Old name")
    application = _apply(profile, company_name="Acme Integrations Ltd")
    reviewer = make_reviewer()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.partner_application_decide(application=application, actor=reviewer, approve=True)

    # then
    profile.refresh_from_db()
    assert profile.is_partner is True
    assert profile.company == "Acme Integrations Ltd"
    application.refresh_from_db()
    assert (application.status, application.reviewer) == (PartnerApplication.Status.APPROVED, reviewer)
    assert application.decided_at is not None
    event = AuditEvent.objects.get(verb="partner.approved")
    assert (event.actor, event.target_id) == (reviewer, str(application.pk))
    notification = Notification.objects.get()
    assert (notification.user, notification.subject) == (profile.user, "You are now a partner")
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [profile.user.email]


@pytest.mark.django_db
def test_partner_application_decide_twice_is_refused():
    # given
    profile = DeveloperFactory()
    application = _apply(profile)
    reviewer = make_reviewer()
    services.partner_application_decide(application=application, actor=reviewer, approve=True)

    # when
    with pytest.raises(ValidationError):
        services.partner_application_decide(application=application, actor=reviewer, approve=False, note="Oops.")

    # then
    assert DeveloperProfile.objects.get(pk=profile.pk).is_partner is True
    assert Notification.objects.count() == 1


# --- account_create -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["superuser", "staff-with-add-account"])
def test_account_create_by_an_operator_with_an_owner(who):
    # given
    actor = UserFactory(is_staff=True, is_superuser=True) if who == "superuser" else _operator()
    owner = UserFactory(email="owner@example.com")

    # when
    account = services.account_create(code=" OuterHeaven ", name="Outer Heaven", datacentre="eu1",
                                      owner_email="OWNER@example.com", actor=actor)

    # then
    stored = Account.objects.get()
    assert stored == account
    assert (stored.code, stored.name, stored.datacentre) == ("outerheaven", "Outer Heaven", "eu1")
    membership = Membership.objects.get()
    assert (membership.account, membership.user, membership.role, membership.added_by) == (
        account, owner, Membership.Role.OWNER, actor)
    assert list(AuditEvent.objects.order_by("id").values_list("verb", "actor")) == [
        ("account.created", actor.pk), ("account.member_added", actor.pk)]


@pytest.mark.django_db
def test_account_create_from_the_command_line_without_an_actor():
    # given
    actor = None

    # when
    account = services.account_create(code="cli-account", name="CLI", datacentre="use1", actor=actor)

    # then
    assert Account.objects.get().code == "cli-account"
    assert not Membership.objects.exists()
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.target_id) == ("account.created", None, str(account.pk))


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["developer", "staff-without-permission", "reviewer", "inactive-superuser"])
def test_account_create_by_a_non_operator_is_refused(who):
    # given
    actor = {"developer": lambda: DeveloperFactory().user,
             "staff-without-permission": lambda: UserFactory(is_staff=True),
             "reviewer": make_reviewer,
             "inactive-superuser": lambda: UserFactory(is_staff=True, is_superuser=True, is_active=False)}[who]()

    # when
    with pytest.raises(PermissionDenied):
        services.account_create(code="outerheaven", name="Outer Heaven", datacentre="eu1", actor=actor)

    # then
    assert not Account.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["Bad Code", "-x", "with_underscore", "", "x" * 51])
def test_account_create_refuses_a_bad_code(code):
    # given
    actor = None

    # when
    with pytest.raises(ValidationError) as exc:
        services.account_create(code=code, name="Outer Heaven", datacentre="eu1", actor=actor)

    # then
    assert "code" in exc.value.message_dict
    assert not Account.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("datacentre", ["mars1", "", "EU1"])
def test_account_create_refuses_an_unknown_datacentre(datacentre):
    # given
    actor = _operator()

    # when
    with pytest.raises(ValidationError) as exc:
        services.account_create(code="outerheaven", name="Outer Heaven", datacentre=datacentre, actor=actor)

    # then
    assert "datacentre" in exc.value.message_dict
    assert not Account.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_account_create_refuses_a_taken_code():
    # given
    AccountFactory(code="outerheaven")

    # when
    with pytest.raises(ValidationError) as exc:
        services.account_create(code="OuterHeaven", name="Copy", datacentre="eu1", actor=None)

    # then
    assert "code" in exc.value.message_dict
    assert Account.objects.count() == 1


@pytest.mark.django_db
def test_account_create_with_an_unknown_owner_email_leaves_no_account_behind():
    # given
    actor = _operator()

    # when
    with pytest.raises(ValidationError) as exc:
        services.account_create(code="outerheaven", name="Outer Heaven", datacentre="eu1",
                                owner_email="nobody@example.com", actor=actor)

    # then
    assert "owner_email" in exc.value.message_dict
    assert not Account.objects.exists()
    assert not Membership.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_account_create_with_an_unknown_owner_leaves_nothing_inside_a_callers_transaction():
    # given: a caller (an admin view, a command) that handles the error and carries on in its transaction
    actor = _operator()

    # when
    with transaction.atomic():
        with pytest.raises(ValidationError):
            services.account_create(code="outerheaven", name="Outer Heaven", datacentre="eu1",
                                    owner_email="nobody@example.com", actor=actor)
        AccountFactory(code="other")

    # then
    assert list(Account.objects.values_list("code", flat=True)) == ["other"]
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_account_create_with_an_unknown_owner_commits_nothing():
    # given: no surrounding transaction, so anything the service wrote would really be committed
    assert not transaction.get_connection().in_atomic_block
    actor = _operator()

    # when
    with pytest.raises(ValidationError):
        services.account_create(code="outerheaven", name="Outer Heaven", datacentre="eu1",
                                owner_email="nobody@example.com", actor=actor)

    # then
    assert not Account.objects.exists()
    assert not Membership.objects.exists()
    assert not AuditEvent.objects.exists()


# --- account members ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.STAFF])
def test_account_member_add_by_an_owner(role, django_capture_on_commit_callbacks, mailoutbox):
    # given
    owner = MembershipFactory(role=Membership.Role.OWNER)
    account = owner.account
    newcomer = UserFactory(email="new@example.com")

    # when
    with django_capture_on_commit_callbacks(execute=True):
        membership = services.account_member_add(account=account, email=" NEW@example.com ", role=role,
                                                 actor=owner.user)

    # then
    stored = Membership.objects.get(account=account, user=newcomer)
    assert stored == membership
    assert (stored.role, stored.added_by) == (role, owner.user)
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.data) == (
        "account.member_added", owner.user, {"email": "new@example.com", "role": role, "account": account.code})
    assert Notification.objects.get().user == newcomer
    assert [message.to for message in mailoutbox] == [["new@example.com"]]


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.STAFF, None])
def test_account_member_add_by_a_non_owner_is_refused(role):
    # given
    account = MembershipFactory(role=Membership.Role.OWNER).account
    actor = MembershipFactory(account=account, role=role).user if role else UserFactory()
    newcomer = UserFactory()
    before = Membership.objects.count()

    # when
    with pytest.raises(PermissionDenied):
        services.account_member_add(account=account, email=newcomer.email, role=Membership.Role.STAFF, actor=actor)

    # then
    assert Membership.objects.count() == before
    assert not Membership.objects.filter(user=newcomer).exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_account_member_add_refuses_an_unknown_email():
    # given
    owner = MembershipFactory(role=Membership.Role.OWNER)

    # when
    with pytest.raises(ValidationError) as exc:
        services.account_member_add(account=owner.account, email="nobody@example.com", role="staff", actor=owner.user)

    # then
    assert "email" in exc.value.message_dict
    assert Membership.objects.count() == 1
    assert not AuditEvent.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_account_member_add_refuses_an_existing_member():
    # given
    owner = MembershipFactory(role=Membership.Role.OWNER)
    member = MembershipFactory(account=owner.account, role=Membership.Role.STAFF)

    # when
    with pytest.raises(ValidationError) as exc:
        services.account_member_add(account=owner.account, email=member.user.email, role="admin", actor=owner.user)

    # then
    assert "already a member" in exc.value.message_dict["email"][0]
    assert Membership.objects.get(pk=member.pk).role == Membership.Role.STAFF
    assert Membership.objects.count() == 2
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_account_member_add_refuses_an_unknown_role():
    # given
    owner = MembershipFactory(role=Membership.Role.OWNER)
    newcomer = UserFactory()

    # when
    with pytest.raises(ValidationError) as exc:
        services.account_member_add(account=owner.account, email=newcomer.email, role="superuser", actor=owner.user)

    # then
    assert "role" in exc.value.message_dict
    assert not Membership.objects.filter(user=newcomer).exists()


@pytest.mark.django_db
def test_account_member_remove_by_an_owner():
    # given
    owner = MembershipFactory(role=Membership.Role.OWNER)
    member = MembershipFactory(account=owner.account, role=Membership.Role.STAFF)

    # when
    services.account_member_remove(membership=member, actor=owner.user)

    # then
    assert list(Membership.objects.all()) == [owner]
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.data) == (
        "account.member_removed", owner.user,
        {"email": member.user.email, "role": "staff", "account": owner.account.code, "revoked_staff_tokens": []})


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.STAFF])
def test_account_member_remove_by_a_non_owner_is_refused(role):
    # given
    owner = MembershipFactory(role=Membership.Role.OWNER)
    actor = MembershipFactory(account=owner.account, role=role)
    victim = MembershipFactory(account=owner.account, role=Membership.Role.STAFF)

    # when
    with pytest.raises(PermissionDenied):
        services.account_member_remove(membership=victim, actor=actor.user)

    # then
    assert Membership.objects.filter(pk=victim.pk).exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_account_member_remove_refuses_an_owner_of_another_account():
    # given
    victim = MembershipFactory(role=Membership.Role.STAFF)
    MembershipFactory(account=victim.account, role=Membership.Role.OWNER)
    other_owner = MembershipFactory(role=Membership.Role.OWNER)

    # when
    with pytest.raises(PermissionDenied):
        services.account_member_remove(membership=victim, actor=other_owner.user)

    # then
    assert Membership.objects.filter(pk=victim.pk).exists()


@pytest.mark.django_db
def test_the_last_owner_cannot_be_removed():
    # given
    owner = MembershipFactory(role=Membership.Role.OWNER)
    MembershipFactory(account=owner.account, role=Membership.Role.ADMIN)

    # when
    with pytest.raises(ValidationError):
        services.account_member_remove(membership=owner, actor=owner.user)

    # then
    assert Membership.objects.filter(pk=owner.pk, role=Membership.Role.OWNER).exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_an_owner_can_be_removed_while_another_owner_remains():
    # given
    owner = MembershipFactory(role=Membership.Role.OWNER)
    co_owner = MembershipFactory(account=owner.account, role=Membership.Role.OWNER)

    # when
    services.account_member_remove(membership=owner, actor=co_owner.user)

    # then
    assert list(Membership.objects.all()) == [co_owner]


# --- account_set_show_beta_apps -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Membership.Role.OWNER, Membership.Role.ADMIN])
def test_account_set_show_beta_apps_by_an_owner_or_admin(role):
    # given
    membership = MembershipFactory(role=role, account=AccountFactory(show_beta_apps=False))

    # when
    services.account_set_show_beta_apps(account=membership.account, show=True, actor=membership.user)

    # then
    assert Account.objects.get(pk=membership.account_id).show_beta_apps is True
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.data) == ("account.show_beta_apps_changed", membership.user, {"show": True})


@pytest.mark.django_db
def test_account_set_show_beta_apps_to_the_same_value_writes_no_event():
    # given
    membership = MembershipFactory(role=Membership.Role.OWNER, account=AccountFactory(show_beta_apps=True))

    # when
    services.account_set_show_beta_apps(account=membership.account, show=True, actor=membership.user)

    # then
    assert Account.objects.get(pk=membership.account_id).show_beta_apps is True
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["staff-member", "outsider", "owner-of-another-account"])
def test_account_set_show_beta_apps_by_anyone_else_is_refused(who):
    # given
    account = AccountFactory(show_beta_apps=False)
    MembershipFactory(account=account, role=Membership.Role.OWNER)
    actor = {"staff-member": lambda: MembershipFactory(account=account, role=Membership.Role.STAFF).user,
             "outsider": lambda: UserFactory(),
             "owner-of-another-account": lambda: MembershipFactory(role=Membership.Role.OWNER).user}[who]()

    # when
    with pytest.raises(PermissionDenied):
        services.account_set_show_beta_apps(account=account, show=True, actor=actor)

    # then
    assert Account.objects.get(pk=account.pk).show_beta_apps is False
    assert not AuditEvent.objects.exists()


# --- audit_record -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_audit_record_refuses_to_run_outside_a_transaction():
    # given
    account = AccountFactory()
    assert not transaction.get_connection().in_atomic_block

    # when
    with pytest.raises(RuntimeError):
        audit_record(actor=None, verb="account.poked", target=account)

    # then
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_audit_record_inside_a_transaction_writes_the_event():
    # given
    account = AccountFactory(code="outerheaven")
    actor = UserFactory()

    # when
    with transaction.atomic():
        audit_record(actor=actor, verb="account.poked", target=account, data={"why": "test"}, app_ref="some-app")

    # then
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.target_type, event.target_id, event.target_label) == (
        "account.poked", actor, "accounts.account", str(account.pk), "outerheaven")
    assert (event.data, event.app_ref) == ({"why": "test"}, "some-app")
