"""Developers' personal API keys for the developer JSON API.

A key acts as the user who created it. ``api_key_create`` returns the raw key once; only its SHA-256 and a
short prefix are stored. ``accounts.tokens.developer_api_key_lookup`` finds the key of a raw secret.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import DeveloperApiKey, User
from accounts.tokens import PREFIX_LENGTH, hash_secret, new_secret

API_KEY_KIND = "pdk"


@transaction.atomic
def api_key_create(*, user: User, name: str, actor: User) -> tuple[DeveloperApiKey, str]:
    """Create an API key for ``user``. Only the user themself may (PermissionDenied otherwise).

    Returns ``(key, raw_key)``: the raw key exists only in this return value, so show it once. Raises
    ValidationError (keyed ``name``) for a missing or too long name. Audited as ``api_key.created``.
    """
    if not (actor and actor.is_authenticated and actor.pk == user.pk and user.is_active):
        raise PermissionDenied("You can only create API keys for yourself.")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the key a name, for example what uses it."})
    if len(name) > 100:
        raise ValidationError({"name": "Keep the name to 100 characters."})
    if DeveloperApiKey.objects.filter(user=user, name__iexact=name, revoked_at__isnull=True).exists():
        raise ValidationError({"name": f"You already have a key named “{name}”; choose another name."})
    raw = new_secret(API_KEY_KIND)
    key = DeveloperApiKey.objects.create(user=user, name=name, key_hash=hash_secret(raw), prefix=raw[:PREFIX_LENGTH])
    audit_record(actor=actor, verb="api_key.created", target=key, data={"name": name, "prefix": key.prefix})
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: DeveloperApiKey, actor: User) -> DeveloperApiKey:
    """Revoke an API key; it stops working at once. Only its owner may (PermissionDenied otherwise);
    ValidationError if it is already revoked. Audited as ``api_key.revoked``."""
    key = DeveloperApiKey.objects.select_for_update().get(pk=key.pk)
    if not (actor and actor.is_authenticated and key.user_id == actor.pk):
        raise PermissionDenied("Only the key's owner can revoke it.")
    if key.revoked_at is not None:
        raise ValidationError("This API key is already revoked.")
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(actor=actor, verb="api_key.revoked", target=key, data={"name": key.name, "prefix": key.prefix})
    return key


def api_keys_of(*, user: User) -> QuerySet[DeveloperApiKey]:
    """The user's keys: active ones first (newest first), then revoked ones (latest revoked first)."""
    return DeveloperApiKey.objects.filter(user=user).order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at", "-id")
