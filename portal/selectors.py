"""Reads that need scoping or shaping. Views and services read through these."""

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import AuditEvent
from portal.models import App, EarlyAccess, Installation, PlatformSettings, ProgressionRequest


def platform_settings() -> PlatformSettings:
    settings_row, _ = PlatformSettings.objects.get_or_create(pk=1)
    return settings_row


def apps_of_developer(*, user) -> QuerySet[App]:
    """The developer's apps with what the dashboard shows, in a fixed number of queries."""
    pending = ProgressionRequest.objects.filter(app=OuterRef("pk"), status=ProgressionRequest.Status.PENDING)
    return (
        App.objects.filter(user=user)
        .annotate(
            installation_count=Count("installations", filter=Q(installations__is_enabled=True), distinct=True),
            early_access_count=Count("early_access", distinct=True),
            has_pending_request=Exists(pending),
        )
        .order_by("name", "id")
    )


def app_of_developer(*, user, pk: int) -> App:
    """One of the developer's own apps; another developer's app is a 404."""
    return get_object_or_404(App.objects.select_related("user__developer_profile"), pk=pk, user=user)


def pending_request_of(*, app: App) -> ProgressionRequest | None:
    return app.progression_requests.filter(status=ProgressionRequest.Status.PENDING).first()


def early_access_of(*, app: App) -> QuerySet[EarlyAccess]:
    return app.early_access.select_related("account", "added_by").order_by("added_at", "id")


def review_queue() -> QuerySet[ProgressionRequest]:
    """Pending progression requests, oldest first, with their app, developer and checklist."""
    return (
        ProgressionRequest.objects.filter(status=ProgressionRequest.Status.PENDING)
        .select_related("app", "app__user", "app__user__developer_profile", "submitted_by")
        .annotate(
            check_count=Count("checks", distinct=True),
            checked_count=Count("checks", filter=Q(checks__checked_at__isnull=False), distinct=True),
        )
        .order_by("submitted_at", "id")
    )


def progression_request_for_review(*, pk: int) -> ProgressionRequest:
    return get_object_or_404(
        ProgressionRequest.objects.select_related(
            "app", "app__user", "app__user__developer_profile", "submitted_by", "reviewer"
        ).prefetch_related(Prefetch("checks", queryset=_checks())),
        pk=pk,
    )


def _checks():
    from portal.models import ReviewCheck

    return ReviewCheck.objects.select_related("stage", "checked_by").order_by("stage__position", "id")


def app_history(*, app: App) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(app_ref=app.client_id).select_related("actor").order_by("-created_at", "-id")


def progression_requests_of(*, app: App) -> QuerySet[ProgressionRequest]:
    return app.progression_requests.select_related("submitted_by", "reviewer").order_by("-submitted_at", "-id")


def audit_log(
    *, app_ref: str = "", actor_email: str = "", verb: str = "", since=None, until=None
) -> QuerySet[AuditEvent]:
    """Audit events, newest first; ``since`` and ``until`` are dates (both days included, local time)."""
    events = AuditEvent.objects.select_related("actor").order_by("-created_at", "-id")
    if since:
        events = events.filter(created_at__date__gte=since)
    if until:
        events = events.filter(created_at__date__lte=until)
    if app_ref:
        events = events.filter(app_ref=app_ref)
    if actor_email:
        events = events.filter(actor__email__iexact=actor_email)
    if verb:
        events = events.filter(verb__startswith=verb)
    return events


def installations_of(*, app: App) -> QuerySet[Installation]:
    return app.installations.select_related("account", "installed_by").order_by("-installed_at")


def apps_visible_to_account(*, account) -> QuerySet[App]:
    """The store of one account: in development and alpha apps only with early access; beta with
    early access or when the account shows beta apps; released for everyone; suspended for nobody."""
    from portal.models import Stage

    has_early_access = Exists(EarlyAccess.objects.filter(app=OuterRef("pk"), account=account))
    visible = Q(stage=Stage.RELEASED) | Q(has_early_access=True)
    if account.show_beta_apps:
        visible |= Q(stage=Stage.BETA)
    return (
        App.objects.filter(suspended_at__isnull=True)
        .annotate(has_early_access=has_early_access)
        .filter(visible)
        .select_related("user__developer_profile")
    )


def app_visible_to_account(*, app: App, account) -> bool:
    return apps_visible_to_account(account=account).filter(pk=app.pk).exists()


def app_for_account_page(*, account, app_ref: str) -> App:
    """An app's page in an account's store: any app the store shows, and also an app that is on in the
    account but no longer listed (suspended, or its early access ended), so the owner can see why."""
    visible = apps_visible_to_account(account=account).filter(client_id=app_ref).first()
    if visible is not None:
        return visible
    return get_object_or_404(
        App.objects.filter(installations__account=account, installations__is_enabled=True).select_related(
            "user__developer_profile"
        ),
        client_id=app_ref,
    )


def suspended_apps_on_account(*, account) -> list[Installation]:
    """Installations that are on in the account while their app is suspended (their tokens do not work)."""
    return list(
        Installation.objects.filter(account=account, is_enabled=True, app__suspended_at__isnull=False)
        .select_related("app")
        .order_by("app__name")
    )
