"""Settings of the portal app: its keys of ``settings.PORTAL``, with their defaults (see ``accounts/conf.py``)."""

from accounts.conf import AppSettings


class PortalSettings(AppSettings):
    NAMESPACE = "PORTAL"
    DEFAULTS = {
        # Largest accepted app icon, in bytes, and its largest side in pixels.
        "ICON_MAX_BYTES": 512 * 1024,
        "ICON_MAX_PIXELS": 1024,
    }
    COERCE = {"ICON_MAX_BYTES": int, "ICON_MAX_PIXELS": int}


portal_settings = PortalSettings()
