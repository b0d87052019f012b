"""Who may do what: small predicates used by services (and, for display, by views)."""

from accounts.conf import accounts_settings

from accounts.models import Membership


def is_reviewer(user) -> bool:
    """Reviewers are active staff users in the reviewers group."""
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    cached = getattr(user, "_is_reviewer", None)
    if cached is None:
        cached = user.groups.filter(name=accounts_settings.REVIEWERS_GROUP).exists()
        user._is_reviewer = cached
    return cached


def is_operator(user) -> bool:
    """Operators run the platform: superusers, or staff allowed to add accounts in the admin."""
    return bool(user and user.is_authenticated and user.is_active and (
        user.is_superuser or (user.is_staff and user.has_perm("accounts.add_account"))
    ))


def membership_of(user, account) -> Membership | None:
    if not (user and user.is_authenticated):
        return None
    return Membership.objects.filter(user=user, account=account).first()


def can_manage_account(user, account) -> bool:
    membership = membership_of(user, account)
    return bool(membership and membership.can_manage)
