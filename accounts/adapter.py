"""django-allauth's adapters: the portal's name and public address in every email allauth sends, the failed
sign-in limit keyed by account and address, and TOTP secrets encrypted at rest.

Without django.contrib.sites, allauth names the site after the request's host, so a portal behind a proxy
(or started on 127.0.0.1:8000) would sign its emails "127.0.0.1:8000" and link there. The portal's name and
its public address (SITE_URL) are configured; emails use those."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site

from accounts import crypto
from accounts.client_ip import client_ip

DEFAULT_PORTAL_NAME = "Partner Portal"


@dataclass(frozen=True)
class PortalSite:
    """What allauth's email templates read as ``current_site``."""

    name: str
    domain: str


def portal_site() -> PortalSite:
    return PortalSite(name=getattr(settings, "PORTAL_NAME", DEFAULT_PORTAL_NAME),
                      domain=urlsplit(settings.SITE_URL).netloc)


def on_portal(url: str) -> str:
    """``url`` (absolute, built from the request) at the portal's public address instead."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{settings.SITE_URL}{path}"


class PortalAccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        super().send_mail(template_prefix, email, {**context, "current_site": portal_site()})

    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        return on_portal(super().get_email_confirmation_url(request, emailconfirmation))

    def get_reset_password_from_key_url(self, key: str) -> str:
        return on_portal(super().get_reset_password_from_key_url(key))

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
