"""Secrets the portal must read back (TOTP keys, recovery-code seeds), encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256). Each use has its own list of keys in settings, newest first: the
first encrypts, every one decrypts, so a key is rotated by putting a new one in front. When a list is
empty, one key is derived from SECRET_KEY and the use's name (so two uses never share a key); set real
keys to be able to rotate SECRET_KEY without losing what they protect.

The sync engine's connection tokens use it too (``sync/crypto.py``).
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


@lru_cache(maxsize=8)
def _fernet(purpose: str, keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = base64.urlsafe_b64encode(hashlib.sha256(f"{purpose}:{secret_key}".encode()).digest())
        keys = (derived.decode(),)
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def box(purpose: str, keys) -> MultiFernet:
    """The Fernet keys of one use: ``keys`` from settings, or one derived from SECRET_KEY."""
    return _fernet(purpose, tuple(keys or ()), settings.SECRET_KEY)


def encrypt(plain: str, *, purpose: str, keys=()) -> str:
    return box(purpose, keys).encrypt(plain.encode()).decode()


def decrypt(cipher: str, *, purpose: str, keys=()) -> str:
    try:
        return box(purpose, keys).decrypt(cipher.encode()).decode()
    except InvalidToken as error:
        raise SecretUnreadable(f"a stored {purpose} cannot be decrypted with the configured keys") from error
