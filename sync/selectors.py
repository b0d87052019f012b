"""Reads of the sync pages, scoped so that another person's connection or delivery is a 404.

Who sees what:
- the app's developer: every connection, run and webhook delivery of their apps;
- members of an account (any role): the managed connections of apps turned on in that account; only
  owners and admins may act on them (``services.can_manage_connection``), staff members read them.
"""

from datetime import timedelta

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Account, Membership
from accounts.roles import is_account_manager
from portal.limits import installation_limits
from portal.models import App
from sync.client import pool_limit
from sync.models import Connection, SyncRecord, SyncRun, SyncSpec, WebhookAttempt, WebhookDelivery

CALLS_WINDOW = timedelta(hours=1)
RECENT_WINDOW = timedelta(hours=24)
RUNS_SHOWN = 50


# --- Connections -------------------------------------------------------------------------------------------

def _run_total(field: str, since) -> Coalesce:
    """Sum of a run figure over the connection's runs started since ``since`` (a correlated subquery, so
    several totals do not multiply each other as joins would)."""
    runs = (SyncRun.objects.filter(connection=OuterRef("pk"), started_at__gte=since).order_by()
            .values("connection").annotate(total=Sum(field)).values("total")[:1])
    return Coalesce(Subquery(runs, output_field=IntegerField()), Value(0))


def with_figures(connections: QuerySet[Connection], *, now=None) -> QuerySet[Connection]:
    """Connections with what the tables show, in one query: records mirrored, the last run, calls in
    the last hour, throttled responses and errors in the last 24 hours."""
    now = now or timezone.now()
    last_run = SyncRun.objects.filter(connection=OuterRef("pk")).order_by("-started_at", "-id")
    records = (SyncRecord.objects.filter(connection=OuterRef("pk")).order_by().values("connection")
               .annotate(n=Count("id")).values("n")[:1])
    return connections.select_related("app", "installation").annotate(
        record_count=Coalesce(Subquery(records, output_field=IntegerField()), Value(0)),
        last_run_started_at=Subquery(last_run.values("started_at")[:1]),
        last_run_status=Subquery(last_run.values("status")[:1]),
        calls_last_hour=_run_total("calls", now - CALLS_WINDOW),
        throttled_recent=_run_total("throttled", now - RECENT_WINDOW),
        errors_recent=_run_total("errors", now - RECENT_WINDOW),
    )


def with_pool_limits(connections) -> list[Connection]:
    """The connections as a list, each with ``pool_calls`` and ``pool_window_seconds`` (its rate pool,
    as ``client.pool_limit`` gives it) and ``pool_calls_per_hour``; two queries for any number of
    managed connections instead of one each."""
    connections = list(connections)
    installations = [c.installation for c in connections if c.installation_id]
    limits = installation_limits(installations=installations) if installations else {}
    for connection in connections:
        if connection.installation_id:
            limit = limits[connection.installation_id]
            calls, window = limit.calls, limit.window_seconds
        else:
            calls, window = pool_limit(connection)
        connection.pool_calls, connection.pool_window_seconds = calls, window
        connection.pool_calls_per_hour = calls * 3600 // max(1, window)
    return connections


def connections_of_app(*, app: App) -> list[Connection]:
    """The app's connections (managed and external) with their figures and rate pools."""
    return with_pool_limits(with_figures(app.sync_connections.all()).order_by("account_code", "id"))


def connections_of_account(*, account: Account) -> list[Connection]:
    """The managed connections of apps turned on in the account, with their figures and rate pools."""
    managed = Connection.objects.filter(kind=Connection.Kind.MANAGED, installation__account=account)
    return with_pool_limits(with_figures(managed).order_by("app__name", "id"))


def connections_visible_to(*, user) -> QuerySet[Connection]:
    """Connections of the user's apps, and managed connections of accounts the user is a member of."""
    member_of = Membership.objects.filter(user=user).values("account_id")
    return Connection.objects.filter(
        Q(app__user=user) | Q(kind=Connection.Kind.MANAGED, installation__account_id__in=member_of))


def connection_for(*, user, pk: int, figures: bool = False) -> Connection:
    """One connection the user may see; any other is a 404. With ``figures``, annotated as in the tables
    and with its rate pool."""
    connections = connections_visible_to(user=user).select_related("app", "installation__account")
    if figures:
        return with_pool_limits([get_object_or_404(with_figures(connections), pk=pk)])[0]
    return get_object_or_404(connections, pk=pk)


def may_reauthorize(*, connection: Connection, user) -> bool:
    """Who can authorise the connection again: the developer for an external account, an owner or
    admin of the account for a managed one (the same rule as ``services.reauthorize_url``)."""
    if connection.kind == Connection.Kind.EXTERNAL:
        return connection.app.user_id == user.pk
    return is_account_manager(user, account_code=connection.account_code)


def streams_of(*, connection: Connection):
    return connection.streams.select_related("current_run").order_by("resource")


def runs_of(*, connection: Connection, limit: int = RUNS_SHOWN) -> list[SyncRun]:
    return list(connection.runs.select_related("requested_by").order_by("-started_at", "-id")[:limit])


def run_figures(run: SyncRun) -> dict:
    """What the progress poll sends for one run."""
    duration = run.duration_seconds
    return {"id": run.pk, "status": run.status, "pages": run.pages, "records_seen": run.records_seen,
            "records_created": run.records_created, "records_updated": run.records_updated, "calls": run.calls,
            "throttled": run.throttled, "errors": run.errors,
            "duration_seconds": round(duration, 1) if duration is not None else None}


# --- Managed sync settings ---------------------------------------------------------------------------------

def sync_spec_of(*, app: App) -> SyncSpec | None:
    return SyncSpec.objects.filter(app=app).first()


def secret_state(*, app: App, spec: SyncSpec | None) -> str:
    """'missing' (never saved), 'stale' (the app's secret was rotated after it was saved) or 'saved'."""
    if spec is None or not spec.client_secret_encrypted:
        return "missing"
    if app.secret_rotated_at and spec.secret_saved_at and app.secret_rotated_at > spec.secret_saved_at:
        return "stale"
    return "saved"


# --- Webhook deliveries ------------------------------------------------------------------------------------

def deliveries_of_app(*, app: App) -> QuerySet[WebhookDelivery]:
    return (WebhookDelivery.objects.filter(connection__app=app).select_related("connection")
            .order_by("-created_at", "-id"))


def delivery_of_app(*, app: App, pk: int) -> WebhookDelivery:
    """One delivery of the app with its attempts, newest first; another app's is a 404."""
    attempts = WebhookAttempt.objects.order_by("-number", "-id")
    return get_object_or_404(deliveries_of_app(app=app).prefetch_related(Prefetch("attempt_log", queryset=attempts)),
                             pk=pk)
