"""Secrets of connections (access and refresh tokens, client secrets) encrypted at rest.

The portal's one scheme (``accounts.crypto``: Fernet, newest key first, a key derived from SECRET_KEY when none
is set) with the keys of ``SYNC_TOKEN_KEYS``. Set real keys to be able to rotate SECRET_KEY without losing tokens.
"""

from accounts import crypto
from accounts.crypto import SecretUnreadable
from sync.conf import sync_settings

__all__ = ["SecretUnreadable", "decrypt", "encrypt"]

# The derived key's name: the one connections have been encrypted with since the engine began.
PURPOSE = "sync-token-key"


def encrypt(plain: str) -> str:
    """Ciphertext of ``plain`` ('' stays '')."""
    return crypto.encrypt(plain, purpose=PURPOSE, keys=sync_settings.TOKEN_KEYS) if plain else ""


def decrypt(cipher: str) -> str:
    """Plain text of ``cipher`` ('' stays ''). Raises SecretUnreadable if no key opens it."""
    return crypto.decrypt(cipher, purpose=PURPOSE, keys=sync_settings.TOKEN_KEYS) if cipher else ""
