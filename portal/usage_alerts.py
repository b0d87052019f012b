"""Usage alerts: an installation reached 80% or 100% of its rate limit within a minute.

The gateway's limiter notices it and queues an entry in Redis (the consumer in
``integrations/usage_alert_consumer.py`` reads them); :func:`record_usage_alert` stores the alert and tells the
people concerned: the app's developer (unless they muted alerts for the app) and the account's owners (unless
the account muted them). The unique constraint of :class:`~portal.models.UsageAlert` (installation, level, UTC
day) keeps it to one alert a day per installation and level, however often the gateway repeats itself.
"""

from datetime import datetime, timezone as dt_timezone
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Membership
from accounts.notifications import notify
from portal.locks import lock_own_app
from portal.models import App, Installation, UsageAlert

LEVELS = tuple(UsageAlert.Level.values)


def developer_report_link(installation: Installation) -> str:
    """The app's Limits tab, showing the last day of this installation's account."""
    query = urlencode({"account": installation.account.code, "days": 1})
    return f"{reverse('portal:app_limits', args=[installation.app_id])}?{query}"


def owner_usage_link(installation: Installation) -> str:
    """The account's connected apps, with each app's calls against its limit."""
    return reverse("portal:connected_apps", args=[installation.account.code])


def _check(*, level, at, calls, limit) -> None:
    errors = {}
    if level not in LEVELS:
        errors["level"] = f"The level must be one of {', '.join(str(value) for value in LEVELS)}."
    if not isinstance(at, datetime) or timezone.is_naive(at):
        errors["at"] = "The time must be a timezone-aware datetime."
    if not isinstance(calls, int) or isinstance(calls, bool) or calls < 0:
        errors["calls"] = "The calls must be a whole number, 0 or more."
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        errors["limit"] = "The limit must be a whole number, 1 or more."
    if errors:
        raise ValidationError(errors)


def _what_happened(alert: UsageAlert, app: App, account) -> str:
    share = "reached 80% of" if alert.level == UsageAlert.Level.NEAR else "reached"
    return (f"At {alert.minute:%H:%M} UTC on {alert.minute:%-d %b %Y}, {app.name} ({app.client_id}) {share} its "
            f"API limit in {account.name} ({account.code}): {alert.calls} calls in a minute, against a limit of "
            f"{alert.limit}.")


def _what_it_means(alert: UsageAlert) -> str:
    if alert.level == UsageAlert.Level.AT:
        return ("Its further calls were refused, each with a Retry-After header saying how many seconds to wait, "
                "until the rolling minute had room again.")
    return ("Nothing was refused. At 100% further calls are refused, each with a Retry-After header saying how "
            "many seconds to wait, until the rolling minute has room again.")


def _subject(alert: UsageAlert, app: App, account) -> str:
    if alert.level == UsageAlert.Level.AT:
        return f"{app.name} hit its API limit in {account.name}"
    return f"{app.name} is at 80% of its API limit in {account.name}"


def _tell_developer(alert: UsageAlert, installation: Installation) -> None:
    app, account = installation.app, installation.account
    body = "\n\n".join([
        f"{_what_happened(alert, app, account)} {_what_it_means(alert)}",
        "The Limits tab shows which endpoints used the calls and what would save some; if the app is already "
        "optimised, ask for a higher limit there.",
        "At most once a day per account and level. You can mute these alerts on the app's overview page.",
    ])
    notify(user=app.user, subject=_subject(alert, app, account), body=body, link=developer_report_link(installation))


def _tell_owner(alert: UsageAlert, installation: Installation, user) -> None:
    app, account = installation.app, installation.account
    body = "\n\n".join([
        f"{_what_happened(alert, app, account)} {_what_it_means(alert)} While calls are refused, the app may be "
        "late bringing your data up to date.",
        "Connected apps shows each app's calls against its limit. The app's developer is told too, unless they muted "
        "these alerts.",
        "At most once a day per app and level. Owners and admins can mute these alerts on the account page.",
    ])
    notify(user=user, subject=_subject(alert, app, account), body=body, link=owner_usage_link(installation))


@transaction.atomic
def record_usage_alert(*, installation_id: int, level: int, at: datetime, calls: int,
                       limit: int) -> UsageAlert | None:
    """Store that the installation reached ``level`` percent of ``limit`` at ``at`` (``calls`` in the rolling
    minute), write the audit event and tell the developer and the account's owners (inbox now, email after
    commit), each unless they muted usage alerts.

    Returns the new alert; ``None`` (and changes nothing) when this installation already had an alert of this
    level on the same UTC day, or when the installation does not exist. Raises ValidationError for a level
    other than 80 or 100, a naive time, or a negative count or limit below 1."""
    _check(level=level, at=at, calls=calls, limit=limit)
    installation = (Installation.objects.select_related("app__user", "account")
                    .filter(pk=installation_id).first())
    if installation is None:
        return None
    at = at.astimezone(dt_timezone.utc)
    alert, created = UsageAlert.objects.get_or_create(
        installation=installation, level=level, day=at.date(),
        defaults={"minute": at.replace(second=0, microsecond=0), "calls": calls, "limit": limit},
    )
    if not created:
        return None
    app, account = installation.app, installation.account
    told = set()
    if not app.usage_alerts_muted:
        _tell_developer(alert, installation)
        told.add(app.user_id)
    owners_told = 0
    if not account.usage_alerts_muted:
        owners = (Membership.objects.filter(account=account, role=Membership.Role.OWNER)
                  .select_related("user").order_by("id"))
        for membership in owners:
            if membership.user_id in told:
                continue  # the developer owns the account too: one message is enough
            _tell_owner(alert, installation, membership.user)
            told.add(membership.user_id)
            owners_told += 1
    audit_record(actor=None, verb="usage_alert.sent", target=installation, app_ref=app.client_id, data={
        "account": account.code, "level": level, "calls": calls, "limit": limit,
        "minute": alert.minute.isoformat(), "developer_told": not app.usage_alerts_muted,
        "owners_told": owners_told,
    })
    return alert


@transaction.atomic
def app_usage_alerts_mute(*, actor, app: App, muted: bool) -> App:
    """The app's developer turns usage alerts for the app off (``muted``) or back on. Only the developer
    (PermissionDenied otherwise). Writes an audit event when the setting changes; the same value again changes
    nothing."""
    if not isinstance(muted, bool):
        raise ValidationError("Say whether usage alerts are muted (true or false).")
    app = lock_own_app(app, actor)
    if app.usage_alerts_muted != muted:
        app.usage_alerts_muted = muted
        app.save(update_fields=["usage_alerts_muted"])
        audit_record(actor=actor, verb="app.usage_alerts_changed", target=app, app_ref=app.client_id,
                     data={"muted": muted})
    return app
