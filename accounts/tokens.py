"""Machine secrets of people and accounts (staff tokens, developer API keys): generated here,
shown once, stored only as SHA-256 (they are long and random, so a fast hash is enough)."""

import hashlib
import secrets

from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import DeveloperApiKey, Membership, StaffToken

PREFIX_LENGTH = 8


def new_secret(kind: str) -> str:
    """A new random secret with a readable kind prefix, e.g. "pst_…" for staff tokens."""
    return f"{kind}_{secrets.token_urlsafe(32)}"


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def staff_token_lookup(*, app_ref: str, raw_token: str) -> StaffToken | None:
    """The usable staff token for this secret under the private app ``app_ref`` (not revoked, not
    expired, and acting for an active user who is still a member of the account), with its private app,
    account and member loaded; None otherwise. One query."""
    if not raw_token or not app_ref:
        return None
    still_member = Membership.objects.filter(account=OuterRef("private_app__account"), user=OuterRef("member"))
    token = (
        StaffToken.objects.select_related("private_app__account", "member")
        .filter(Exists(still_member), token_hash=hash_secret(raw_token), private_app__identifier=app_ref,
                member__is_active=True)
        .first()
    )
    if token is None or not token.is_usable(timezone.now()):
        return None
    return token


def developer_api_key_lookup(*, raw_key: str) -> DeveloperApiKey | None:
    if not raw_key:
        return None
    key = (
        DeveloperApiKey.objects.select_related("user")
        .filter(key_hash=hash_secret(raw_key), revoked_at__isnull=True)
        .first()
    )
    return key if key and key.user.is_active else None
