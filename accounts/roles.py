"""Who may do what: small predicates used by services (and, for display, by views)."""

from django.core.exceptions import PermissionDenied

from accounts.conf import accounts_settings
from accounts.models import Account, Membership


def is_reviewer(user) -> bool:
    """Reviewers are active staff users in the reviewers group."""
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    cached = getattr(user, "_is_reviewer", None)
    if cached is None:
        cached = user.groups.filter(name=accounts_settings.REVIEWERS_GROUP).exists()
        user._is_reviewer = cached
    return cached


def require_reviewer(user, *, message: str = "Only reviewers can do this.") -> None:
    """Raise PermissionDenied(``message``) unless ``user`` is a reviewer."""
    if not is_reviewer(user):
        raise PermissionDenied(message)


def is_operator(user) -> bool:
    """Operators run the platform: superusers, or staff allowed to add accounts in the admin."""
    return bool(user and user.is_authenticated and user.is_active and (
        user.is_superuser or (user.is_staff and user.has_perm("accounts.add_account"))
    ))


def membership_of(user, account) -> Membership | None:
    if not (user and user.is_authenticated):
        return None
    return Membership.objects.filter(user=user, account=account).first()


# --- Owners and admins manage an account: its members, apps turned on, syncs, private apps and staff tokens ---

MANAGER_ROLES = Membership.MANAGER_ROLES


def is_manager_role(role: str) -> bool:
    """The one owner-or-admin rule (``Membership.can_manage`` and every query below use it)."""
    return role in MANAGER_ROLES


def account_managers(*, account: Account | None = None, account_code: str | None = None):
    """The owner and admin memberships of an account (given as a row or by its code)."""
    memberships = Membership.objects.filter(role__in=MANAGER_ROLES)
    return memberships.filter(account=account) if account is not None else memberships.filter(
        account__code=account_code)


def is_account_manager(user, *, account: Account | None = None, account_code: str | None = None) -> bool:
    """Whether ``user`` is an owner or admin of the account (given as a row or by its code)."""
    if not (user and user.is_authenticated):
        return False
    return account_managers(account=account, account_code=account_code).filter(user=user).exists()


def require_account_manager(user, *, account: Account, message: str) -> None:
    """Raise PermissionDenied(``message``) unless ``user`` is an owner or admin of ``account``."""
    if not is_account_manager(user, account=account):
        raise PermissionDenied(message)


def accounts_managed_by(user):
    """The accounts ``user`` is an owner or admin of."""
    return Account.objects.filter(memberships__user=user, memberships__role__in=MANAGER_ROLES)
