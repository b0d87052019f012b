"""Client secrets: generated here, shown to the developer once, stored hashed by the model field."""

import secrets


def new_client_secret() -> str:
    return secrets.token_urlsafe(48)
