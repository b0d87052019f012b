"""Client secrets: generated here, shown to the developer once, stored hashed by the model field."""

import hashlib
import secrets


def new_client_secret() -> str:
    return secrets.token_urlsafe(48)


def callback_signing_key(client_secret: str) -> str:
    """The key that signs callbacks and webhooks, derived from the client secret (documented for developers)."""
    return hashlib.sha256(f"callback-signing:{client_secret}".encode()).hexdigest()
