"""django-allauth's account adapter: the portal's name and public address in every email it sends.

Without django.contrib.sites, allauth names the site after the request's host, so a portal behind a proxy
(or started on 127.0.0.1:8000) would sign its emails "127.0.0.1:8000" and link there. The portal's name and
its public address (SITE_URL) are configured; emails use those."""

from dataclasses import dataclass
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings

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
