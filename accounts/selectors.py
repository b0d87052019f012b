"""Reads about people and accounts that views on both sides of the layering share."""

from django.shortcuts import get_object_or_404

from accounts.models import Membership


def membership_or_404(*, user, code: str) -> Membership:
    """The user's membership of the account ``code`` (with the account); a 404 when there is none, so
    another account looks like no account at all."""
    return get_object_or_404(Membership.objects.select_related("account"), user=user, account__code=code)
