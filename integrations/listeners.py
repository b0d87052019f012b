"""What the OAuth server does when the portal turns an installation on or off, or suspends an app (each runs in
the portal's transaction), and its answer when the portal asks for an app's callback log.

Registered with ``portal.hooks`` in ``IntegrationsConfig.ready``.
"""

from django.utils import timezone

from integrations import callbacks, egress
from integrations.models import AccessToken, Grant, RefreshToken
from portal import hooks
from portal.models import App, Installation


def tokens_revoke(*, installations) -> dict:
    """Revoke every token and pending code of the given installations (a queryset or list): refresh tokens
    are marked revoked, access tokens and codes deleted, so nothing issued before works again."""
    now = timezone.now()
    refresh = RefreshToken.objects.filter(installation__in=installations, revoked__isnull=True).update(revoked=now)
    access = AccessToken.objects.filter(installation__in=installations).delete()[0]
    grants = Grant.objects.filter(installation__in=installations).delete()[0]
    return {"access_tokens_revoked": access, "refresh_tokens_revoked": refresh, "codes_revoked": grants}


def installation_turned_on(*, installation: Installation) -> dict:
    callbacks.callback_schedule(installation=installation, kind=callbacks.Kind.INSTALL)
    return {}


def installation_turned_off(*, installation: Installation, reason: str) -> dict:
    revoked = tokens_revoke(installations=[installation])
    callbacks.callback_schedule(installation=installation, kind=callbacks.Kind.UNINSTALL)
    return revoked


def app_suspended(*, app: App, reason: str) -> dict:
    return tokens_revoke(installations=Installation.objects.filter(app=app))


def url_refusal(*, url: str, purpose: str) -> str | None:
    """Why the portal may not call ``url`` (the egress guard's reason), or None."""
    return egress.url_refusal(url, purpose=purpose) or None


def register() -> None:
    hooks.listen(hooks.INSTALLATION_TURNED_ON, installation_turned_on)
    hooks.listen(hooks.INSTALLATION_TURNED_OFF, installation_turned_off)
    hooks.listen(hooks.APP_SUSPENDED, app_suspended)
    hooks.listen(hooks.URL_REFUSAL, url_refusal)
    hooks.listen(hooks.CALLBACK_LOG, callbacks.callback_log_of)
