from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site

from accounts import crypto
from accounts.client_ip import client_ip


class PortalAccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        """The key of the failed sign-in limit (``ACCOUNT_RATE_LIMITS["login_failed"]``, per ``key``):
        the account *and* the client address. Five wrong passwords from one address then lock that
        address out of that account only; the rightful user, signing in from elsewhere, is not
        locked out by someone guessing. (allauth also limits failures per address across accounts.)

        allauth uses this one method both to count failures and to clear them after a password reset,
        so both follow the same key."""
        site = get_current_site(request)
        login = str(credentials.get("email", credentials.get("username", ""))).lower()
        return f"{site.domain}:{login}:{client_ip(request) or '-'}"


# Stored MFA secrets carry this prefix once encrypted; values without it were written before encryption
# (the accounts migration 0003 encrypts those) and are read as they are.
MFA_CIPHER_PREFIX = "fernet:"
MFA_PURPOSE = "mfa-secret"


def mfa_encrypt(text: str) -> str:
    """A TOTP key or recovery-code seed as stored: encrypted with ``settings.MFA_SECRET_KEYS``."""
    return MFA_CIPHER_PREFIX + crypto.encrypt(text, purpose=MFA_PURPOSE, keys=settings.MFA_SECRET_KEYS)


def mfa_decrypt(stored: str) -> str:
    if not stored.startswith(MFA_CIPHER_PREFIX):
        return stored
    return crypto.decrypt(stored[len(MFA_CIPHER_PREFIX):], purpose=MFA_PURPOSE, keys=settings.MFA_SECRET_KEYS)


class PortalMFAAdapter(DefaultMFAAdapter):
    """TOTP secrets and recovery-code seeds are encrypted at rest (allauth stores them in the clear by
    default): a copy of the database alone does not give away anyone's second factor."""

    def encrypt(self, text: str) -> str:
        return mfa_encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return mfa_decrypt(encrypted_text)
