"""What the OAuth server does when the portal turns an installation on or off, or suspends an app (each runs in
the portal's transaction), its answer when the portal asks for an app's callback log, and the conformance
evidence it holds (code exchanges and install/uninstall callbacks).

Registered with ``portal.hooks`` in ``IntegrationsConfig.ready``.
"""

from django.db.models import Count, Min, Q
from django.utils import timezone

from integrations import callbacks, egress
from integrations.models import AccessToken, CallbackAttempt, CallbackDelivery, Grant, RefreshToken
from portal import hooks
from portal.conformance import counted
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


def oauth_exchange_evidence(*, installations, since, now) -> dict:
    """Code exchanges completed in [since, now): each starts a refresh-token family (refresh tokens are kept,
    revoked, when an app is turned off; codes are deleted then), so a family whose first token falls in the
    period is an exchange. Codes redeemed in the period count too, in case a family is gone."""
    families = list(RefreshToken.objects.filter(installation__in=installations, token_family__isnull=False)
                    .values("token_family")
                    .annotate(first=Min("created"), in_period=Count("id", filter=Q(created__gte=since,
                                                                                     created__lt=now)))
                    .filter(in_period__gt=0).order_by())
    started = sum(1 for family in families if family["first"] >= since)
    redeemed = Grant.objects.filter(installation__in=installations, redeemed_at__gte=since,
                                    redeemed_at__lt=now).count()
    exchanges = max(started, redeemed)
    refreshes = max(sum(family["in_period"] for family in families) - started, 0)
    figures = {"exchanges": exchanges, "refreshes": refreshes}
    if exchanges:
        return {"passed": True, "figures": figures,
                "summary": f"{counted(exchanges, 'code exchange')} completed, "
                           f"{counted(refreshes, 'refresh', 'refreshes')} since."}
    if refreshes:
        return {"passed": True, "figures": figures,
                "summary": f"No new code exchange, but tokens from an earlier exchange were refreshed "
                           f"{counted(refreshes, 'time')}."}
    return {"passed": False, "figures": figures,
            "summary": "The app was turned on, but never exchanged an authorization code for tokens."}


def callbacks_evidence(*, app: App, installations, since, now) -> dict:
    """Install and uninstall callbacks owed in [since, now): passed when every one that finished was answered
    2xx; failed when one gave up; no evidence when none was owed or all are still being tried."""
    deliveries = CallbackDelivery.objects.filter(installation__in=installations, created_at__gte=since,
                                                 created_at__lt=now)
    Status = CallbackDelivery.Status
    counts = deliveries.aggregate(owed=Count("id"), delivered=Count("id", filter=Q(status=Status.DELIVERED)),
                                  failed=Count("id", filter=Q(status=Status.FAILED)),
                                  pending=Count("id", filter=Q(status=Status.PENDING)))
    unanswered = (CallbackAttempt.objects.filter(delivery__in=deliveries)
                  .exclude(status_code__gte=200, status_code__lt=300).count())
    figures = {**counts, "attempts_not_2xx": unanswered}
    if counts["failed"]:
        return {"passed": False, "figures": figures,
                "summary": f"{counted(counts['failed'], 'callback')} of {counts['owed']:,} never got a 2xx answer "
                           f"({counted(unanswered, 'attempt')} failed in all)."}
    if counts["delivered"]:
        retried = f"; {counted(unanswered, 'attempt')} had to be retried" if unanswered else ""
        return {"passed": True, "figures": figures,
                "summary": f"{counted(counts['delivered'], 'callback')} answered 2xx{retried}."}
    if not (app.install_callback_url or app.uninstall_callback_url) and not counts["owed"]:
        summary = "The app has no install or uninstall callback URL, so there was nothing to answer."
    elif counts["pending"]:
        failing = f" ({counted(unanswered, 'attempt')} failed so far)" if unanswered else ""
        summary = f"{counted(counts['pending'], 'callback is', 'callbacks are')} still being tried{failing}."
    else:
        summary = "No account turned the app on or off in this period."
    return {"passed": None, "figures": figures, "summary": summary}


def conformance_evidence(*, app: App, installations, since, now) -> dict:
    return {"oauth_exchange": oauth_exchange_evidence(installations=installations, since=since, now=now),
            "callbacks_answered": callbacks_evidence(app=app, installations=installations, since=since, now=now)}


def register() -> None:
    hooks.listen(hooks.INSTALLATION_TURNED_ON, installation_turned_on)
    hooks.listen(hooks.INSTALLATION_TURNED_OFF, installation_turned_off)
    hooks.listen(hooks.APP_SUSPENDED, app_suspended)
    hooks.listen(hooks.URL_REFUSAL, url_refusal)
    hooks.listen(hooks.CALLBACK_LOG, callbacks.callback_log_of)
    hooks.listen(hooks.CONFORMANCE_EVIDENCE, conformance_evidence)
