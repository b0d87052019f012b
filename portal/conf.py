"""Settings of the portal app: its keys of ``settings.PORTAL``, with their defaults (see ``accounts/conf.py``)."""

from django.conf import settings

from accounts.conf import AppSettings, Computed


class PortalSettings(AppSettings):
    NAMESPACE = "PORTAL"
    DEFAULTS = {
        # Largest accepted app icon, in bytes, and its largest side in pixels.
        "ICON_MAX_BYTES": 512 * 1024,
        "ICON_MAX_PIXELS": 1024,
        # Requests to URLs users give (callbacks, webhooks, external sync connections) may reach loopback and
        # private addresses, and app URLs may be plain http: only sensible for local demos. The portal's forms
        # and the egress guard (integrations/egress.py) both follow it.
        "EGRESS_ALLOW_PRIVATE": Computed(lambda: settings.DEMO_MODE),
        # Per-minute usage rows are kept this many days (the optimisation and conformance reports read them),
        # then folded into hourly rows, which are kept USAGE_HOUR_RETENTION_DAYS.
        "USAGE_MINUTE_RETENTION_DAYS": 14,
        "USAGE_HOUR_RETENTION_DAYS": 400,
    }
    COERCE = {"ICON_MAX_BYTES": int, "ICON_MAX_PIXELS": int, "EGRESS_ALLOW_PRIVATE": bool,
              "USAGE_MINUTE_RETENTION_DAYS": int, "USAGE_HOUR_RETENTION_DAYS": int}


portal_settings = PortalSettings()
