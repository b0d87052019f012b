"""Writes for people and accounts. Each service is atomic, checks who may act, and audits."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.conf import accounts_settings
from accounts.models import Account, DeveloperProfile, Membership, PartnerApplication, User
from accounts.notifications import notify
from accounts.roles import is_operator, is_reviewer, require_account_manager
from accounts.staff_tokens import staff_tokens_revoke_for_member


def _full_clean(instance, exclude=None):
    instance.full_clean(exclude=exclude)
    return instance


@transaction.atomic
def developer_profile_create(*, user: User, dev_ref: str, company: str, contact_name: str,
                             contact_phone: str = "", website: str = "") -> DeveloperProfile:
    """Register ``user`` as a developer. Raises ValidationError for a taken or malformed dev_ref,
    or if the user already has a profile."""
    if DeveloperProfile.objects.filter(user=user).exists():
        raise ValidationError("You are already registered as a developer.")
    profile = _full_clean(DeveloperProfile(
        user=user, dev_ref=dev_ref.strip().lower(), company=company.strip(), contact_name=contact_name.strip(),
        contact_phone=contact_phone.strip(), website=website.strip(),
    ))
    profile.save()
    audit_record(actor=user, verb="developer.registered", target=profile, data={"dev_ref": profile.dev_ref})
    return profile


@transaction.atomic
def developer_profile_update(*, profile: DeveloperProfile, actor: User, company: str, contact_name: str,
                             contact_phone: str = "", website: str = "") -> DeveloperProfile:
    """Change contact details (the dev_ref never changes). Only the profile's owner may."""
    profile = DeveloperProfile.objects.select_for_update().get(pk=profile.pk)
    if profile.user_id != actor.pk:
        raise PermissionDenied("Only the developer can edit this profile.")
    before = {"company": profile.company, "contact_name": profile.contact_name,
              "contact_phone": profile.contact_phone, "website": profile.website}
    profile.company, profile.contact_name = company.strip(), contact_name.strip()
    profile.contact_phone, profile.website = contact_phone.strip(), website.strip()
    _full_clean(profile).save()
    after = {key: getattr(profile, key) for key in before}
    audit_record(actor=actor, verb="developer.updated", target=profile,
                 data={"changed": {k: [before[k], after[k]] for k in before if before[k] != after[k]}})
    return profile


@transaction.atomic
def partner_application_submit(*, profile: DeveloperProfile, actor: User, company_name: str, company_number: str,
                               country: str, website: str, description: str,
                               agreement_accepted: bool) -> PartnerApplication:
    """Apply to become a partner. Requires the partner agreement to be accepted, no pending
    application and not already a partner."""
    profile = DeveloperProfile.objects.select_for_update().get(pk=profile.pk)
    if profile.user_id != actor.pk:
        raise PermissionDenied("Only the developer can apply for their own profile.")
    if profile.is_partner:
        raise ValidationError("You are already a partner.")
    if profile.partner_status == DeveloperProfile.PartnerStatus.APPLIED:
        raise ValidationError("Your partner application is already waiting for review.")
    if not agreement_accepted:
        raise ValidationError("You must accept the partner agreement.")
    application = _full_clean(PartnerApplication(
        profile=profile, company_name=company_name.strip(), company_number=company_number.strip(),
        country=country.strip(), website=website.strip(), description=description.strip(),
        agreement_accepted_at=timezone.now(),
    ))
    application.save()
    profile.partner_status = DeveloperProfile.PartnerStatus.APPLIED
    profile.save(update_fields=["partner_status", "updated_at"])
    audit_record(actor=actor, verb="partner.applied", target=application, data={"company": application.company_name})
    return application


@transaction.atomic
def partner_application_decide(*, application: PartnerApplication, actor: User, approve: bool,
                               note: str = "") -> PartnerApplication:
    """A reviewer approves or rejects a pending partner application (a note is required to reject)."""
    if not is_reviewer(actor):
        raise PermissionDenied("Only reviewers can decide partner applications.")
    application = PartnerApplication.objects.select_for_update().select_related("profile").get(pk=application.pk)
    if application.status != PartnerApplication.Status.PENDING:
        raise ValidationError("This application has already been decided.")
    note = note.strip()
    if not approve and not note:
        raise ValidationError("Say why the application is rejected.")
    application.status = PartnerApplication.Status.APPROVED if approve else PartnerApplication.Status.REJECTED
    application.reviewer, application.decided_at, application.decision_note = actor, timezone.now(), note
    application.save()
    profile = application.profile
    profile.partner_status = (DeveloperProfile.PartnerStatus.APPROVED if approve
                              else DeveloperProfile.PartnerStatus.REJECTED)
    if approve:
        profile.company = application.company_name
    profile.save(update_fields=["partner_status", "company", "updated_at"])
    verb = "partner.approved" if approve else "partner.rejected"
    audit_record(actor=actor, verb=verb, target=application, data={"note": note})
    notify(
        user=profile.user,
        subject="You are now a partner" if approve else "Your partner application was not approved",
        body=note or "You can now request lifecycle progression for your apps.",
        link=reverse("accounts:developer_profile"),
    )
    return application


@transaction.atomic
def account_create(*, code: str, name: str, datacentre: str, owner_email: str = "", actor: User | None) -> Account:
    """Create a platform account, optionally with its first owner. Operators only (``actor=None``
    means a trusted command line)."""
    if actor is not None and not is_operator(actor):
        raise PermissionDenied("Only operators can create accounts.")
    datacentres = dict(accounts_settings.DATACENTRES)
    if datacentre.strip() not in datacentres:
        raise ValidationError({"datacentre": f"Choose one of: {', '.join(datacentres)}."})
    account = _full_clean(Account(code=code.strip().lower(), name=name.strip(), datacentre=datacentre.strip()))
    account.save()
    audit_record(actor=actor, verb="account.created", target=account, data={"code": account.code})
    if owner_email:
        owner = User.objects.filter(email__iexact=owner_email.strip()).first()
        if owner is None:
            raise ValidationError({"owner_email": f"No user has the email address {owner_email}."})
        membership = Membership.objects.create(account=account, user=owner, role=Membership.Role.OWNER, added_by=actor)
        audit_record(actor=actor, verb="account.member_added", target=membership,
                     data={"email": owner.email, "role": membership.role, "account": account.code})
    return account


def _require_owner(account: Account, actor: User) -> None:
    """Owners manage the members of their account; operators (in the Django admin) of every account."""
    if is_operator(actor):
        return
    if not Membership.objects.filter(account=account, user=actor, role=Membership.Role.OWNER).exists():
        raise PermissionDenied("Only an owner of this account can manage its members.")


def _refuse_losing_the_last_owner(account: Account, membership: Membership) -> None:
    if membership.role == Membership.Role.OWNER and not Membership.objects.filter(
        account=account, role=Membership.Role.OWNER
    ).exclude(pk=membership.pk).exists():
        raise ValidationError("An account needs at least one owner; add another owner first.")


@transaction.atomic
def account_member_add(*, account: Account, email: str, role: str, actor: User) -> Membership:
    """An owner adds an existing user to the account by email with a role."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    _require_owner(account, actor)
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose owner, admin or staff."})
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is None:
        raise ValidationError({"email": "No one has signed up with that email address yet. Ask them to sign up first."})
    if Membership.objects.filter(account=account, user=user).exists():
        raise ValidationError({"email": f"{user.email} is already a member of {account.code}."})
    membership = Membership.objects.create(account=account, user=user, role=role, added_by=actor)
    audit_record(actor=actor, verb="account.member_added", target=membership,
                 data={"email": user.email, "role": role, "account": account.code})
    notify(user=user, subject=f"You were added to the account {account.code}",
           body=f"{actor.email} added you as {membership.get_role_display().lower()}.",
           link=reverse("accounts:account_detail", args=[account.code]))
    return membership


@transaction.atomic
def account_member_remove(*, membership: Membership, actor: User) -> None:
    """An owner removes a member. The last owner cannot be removed. The member's staff tokens for this
    account are revoked (each audited): adding them again later does not bring the tokens back."""
    account = Account.objects.select_for_update().get(pk=membership.account_id)
    _require_owner(account, actor)
    membership = Membership.objects.select_related("user").get(pk=membership.pk)
    _refuse_losing_the_last_owner(account, membership)
    revoked = staff_tokens_revoke_for_member(account=account, member=membership.user, actor=actor,
                                             reason="member removed")
    audit_record(actor=actor, verb="account.member_removed", target=membership,
                 data={"email": membership.user.email, "role": membership.role, "account": account.code,
                       "revoked_staff_tokens": revoked})
    membership.delete()



@transaction.atomic
def account_member_set_role(*, membership: Membership, role: str, actor: User) -> Membership:
    """An owner (or an operator) gives a member another role. The last owner keeps theirs."""
    account = Account.objects.select_for_update().get(pk=membership.account_id)
    _require_owner(account, actor)
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose owner, admin or staff."})
    membership = Membership.objects.select_related("user").get(pk=membership.pk)
    if membership.role == role:
        return membership
    if role != Membership.Role.OWNER:
        _refuse_losing_the_last_owner(account, membership)
    previous, membership.role = membership.role, role
    membership.save(update_fields=["role"])
    audit_record(actor=actor, verb="account.member_changed", target=membership,
                 data={"email": membership.user.email, "role": role, "previous_role": previous,
                       "account": account.code})
    return membership

def account_set_show_beta_apps(*, account: Account, show: bool, actor: User) -> Account:
    """Owners and admins choose whether the account's store shows beta apps."""
    return _account_switch(account, actor, "show_beta_apps", show, verb="account.show_beta_apps_changed",
                           data={"show": show})


def account_usage_alerts_mute(*, actor, account: Account, muted: bool) -> Account:
    """Owners and admins of the account turn usage alerts for it off (``muted``) or back on (the alerts
    themselves are the portal's: ``portal/usage_alerts.py``)."""
    if not isinstance(muted, bool):
        raise ValidationError("Say whether usage alerts are muted (true or false).")
    return _account_switch(account, actor, "usage_alerts_muted", muted, verb="account.usage_alerts_changed",
                           data={"muted": muted})


@transaction.atomic
def _account_switch(account: Account, actor, field: str, value: bool, *, verb: str, data: dict) -> Account:
    """Set one on/off setting of the account, as its owners and admins only (PermissionDenied for anyone else);
    audited when it changes, and the same value again changes nothing."""
    account = Account.objects.select_for_update().get(pk=account.pk)
    require_account_manager(actor, account=account, message="Only owners and admins can change this.")
    if getattr(account, field) != value:
        setattr(account, field, value)
        account.save(update_fields=[field])
        audit_record(actor=actor, verb=verb, target=account, data=data)
    return account
