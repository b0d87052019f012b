"""API rate limits of installations: the default, raised by approved increase requests until their date.

Grants are approved ``RateLimitIncreaseRequest`` rows. A grant covers every installation of its app (no
account) or the app's installation in one account, from its approval until ``granted_until`` (open when
empty). An installation gets the highest grant covering it, never less than the platform default; the
gateway reads this at every call, so an approval applies at once and an ended grant falls back by itself.

Requests and grants are counted in calls per minute; the gateway's window is the platform's
``limit_period_seconds`` (60 by default), to which a grant is scaled.
"""

import math
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import dateformat, timezone

from accounts.audit import audit_record
from accounts.models import Account
from accounts.notifications import notify
from accounts.roles import require_reviewer
from portal.locks import lock_own_app
from portal.models import App, Installation, PlatformSettings, RateLimitIncreaseRequest
from portal.selectors import platform_settings

Status = RateLimitIncreaseRequest.Status


def _per_period(per_minute: int, period_seconds: int) -> int:
    """A per-minute figure in the gateway's window (the same number when the window is 60 s)."""
    return per_minute if period_seconds == 60 else max(1, math.ceil(per_minute * period_seconds / 60))


def default_limit_per_minute(row=None) -> int:
    row = row or platform_settings()
    return math.floor(row.default_instance_limit * 60 / row.limit_period_seconds)


def _default(row) -> "EffectiveLimit":
    return EffectiveLimit(default_limit_per_minute(row), row.default_instance_limit, row.limit_period_seconds, None)


def active_grants(*, app_ids, now=None) -> QuerySet[RateLimitIncreaseRequest]:
    """Approved grants of these apps that have not ended, highest first."""
    now = now or timezone.now()
    return (
        RateLimitIncreaseRequest.objects.filter(app_id__in=app_ids, status=Status.APPROVED)
        .filter(Q(granted_until__isnull=True) | Q(granted_until__gt=now))
        .order_by("-granted_limit", "-decided_at", "-id")
    )


def grant_is_active(grant: RateLimitIncreaseRequest, now=None) -> bool:
    now = now or timezone.now()
    return grant.status == Status.APPROVED and (grant.granted_until is None or grant.granted_until > now)


def installation_limit(*, installation: Installation, now=None) -> tuple[int, int]:
    """(calls, window seconds) for one installation: the platform default, or the highest approved
    grant that covers it (all installations of the app, or this account) and has not ended."""
    now = now or timezone.now()
    # One query on the gateway's hot path: the settings row with the best grant as a subquery.
    best_grant = (
        active_grants(app_ids=[installation.app_id], now=now)
        .filter(Q(account__isnull=True) | Q(account_id=installation.account_id))
        .values("granted_limit")[:1]
    )
    row = (PlatformSettings.objects.filter(pk=1).annotate(granted=Subquery(best_grant))
           .values("default_instance_limit", "limit_period_seconds", "granted").first())
    if row is None:  # the settings row has not been created yet
        settings_row = platform_settings()
        row = {"default_instance_limit": settings_row.default_instance_limit,
               "limit_period_seconds": settings_row.limit_period_seconds, "granted": None}
    granted = _per_period(row["granted"], row["limit_period_seconds"]) if row["granted"] else 0
    return max(row["default_instance_limit"], granted), row["limit_period_seconds"]


def installation_limit_sql(quote, installation: str) -> tuple[str, str, str, str]:
    """SQL for the figures ``installation_limit`` reads, as columns of a query that has the installation's row
    under the alias ``installation``: the platform default, the window, the best grant covering it that has
    not ended (per minute; NULL when none), and when the first of the grants covering it ends (NULL when none
    ends: the limit cannot change by itself before then). The last two take one parameter each, ``now``
    (adapted for the database). The gateway adds them to its token lookup so that an API call costs one
    query; :func:`limit_of` turns the row into (calls, window seconds) exactly as ``installation_limit``
    does."""
    q, i = quote, installation
    settings_table, grants_table = q(PlatformSettings._meta.db_table), q(RateLimitIncreaseRequest._meta.db_table)
    default = f"(SELECT s.{q('default_instance_limit')} FROM {settings_table} s WHERE s.{q('id')} = 1)"
    period = f"(SELECT s.{q('limit_period_seconds')} FROM {settings_table} s WHERE s.{q('id')} = 1)"
    covering = (
        f"FROM {grants_table} g "
        f"WHERE g.{q('app_id')} = {i}.{q('app_id')} AND g.{q('status')} = '{Status.APPROVED.value}' "
        f"AND (g.{q('account_id')} IS NULL OR g.{q('account_id')} = {i}.{q('account_id')})"
    )
    granted = (f"(SELECT MAX(g.{q('granted_limit')}) {covering} "
               f"AND (g.{q('granted_until')} IS NULL OR g.{q('granted_until')} > %s))")
    first_end = f"(SELECT MIN(g.{q('granted_until')}) {covering} AND g.{q('granted_until')} > %s)"
    return default, period, granted, first_end


def limit_of(default: int | None, period: int | None, granted: int | None) -> tuple[int, int]:
    """(calls, window seconds) from the columns of :func:`installation_limit_sql`."""
    if default is None or period is None:  # the settings row has not been created yet
        row = platform_settings()
        default, period = row.default_instance_limit, row.limit_period_seconds
    return max(default, _per_period(granted, period) if granted else 0), period


@dataclass(frozen=True)
class EffectiveLimit:
    per_minute: int
    calls: int  # in the gateway's window
    window_seconds: int
    grant: RateLimitIncreaseRequest | None  # None: the platform default

    @property
    def is_default(self) -> bool:
        return self.grant is None


@dataclass(frozen=True)
class AppLimits:
    default: EffectiveLimit
    grants: list[RateLimitIncreaseRequest]  # active, highest first
    by_installation: dict[int, EffectiveLimit]

    def of(self, installation: Installation) -> EffectiveLimit:
        return self.by_installation.get(installation.pk, self.default)


def installation_limits(*, installations, now=None) -> dict[int, EffectiveLimit]:
    """The limit of each installation now and why (the grant, or the default), keyed by installation
    id, for display. Two queries however many installations and apps; the gateway uses
    ``installation_limit``, which gives the same figures."""
    now = now or timezone.now()
    row = platform_settings()
    default = _default(row)
    installations = list(installations)
    grants = list(active_grants(app_ids={i.app_id for i in installations}, now=now).select_related("account"))
    limits = {}
    for installation in installations:
        best = next((g for g in grants
                     if g.app_id == installation.app_id and g.account_id in (None, installation.account_id)), None)
        calls = _per_period(best.granted_limit, row.limit_period_seconds) if best else 0
        limits[installation.pk] = (
            EffectiveLimit(best.granted_limit, calls, row.limit_period_seconds, best)
            if best is not None and calls > row.default_instance_limit else default
        )
    return limits


def current_limits_of(*, app: App, installations=None, now=None) -> AppLimits:
    """The app's default, its active grants and each installation's limit now, for display."""
    now = now or timezone.now()
    installations = list(app.installations.select_related("account") if installations is None else installations)
    limits = installation_limits(installations=installations, now=now)
    default = _default(platform_settings())
    grants = list(active_grants(app_ids=[app.pk], now=now).select_related("account"))
    return AppLimits(default=default, grants=grants, by_installation=limits)


def limit_requests_of(*, app: App) -> QuerySet[RateLimitIncreaseRequest]:
    return app.limit_requests.select_related("account", "submitted_by", "reviewer").order_by("-submitted_at", "-id")


def limit_scope_accounts(*, app: App) -> QuerySet[Account]:
    """Accounts a request may be scoped to: those with an installation of the app or early access."""
    return Account.objects.filter(Q(installations__app=app) | Q(early_access__app=app)).distinct().order_by("code")


def limit_review_queue() -> QuerySet[RateLimitIncreaseRequest]:
    """Pending increase requests, oldest first."""
    return (
        RateLimitIncreaseRequest.objects.filter(status=Status.PENDING)
        .select_related("app", "app__user", "app__user__developer_profile", "account", "submitted_by")
        .order_by("submitted_at", "id")
    )


def limit_requests_decided(*, limit: int = 20) -> QuerySet[RateLimitIncreaseRequest]:
    return (
        RateLimitIncreaseRequest.objects.exclude(status=Status.PENDING)
        .select_related("app", "account", "reviewer")
        .order_by("-decided_at", "-id")[:limit]
    )


# --- Writes ---------------------------------------------------------------------------------------

def _lock(limit_request: RateLimitIncreaseRequest, *, pending: bool = True) -> RateLimitIncreaseRequest:
    # Only the inner join on the app: PostgreSQL cannot lock the nullable side of an outer join.
    locked = RateLimitIncreaseRequest.objects.select_for_update().select_related("app").get(pk=limit_request.pk)
    if pending and locked.status != Status.PENDING:
        raise ValidationError(f"This request is already {locked.get_status_display().lower()}.")
    return locked


def _scope(limit_request: RateLimitIncreaseRequest) -> str:
    return limit_request.account.code if limit_request.account_id else "all installations"


def _limits_link(app: App) -> str:
    return reverse("portal:app_limits", args=[app.pk])


@transaction.atomic
def limit_request_withdraw(*, limit_request: RateLimitIncreaseRequest, actor) -> RateLimitIncreaseRequest:
    """The app's developer withdraws a pending request. Writes ``limit_request.withdrawn``."""
    lock_own_app(limit_request.app, actor)
    limit_request = _lock(limit_request)
    limit_request.status, limit_request.decided_at = Status.WITHDRAWN, timezone.now()
    limit_request.save(update_fields=["status", "decided_at"])
    audit_record(actor=actor, verb="limit_request.withdrawn", target=limit_request,
                 app_ref=limit_request.app.client_id, data={"scope": _scope(limit_request)})
    return limit_request


@transaction.atomic
def limit_request_approve(
    *, limit_request: RateLimitIncreaseRequest, actor, granted_limit: int, granted_until: datetime | None = None,
    note: str = "",
) -> RateLimitIncreaseRequest:
    """A reviewer grants ``granted_limit`` calls per minute for the request's scope, until
    ``granted_until`` (or with no end). The gateway applies it from its next call.

    Requires a reviewer (PermissionDenied). Refused with a ValidationError when the request is not
    pending, the granted limit is not above the default (a grant at or below it would change nothing)
    or the end is not in the future. Writes ``limit_request.approved`` and tells the developer."""
    require_reviewer(actor, message="Only reviewers can decide rate-limit requests.")
    limit_request = _lock(limit_request)
    now = timezone.now()
    default = default_limit_per_minute()
    if not granted_limit or granted_limit < 1:
        raise ValidationError({"granted_limit": "Grant at least 1 call per minute."})
    if granted_limit <= default:
        raise ValidationError({"granted_limit": f"The default is already {default} calls per minute; "
                                                "grant more, or reject the request."})
    if granted_until is not None and granted_until <= now:
        raise ValidationError({"granted_until": "Choose an end in the future, or leave it empty."})
    note = (note or "").strip()
    limit_request.status, limit_request.reviewer, limit_request.decided_at = Status.APPROVED, actor, now
    limit_request.granted_limit, limit_request.granted_until = granted_limit, granted_until
    limit_request.decision_note = note
    limit_request.save(update_fields=["status", "reviewer", "decided_at", "granted_limit", "granted_until",
                                      "decision_note"])
    app = limit_request.app
    audit_record(actor=actor, verb="limit_request.approved", target=limit_request, app_ref=app.client_id, data={
        "scope": _scope(limit_request), "granted_limit": granted_limit,
        "granted_until": granted_until.isoformat() if granted_until else None, **({"note": note} if note else {}),
    })
    until = f" until {dateformat.format(timezone.localtime(granted_until), 'j M Y H:i T')}" if granted_until else ""
    notify(user=app.user, subject=f"{app.name}: rate limit raised to {granted_limit} calls per minute",
           body=f"For {_scope(limit_request)}{until}. It applies now.{' ' + note if note else ''}",
           link=_limits_link(app))
    return limit_request


@transaction.atomic
def limit_request_reject(*, limit_request: RateLimitIncreaseRequest, actor, note: str) -> RateLimitIncreaseRequest:
    """A reviewer rejects a pending request with a note the developer receives.

    Requires a reviewer (PermissionDenied); the note is required (ValidationError). Writes
    ``limit_request.rejected``."""
    require_reviewer(actor, message="Only reviewers can decide rate-limit requests.")
    limit_request = _lock(limit_request)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say why the request is rejected; the developer will read it."})
    limit_request.status, limit_request.reviewer = Status.REJECTED, actor
    limit_request.decided_at, limit_request.decision_note = timezone.now(), note
    limit_request.save(update_fields=["status", "reviewer", "decided_at", "decision_note"])
    app = limit_request.app
    audit_record(actor=actor, verb="limit_request.rejected", target=limit_request, app_ref=app.client_id,
                 data={"scope": _scope(limit_request), "note": note})
    notify(user=app.user, subject=f"{app.name}: your rate-limit request was not approved", body=note,
           link=_limits_link(app))
    return limit_request


@transaction.atomic
def limit_grant_end(*, limit_request: RateLimitIncreaseRequest, actor, note: str = "") -> RateLimitIncreaseRequest:
    """A reviewer ends an active grant now; its installations fall back at their next call.

    Requires a reviewer (PermissionDenied) and a grant that has not ended (ValidationError). Writes
    ``limit_grant.ended`` and tells the developer."""
    require_reviewer(actor, message="Only reviewers can decide rate-limit requests.")
    limit_request = _lock(limit_request, pending=False)
    now = timezone.now()
    if not grant_is_active(limit_request, now):
        raise ValidationError("This grant is not active.")
    limit_request.granted_until = now
    limit_request.save(update_fields=["granted_until"])
    app = limit_request.app
    note = (note or "").strip()
    audit_record(actor=actor, verb="limit_grant.ended", target=limit_request, app_ref=app.client_id,
                 data={"scope": _scope(limit_request), "granted_limit": limit_request.granted_limit,
                       **({"note": note} if note else {})})
    notify(user=app.user, subject=f"{app.name}: the raised rate limit for {_scope(limit_request)} has ended",
           body=note, link=_limits_link(app))
    return limit_request


def limit_steps(*, installations, start: datetime, end: datetime) -> dict[int, list[tuple[datetime, int, bool]]]:
    """The limit each installation had over [start, end): ``(from, calls per minute, raised)`` in time order,
    one entry per change (a grant beginning or ending), the first at ``start``. Charts draw it as a step line.
    Grants are read from the requests' decisions; the default is today's platform setting."""
    row = platform_settings()
    default = default_limit_per_minute(row)
    installations = list(installations)
    grants = list(RateLimitIncreaseRequest.objects.filter(
        app_id__in={i.app_id for i in installations}, status=Status.APPROVED, decided_at__lt=end,
    ).filter(Q(granted_until__isnull=True) | Q(granted_until__gt=start)))
    steps = {}
    for installation in installations:
        mine = [g for g in grants
                if g.app_id == installation.app_id and g.account_id in (None, installation.account_id)]
        moments = sorted(
            {
                start,
                *[g.decided_at for g in mine if start < g.decided_at < end],
                *[g.granted_until for g in mine if g.granted_until and start < g.granted_until < end],
            }
        )
        changes: list[tuple[datetime, int, bool]] = []
        for moment in moments:
            live = [
                g.granted_limit
                for g in mine
                if g.decided_at <= moment
                and (g.granted_until is None or g.granted_until > moment)
                and _per_period(g.granted_limit, row.limit_period_seconds) > row.default_instance_limit
            ]
            per_minute, raised = (max(live), True) if live else (default, False)
            if not changes or changes[-1][1:] != (per_minute, raised):
                changes.append((moment, per_minute, raised))
        steps[installation.pk] = changes
    return steps
