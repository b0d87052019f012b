"""Machine secrets of people and accounts (staff tokens, developer API keys): generated here,
shown once, stored only as SHA-256 (they are long and random, so a fast hash is enough)."""

import functools
import hashlib
import secrets

from django.db import connection
from django.utils import timezone

from accounts.models import Account, DeveloperApiKey, Membership, PrivateApp, StaffToken, User
from accounts.prepared import aware_datetime, fetch_one, partial_instance

PREFIX_LENGTH = 8


def new_secret(kind: str) -> str:
    """A new random secret with a readable kind prefix, e.g. "pst_…" for staff tokens."""
    return f"{kind}_{secrets.token_urlsafe(32)}"


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


STAFF_TOKEN_STATEMENT = "portal_staff_token"


@functools.cache
def _staff_token_sql(vendor: str) -> str:
    q = connection.ops.quote_name
    token, app = q(StaffToken._meta.db_table), q(PrivateApp._meta.db_table)
    account, user, membership = q(Account._meta.db_table), q(User._meta.db_table), q(Membership._meta.db_table)
    return (
        f"SELECT s.{q('id')}, s.{q('member_id')}, s.{q('name')}, s.{q('prefix')}, s.{q('last_used_at')}, "
        f"s.{q('expires_at')}, s.{q('revoked_at')}, p.{q('id')}, p.{q('identifier')}, c.{q('id')}, c.{q('code')}, "
        f"c.{q('status')}, u.{q('email')} "
        f"FROM {token} s JOIN {app} p ON p.{q('id')} = s.{q('private_app_id')} "
        f"JOIN {account} c ON c.{q('id')} = p.{q('account_id')} "
        f"JOIN {user} u ON u.{q('id')} = s.{q('member_id')} "
        f"WHERE s.{q('token_hash')} = %s AND p.{q('identifier')} = %s AND u.{q('is_active')} "
        f"AND EXISTS (SELECT 1 FROM {membership} m WHERE m.{q('account_id')} = p.{q('account_id')} "
        f"AND m.{q('user_id')} = s.{q('member_id')})"
    )


def staff_token_lookup(*, app_ref: str, raw_token: str) -> StaffToken | None:
    """The usable staff token for this secret under the private app ``app_ref`` (not revoked, not
    expired, and acting for an active user who is still a member of the account), with its private app,
    account and member attached (holding what the gateway reads; other fields load on access); None
    otherwise. One hand-written query, prepared on PostgreSQL: it runs on every API call of a script, and the
    ORM spent about a millisecond compiling it and PostgreSQL as long planning it."""
    if not raw_token or not app_ref:
        return None
    row = fetch_one(STAFF_TOKEN_STATEMENT, _staff_token_sql(connection.vendor), [hash_secret(raw_token), app_ref])
    if row is None:
        return None
    (token_pk, member_pk, name, prefix, last_used_at, expires_at, revoked_at, app_pk, identifier, account_pk, code,
     status, email) = row
    db = connection.alias
    token = partial_instance(StaffToken, db, id=token_pk, private_app_id=app_pk, member_id=member_pk, name=name,
                             prefix=prefix, last_used_at=aware_datetime(last_used_at),
                             expires_at=aware_datetime(expires_at), revoked_at=aware_datetime(revoked_at))
    if not token.is_usable(timezone.now()):
        return None
    private_app = partial_instance(PrivateApp, db, id=app_pk, account_id=account_pk, identifier=identifier)
    private_app.account = partial_instance(Account, db, id=account_pk, code=code, status=status)
    token.private_app = private_app
    token.member = partial_instance(User, db, id=member_pk, email=email, is_active=True)
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
