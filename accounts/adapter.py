from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.sites.shortcuts import get_current_site

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
