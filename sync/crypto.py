"""Secrets of connections (access and refresh tokens, client secrets) encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256) with the keys of ``SYNC_ENGINE["TOKEN_KEYS"]``: the first encrypts,
every one decrypts, so a key can be rotated by putting the new one first. Without configured keys a
key is derived from SECRET_KEY (set real keys to be able to rotate SECRET_KEY without losing tokens).
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from sync.conf import sync_settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = base64.urlsafe_b64encode(hashlib.sha256(f"sync-token-key:{secret_key}".encode()).digest())
        keys = (derived.decode(),)
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def _box() -> MultiFernet:
    return _fernet(sync_settings.TOKEN_KEYS, settings.SECRET_KEY)


def encrypt(plain: str) -> str:
    """Ciphertext of ``plain`` ('' stays '')."""
    return _box().encrypt(plain.encode()).decode() if plain else ""


def decrypt(cipher: str) -> str:
    """Plain text of ``cipher`` ('' stays ''). Raises SecretUnreadable if no key opens it."""
    if not cipher:
        return ""
    try:
        return _box().decrypt(cipher.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable("a stored secret cannot be decrypted with the configured SYNC_TOKEN_KEYS") from error
