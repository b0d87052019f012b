"""Client secrets: generated here, shown to the developer once, stored hashed by the model field."""

import hashlib
import secrets

# How long a replaced client secret keeps working after a rotation (seconds -> what the page says).
SECRET_OVERLAP_CHOICES = {0: "at once", 3600: "in 1 hour", 86400: "in 24 hours"}


def new_client_secret() -> str:
    return secrets.token_urlsafe(48)


def callback_signing_key(client_secret: str) -> str:
    """The key that signs callbacks and webhooks, derived from the client secret (documented for developers)."""
    return hashlib.sha256(f"callback-signing:{client_secret}".encode()).hexdigest()
