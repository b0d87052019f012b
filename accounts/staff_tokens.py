"""Private apps and staff tokens of a platform account.

An owner or admin adds a private app (its identifier is what scripts send as ``brightpearl-app-ref``) and
creates staff tokens under it for the account's members. A token's secret is returned once, by
``staff_token_create``; only its SHA-256 and a short prefix are stored. Owners and admins write; every
member may read the list (``private_apps_of_account``). All staff tokens of one account share one fixed
rate pool, enforced by the gateway.
"""

import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Account, Membership, PrivateApp, StaffToken, User
from accounts.roles import require_account_manager
from accounts.tokens import PREFIX_LENGTH, hash_secret, new_secret

STAFF_TOKEN_KIND = "pst"
IDENTIFIER_SUFFIX = re.compile(r"[a-z0-9-]{4,16}")
IDENTIFIER_RULE = "4–16 lowercase letters, digits or hyphens"


class StaffTokenStatus:
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def _require_manager(account: Account, actor: User) -> None:
    require_account_manager(
        actor, account=account,
        message="Only owners and admins of this account can manage its private apps and staff tokens.")


def _required_text(value: str, *, field: str, label: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: f"Give the {label} a name."})
    if len(value) > max_length:
        raise ValidationError({field: f"Keep the name to {max_length} characters."})
    return value


# --- Private apps -----------------------------------------------------------------------------------------------


@transaction.atomic
def private_app_create(*, account: Account, name: str, identifier: str, actor: User) -> PrivateApp:
    """Add a private app to ``account``. Owners and admins only (PermissionDenied otherwise).

    ``identifier`` must be ``<account code>_`` followed by 4–16 lowercase letters, digits or hyphens and not
    be taken by any account; it is stored lowercased. Raises ValidationError (keyed ``name`` or
    ``identifier``) for a missing name or a malformed or taken identifier. Audited as ``private_app.created``.
    """
    account = Account.objects.select_for_update().get(pk=account.pk)
    _require_manager(account, actor)
    name = _required_text(name, field="name", label="private app", max_length=100)
    identifier = (identifier or "").strip().lower()
    prefix = f"{account.code}_"
    if not identifier.startswith(prefix):
        raise ValidationError({"identifier": f"The identifier must start with {prefix} (this account's code and "
                                             f"an underscore), then {IDENTIFIER_RULE}."})
    if not IDENTIFIER_SUFFIX.fullmatch(identifier[len(prefix):]):
        raise ValidationError({"identifier": f"After {prefix}, use {IDENTIFIER_RULE}."})
    if PrivateApp.objects.filter(identifier=identifier).exists():
        raise ValidationError({"identifier": f"{identifier} is already taken; choose another."})
    private_app = PrivateApp.objects.create(account=account, name=name, identifier=identifier, created_by=actor)
    audit_record(actor=actor, verb="private_app.created", target=private_app,
                 data={"account": account.code, "identifier": identifier, "name": name})
    return private_app


@transaction.atomic
def private_app_delete(*, private_app: PrivateApp, actor: User) -> int:
    """Delete a private app; its staff tokens are revoked (each audited) and then deleted with it, so they
    stop working at once. Owners and admins of its account only. Returns how many usable tokens were
    revoked. Audited as ``private_app.deleted``."""
    private_app = PrivateApp.objects.select_for_update().select_related("account").get(pk=private_app.pk)
    _require_manager(private_app.account, actor)
    now = timezone.now()
    revoked = []
    for token in private_app.staff_tokens.select_for_update().filter(revoked_at__isnull=True).order_by("pk"):
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        audit_record(actor=actor, verb="staff_token.revoked", target=token, data={
            "account": private_app.account.code, "identifier": private_app.identifier, "prefix": token.prefix,
            "reason": "private app deleted",
        })
        revoked.append(token.prefix)
    audit_record(actor=actor, verb="private_app.deleted", target=private_app, data={
        "account": private_app.account.code, "identifier": private_app.identifier, "revoked_tokens": revoked,
    })
    private_app.delete()
    return len(revoked)


# --- Staff tokens -----------------------------------------------------------------------------------------------


def _member_of(account: Account, *, member: User | None, member_email: str) -> User:
    if member is not None:
        query = {"user": member}
    elif (member_email or "").strip():
        query = {"user__email__iexact": member_email.strip()}
    else:
        raise ValidationError({"member": "Choose the member the token acts for."})
    membership = Membership.objects.select_related("user").filter(account=account, **query).first()
    if membership is None:
        raise ValidationError({"member": f"The token must act for a member of {account.code}."})
    if not membership.user.is_active:
        raise ValidationError({"member": f"{membership.user.email} is deactivated."})
    return membership.user


@transaction.atomic
def staff_token_create(*, private_app: PrivateApp, name: str, actor: User, member: User | None = None,
                       member_email: str = "", expires_at: datetime | None = None) -> tuple[StaffToken, str]:
    """Create a staff token under ``private_app`` that acts for a member of its account (given as ``member``
    or ``member_email``). Owners and admins of the account only (PermissionDenied otherwise).

    Returns ``(token, raw_secret)``: the raw secret exists only in this return value (the row keeps its
    SHA-256 and first characters), so show it once. Raises ValidationError (keyed ``name``, ``member`` or
    ``expires_at``) for a missing name, someone who is not an active member, or an expiry that is not in
    the future. Audited as ``staff_token.created``.
    """
    # Locking the app serialises this with private_app_delete, so no token is created under a deleted app.
    private_app = PrivateApp.objects.select_for_update().select_related("account").get(pk=private_app.pk)
    account = private_app.account
    _require_manager(account, actor)
    name = _required_text(name, field="name", label="token", max_length=100)
    user = _member_of(account, member=member, member_email=member_email)
    if StaffToken.objects.filter(private_app__account=account, name__iexact=name, revoked_at__isnull=True).exists():
        raise ValidationError(
            {"name": f"{account.code} already has a staff token named “{name}”; choose another name."})
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise ValidationError({"expires_at": "Give the expiry with a time zone."})
        if expires_at <= timezone.now():
            raise ValidationError({"expires_at": "The expiry must be in the future."})
    raw = new_secret(STAFF_TOKEN_KIND)
    token = StaffToken.objects.create(
        private_app=private_app,
        member=user,
        name=name,
        token_hash=hash_secret(raw),
        prefix=raw[:PREFIX_LENGTH],
        created_by=actor,
        expires_at=expires_at,
    )
    audit_record(
        actor=actor,
        verb="staff_token.created",
        target=token,
        data={
            "account": account.code,
            "identifier": private_app.identifier,
            "prefix": token.prefix,
            "name": name,
            "member": user.email,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, raw


@transaction.atomic
def staff_token_revoke(*, token: StaffToken, actor: User) -> StaffToken:
    """Revoke a staff token; it stops working at once. Owners and admins of its account only
    (PermissionDenied otherwise); ValidationError if it is already revoked. Audited as ``staff_token.revoked``."""
    token = StaffToken.objects.select_for_update().select_related("private_app__account").get(pk=token.pk)
    account = token.private_app.account
    _require_manager(account, actor)
    if token.revoked_at is not None:
        raise ValidationError("This staff token is already revoked.")
    _revoke(token, actor=actor, account=account, now=timezone.now())
    return token


def _revoke(token: StaffToken, *, actor: User, account: Account, now, reason: str = "") -> None:
    """Mark ``token`` revoked and audit it, in the caller's transaction."""
    token.revoked_at = now
    token.save(update_fields=["revoked_at"])
    data = {"account": account.code, "identifier": token.private_app.identifier, "prefix": token.prefix}
    if reason:
        data["reason"] = reason
    audit_record(actor=actor, verb="staff_token.revoked", target=token, data=data)


def staff_tokens_revoke_for_member(*, account: Account, member: User, actor: User, reason: str) -> list[str]:
    """Revoke every usable staff token of ``account`` that acts for ``member`` (each audited with
    ``reason``); returns their prefixes. For services that already checked the actor's permission and
    hold a transaction (removing a member): the tokens stay revoked if the member comes back."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("staff_tokens_revoke_for_member must run inside the caller's transaction")
    now = timezone.now()
    revoked = []
    tokens = (
        StaffToken.objects.select_for_update()
        .select_related("private_app")
        .filter(private_app__account=account, member=member, revoked_at__isnull=True)
        .order_by("pk")
    )
    for token in tokens:
        _revoke(token, actor=actor, account=account, now=now, reason=reason)
        revoked.append(token.prefix)
    return revoked


# --- Reads ------------------------------------------------------------------------------------------------------


def staff_token_status(token: StaffToken, now: datetime | None = None) -> str:
    if token.revoked_at is not None:
        return StaffTokenStatus.REVOKED
    return StaffTokenStatus.ACTIVE if token.is_usable(now) else StaffTokenStatus.EXPIRED


def private_apps_of_account(*, account: Account) -> list[PrivateApp]:
    """The account's private apps with their tokens (newest first, each with ``status`` set), in two
    queries whatever the number of apps and tokens."""
    tokens = StaffToken.objects.select_related("member", "created_by").order_by("-created_at", "-id")
    private_apps = list(
        PrivateApp.objects.filter(account=account)
        .select_related("created_by")
        .prefetch_related(Prefetch("staff_tokens", queryset=tokens))
        .order_by("identifier")
    )
    now = timezone.now()
    for private_app in private_apps:
        for token in private_app.staff_tokens.all():
            token.status = staff_token_status(token, now)
        private_app.active_token_count = sum(
            token.status == StaffTokenStatus.ACTIVE for token in private_app.staff_tokens.all()
        )
    return private_apps
