"""Settings of the accounts app, and the settings-object pattern every app of the portal follows.

Each app has one settings object (``accounts_settings`` here, ``portal_settings`` in ``portal/conf.py``,
``integrations_settings`` in ``integrations/conf.py``, ``sync_settings`` in ``sync/conf.py``) whose
attributes read the project's namespaced dict (``settings.PORTAL`` or ``settings.SYNC_ENGINE``) and fall back
to the defaults declared next to them: the one place a default is written. ``config/settings.py`` puts into
those dicts only what the operator changed (environment variables). The dict is looked up on every access,
so ``override_settings`` and pytest-django's ``settings`` fixture take effect at once; an access is two
dictionary look-ups (no copying), cheap enough for the gateway's per-request reads.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings


class Computed:
    """A default that depends on other Django settings (``DEBUG``, ``SITE_URL``...), computed when read."""

    def __init__(self, compute: Callable[[], Any]):
        self.compute = compute


class AppSettings:
    """Attribute access to the keys of one namespaced settings dict, with the defaults in ``DEFAULTS``.

    Subclasses name the dict in ``NAMESPACE`` and list their keys in ``DEFAULTS``; a key missing from
    ``DEFAULTS`` is an error (so a typo cannot read a silent None). ``COERCE`` may name a function per key
    (``int``, ``float``...) applied to the value read, whatever its source.
    """

    NAMESPACE: str = ""
    DEFAULTS: dict[str, Any] = {}
    COERCE: dict[str, Callable[[Any], Any]] = {}

    def __getattr__(self, name: str) -> Any:
        try:
            default = self.DEFAULTS[name]
        except KeyError:
            raise AttributeError(f"{self.NAMESPACE} has no setting {name!r}") from None
        try:
            value = getattr(settings, self.NAMESPACE)[name]
        except (AttributeError, KeyError):
            value = default.compute() if isinstance(default, Computed) else default
        coerce = self.COERCE.get(name)
        return coerce(value) if coerce is not None else value


class AccountsSettings(AppSettings):
    """The accounts app's keys of ``settings.PORTAL``."""

    NAMESPACE = "PORTAL"
    DEFAULTS = {
        # Reviewers must have turned on two-factor before the reviewer pages open (not in demo mode).
        "REQUIRE_MFA_FOR_REVIEWERS": Computed(lambda: not settings.DEMO_MODE),
        # The auth group whose staff members review applications, apps and requests.
        "REVIEWERS_GROUP": "reviewers",
        # Where an account's data may live: (code, label).
        "DATACENTRES": [("eu1", "EU 1 (London)"), ("use1", "US East 1"), ("usw1", "US West 1")],
    }
    COERCE = {"REQUIRE_MFA_FOR_REVIEWERS": bool}


accounts_settings = AccountsSettings()
