"""What the sync engine does when the portal turns an installation off, suspends an app, or turns on an app whose
managed sync is on. Registered with ``portal.hooks`` in ``SyncConfig.ready``; each runs in the portal's
transaction, so no sync call is sent once the portal's change commits (the client re-reads the status before
every call)."""

from portal import hooks
from portal.models import App, Installation
from sync import services
from sync.models import Connection


def installation_turned_off(*, installation: Installation, reason: str) -> dict:
    connections = Connection.objects.filter(installation=installation)
    return {"sync_connections_disabled": services.connections_disable(connections=connections, reason=reason)}


def app_suspended(*, app: App, reason: str) -> dict:
    connections = Connection.objects.filter(app=app)
    return {"sync_connections_disabled": services.connections_disable(connections=connections, reason=reason)}


def register() -> None:
    hooks.listen(hooks.INSTALLATION_TURNED_OFF, installation_turned_off)
    hooks.listen(hooks.APP_SUSPENDED, app_suspended)
    hooks.listen(hooks.TURN_ON_REDIRECT, services.managed_sync_redirect)
