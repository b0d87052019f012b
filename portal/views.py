"""Pages of the developer portal and the reviewer area. Views parse input, call one service or
selector, and render; services enforce permissions again."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.confirmation import confirm_first
from accounts.decorators import developer_required, reviewer_required
from accounts.models import PartnerApplication
from accounts.refusals import reported_refusal
from accounts.roles import is_reviewer
from portal import audit_csv, confirmations, conformance, hooks, lifecycle, limits, selectors, services, usage
from portal.credentials import SECRET_OVERLAP_CHOICES
from portal.forms import (
    AppForm,
    AuditFilterForm,
    DecisionForm,
    EarlyAccessForm,
    PlatformSettingsForm,
    ProgressionRequestForm,
    ReviewCheckForm,
    SuspensionForm,
)
from portal.models import App, EarlyAccess, ProgressionRequest, Stage

STAGE_ORDER = [(stage.value, stage.label) for stage in Stage]


def landing(request):
    return render(request, "portal/landing.html")


@login_required
def home(request):
    """Send each kind of user to where their work is."""
    if is_reviewer(request.user):
        return redirect("portal:review_queue")
    if hasattr(request.user, "developer_profile"):
        return redirect("portal:dashboard")
    if request.user.memberships.exists():
        return redirect("accounts:my_accounts")
    # Nothing yet (e.g. just verified their email): registering as a developer is the next step. The landing
    # page would offer "Go to your workspace", which leads straight back here.
    return redirect("accounts:developer_profile")


# --- Developer pages -------------------------------------------------------------------------------

@developer_required
def dashboard(request):
    apps = list(selectors.apps_of_developer(user=request.user))
    profile = request.user.developer_profile
    return render(request, "portal/dashboard.html", {
        "apps": apps, "profile": profile, "nav_section": "apps",
        "unread": request.user.notifications.filter(read_at__isnull=True)[:5],
    })


@developer_required
def app_create(request):
    form = AppForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        with reported_refusal(request, form) as refusal:
            app, secret = services.app_register(
                actor=request.user, app_ref=form.cleaned_data["app_ref"], **form.service_fields()
            )
        if not refusal:
            request.session[f"new-secret:{app.pk}"] = secret
            messages.success(request, f"{app.name} is registered. Copy your client secret now.")
            return redirect("portal:app_credentials", pk=app.pk)
    return render(request, "portal/app_form.html", {"form": form, "nav_section": "apps"})


def _app_page(request, app: App, template: str, **context):
    return render(request, template, {
        "app": app, "nav_section": "apps", "stages": STAGE_ORDER,
        "pending": selectors.pending_request_of(app=app), **context,
    })


@developer_required
def app_detail(request, pk):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    return _app_detail_page(request, app)


def _app_detail_page(request, app: App, progression_form=None, status: int = 200):
    """The app's overview; with a progression form that came back with errors, that form (what was typed
    stays in it)."""
    intake = selectors.platform_settings()
    next_stage = lifecycle.next_stage(app.stage)
    response = _app_page(
        request, app, "portal/app_detail.html",
        next_stage=next_stage, intake=intake,
        conformance=conformance.live_display(app=app) if next_stage and not app.is_suspended else None,
        progression_form=progression_form or ProgressionRequestForm(),
        is_partner=request.user.developer_profile.is_partner,
        requests=selectors.progression_requests_of(app=app)[:10],
        **_usage_context(app),
    )
    response.status_code = status
    return response


def _usage_context(app: App) -> dict:
    """Installations with their usage and limits, and the callback log (app page)."""
    installations = list(selectors.installations_of(app=app)[:20])
    return {"installations": installations,
            "usage": usage.installations_usage(installations=installations, chart_width=1000),
            "app_limits": limits.current_limits_of(app=app, installations=installations),
            "callback_attempts": hooks.ask(hooks.CALLBACK_LOG, app=app) or []}


@developer_required
def app_edit(request, pk):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    initial = {name: getattr(app, name) for name in services.APP_FIELDS}
    initial["redirect_uris"] = "\n".join(app.redirect_uri_list)
    form = AppForm(request.POST or None, request.FILES or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        with reported_refusal(request, form) as refusal:
            services.app_update(app=app, actor=request.user, **form.service_fields())
        if not refusal:
            messages.success(request, "Changes saved.")
            return redirect("portal:app_detail", pk=app.pk)
    return _app_page(request, app, "portal/app_form.html", form=form, editing=True)


@developer_required
@confirm_first(confirmations.app_delete)
def app_delete(request, pk):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    if request.method == "POST":
        with reported_refusal(request) as refusal:
            services.app_delete(app=app, actor=request.user)
        if refusal:
            return redirect("portal:app_detail", pk=app.pk)
        messages.success(request, f"{app.name} was deleted.")
        return redirect("portal:dashboard")
    return _app_page(request, app, "portal/app_delete.html")


@developer_required
def app_credentials(request, pk):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    secret = request.session.pop(f"new-secret:{app.pk}", None)
    return _app_page(request, app, "portal/app_credentials.html", secret=secret,
                     overlap_choices=list(SECRET_OVERLAP_CHOICES.items()))


@developer_required
@confirm_first(confirmations.app_rotate_secret)
@require_POST
def app_rotate_secret(request, pk):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    try:
        overlap = int(request.POST.get("overlap", ""))
    except ValueError:
        overlap = -1
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the confirmation box to rotate the secret.")
        return redirect("portal:app_credentials", pk=app.pk)
    with reported_refusal(request) as refusal:
        secret = services.app_rotate_secret(app=app, actor=request.user, overlap_seconds=overlap)
    if not refusal:
        request.session[f"new-secret:{app.pk}"] = secret
        messages.success(request, "A new client secret was issued; the old one stops working "
                         f"{SECRET_OVERLAP_CHOICES[overlap]}.")
    return redirect("portal:app_credentials", pk=app.pk)


@developer_required
def app_early_access(request, pk):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    form = EarlyAccessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with reported_refusal(request, form) as refusal:
            grant = services.early_access_add(app=app, account_code=form.cleaned_data["account_code"],
                                              actor=request.user)
        if not refusal:
            messages.success(request, f"{grant.account.code} now has early access.")
            return redirect("portal:app_early_access", pk=app.pk)
    return _app_page(
        request, app, "portal/app_early_access.html", form=form,
        grants=selectors.early_access_of(app=app), cap=selectors.platform_settings().early_access_cap,
    )


@developer_required
@confirm_first(confirmations.early_access_remove)
@require_POST
def early_access_remove(request, pk, grant_id):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    grant = get_object_or_404(EarlyAccess.objects.select_related("account", "app"), pk=grant_id, app=app)
    with reported_refusal(request) as refusal:
        services.early_access_remove(grant=grant, actor=request.user)
    if not refusal:
        messages.success(request, f"{grant.account.code} no longer has early access.")
    return redirect("portal:app_early_access", pk=app.pk)


@developer_required
@require_POST
def progression_request(request, pk):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    form = ProgressionRequestForm(request.POST)
    if not form.is_valid():
        return _app_detail_page(request, app, progression_form=form, status=400)
    with reported_refusal(request) as refusal:
        created = services.progression_request_submit(app=app, actor=request.user, message=form.cleaned_data["message"])
    if not refusal:
        messages.success(request, f"Your request to move to {created.get_to_stage_display().lower()} "
                                  "is in the review queue.")
    return redirect("portal:app_detail", pk=app.pk)


@developer_required
@require_POST
def progression_withdraw(request, pk, request_id):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    progression = get_object_or_404(ProgressionRequest, pk=request_id, app=app)
    with reported_refusal(request) as refusal:
        services.progression_request_withdraw(request=progression, actor=request.user)
    if not refusal:
        messages.success(request, "Your request was withdrawn.")
    return redirect("portal:app_detail", pk=app.pk)


@developer_required
def app_history(request, pk):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    page = Paginator(selectors.app_history(app=app), 50).get_page(request.GET.get("page"))
    return _app_page(request, app, "portal/app_history.html", events=page)


# --- Reviewer pages --------------------------------------------------------------------------------

def review_context(**context):
    """What every reviewer page shows in its tabs: the counts waiting in the other queues."""
    from portal.limits import limit_review_queue

    return {"nav_section": "review",
            "partner_pending": PartnerApplication.objects.filter(status=PartnerApplication.Status.PENDING).count(),
            "limit_pending": limit_review_queue().count(),
            "progression_pending": ProgressionRequest.objects.filter(status=ProgressionRequest.Status.PENDING).count(),
            **context}


@reviewer_required
def review_queue(request):
    queue = list(selectors.review_queue())
    return render(request, "portal/review_queue.html", review_context(queue=queue))


@reviewer_required
def review_request(request, pk):
    return _review_request_page(request, pk)


def _review_request_page(request, pk, decision_form=None, status: int = 200):
    progression = selectors.progression_request_for_review(pk=pk)
    checks = list(progression.checks.all())
    return render(request, "portal/review_request.html", review_context(
        progression=progression, app=progression.app, checks=checks,
        **conformance.review_display(progression=progression, checks=checks),
        all_checked=all(check.is_checked for check in checks),
        history=selectors.app_history(app=progression.app)[:30],
        decision_form=decision_form or DecisionForm(), stages=STAGE_ORDER,
    ), status=status)


@reviewer_required
@require_POST
def review_check(request, pk):
    progression = get_object_or_404(ProgressionRequest, pk=pk)
    form = ReviewCheckForm(request.POST)
    if form.is_valid():
        with reported_refusal(request):
            services.review_check_set(request=progression, stage_key=form.cleaned_data["stage_key"],
                                      checked=form.cleaned_data["checked"], actor=request.user,
                                      note=form.cleaned_data["note"])
    else:
        errors = [
            f"{form.fields[name].label or name.capitalize()}: {error}"
            for name, field_errors in form.errors.items()
            if name != "stage_key"
            for error in field_errors
        ]
        messages.error(request, "That review stage could not be updated. " + " ".join(errors))
    return redirect("portal:review_request", pk=pk)


@reviewer_required
@require_POST
def review_decide(request, pk):
    progression = get_object_or_404(ProgressionRequest.objects.select_related("app"), pk=pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        if "decision" in form.errors:
            messages.error(request, "Choose approve or reject.")
        return _review_request_page(request, pk, decision_form=form, status=400)
    decision, note = form.cleaned_data["decision"], form.cleaned_data["note"]
    with reported_refusal(request) as refusal:
        if decision == "approve":
            services.progression_request_approve(request=progression, actor=request.user, note=note)
        else:
            services.progression_request_reject(request=progression, actor=request.user, note=note)
    if refusal:
        return redirect("portal:review_request", pk=pk)
    verb = "approved" if decision == "approve" else "rejected"
    messages.success(request, f"{progression.app.name}: request {verb}. The developer has been told.")
    return redirect("portal:review_queue")


@reviewer_required
def review_apps(request):
    query = request.GET.get("q", "").strip()
    state = request.GET.get("state", "")
    apps = App.objects.select_related("user__developer_profile").order_by("name", "id")
    if query:
        from django.db.models import Q

        apps = apps.filter(Q(name__icontains=query) | Q(client_id__icontains=query) | Q(user__email__icontains=query))
    if state == lifecycle.SUSPENDED:
        apps = apps.filter(suspended_at__isnull=False)
    elif state in Stage.values:
        apps = apps.filter(stage=state, suspended_at__isnull=True)
    page = Paginator(apps, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/review_apps.html",
        review_context(
            apps=page,
            q=query,
            state=state,
            states=[*STAGE_ORDER, (lifecycle.SUSPENDED, "Suspended")],
        ),
    )


@reviewer_required
def review_app(request, pk):
    return _review_app_page(request, pk)


def _review_app_page(request, pk, form=None, status: int = 200):
    app = get_object_or_404(App.objects.select_related("user__developer_profile"), pk=pk)
    return render(
        request,
        "portal/review_app.html",
        review_context(
            app=app,
            form=form or SuspensionForm(),
            history=selectors.app_history(app=app)[:50],
            requests=selectors.progression_requests_of(app=app)[:20],
            stages=STAGE_ORDER,
        ),
        status=status,
    )


@reviewer_required
@confirm_first(confirmations.review_app_suspension)
@require_POST
def review_app_suspension(request, pk):
    app = get_object_or_404(App, pk=pk)
    form = SuspensionForm(request.POST)
    if form.is_valid():
        with reported_refusal(request):
            if form.cleaned_data["action"] == "suspend":
                services.app_suspend(app=app, actor=request.user, reason=form.cleaned_data["reason"])
                messages.success(request, f"{app.name} is suspended.")
            else:
                services.app_unsuspend(app=app, actor=request.user)
                messages.success(request, f"{app.name} is no longer suspended.")
    else:
        return _review_app_page(request, pk, form=form, status=400)
    return redirect("portal:review_app", pk=pk)


@reviewer_required
def platform_settings_edit(request):
    row = selectors.platform_settings()
    form = PlatformSettingsForm(request.POST or None, instance=row)
    if request.method == "POST" and form.is_valid():
        with reported_refusal(request, form) as refusal:
            services.platform_settings_update(actor=request.user, **form.cleaned_data)
        if not refusal:
            messages.success(request, "Platform settings saved.")
            return redirect("portal:platform_settings")
    return render(request, "portal/platform_settings.html", review_context(form=form, row=row))


@reviewer_required
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    events = _audit_events(filters)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "portal/audit_log.html", review_context(form=form, events=page))


def _audit_events(filters: dict):
    return selectors.audit_log(
        app_ref=filters.get("app_ref", ""),
        actor_email=filters.get("actor", ""),
        verb=filters.get("action", ""),
        since=filters.get("since"),
        until=filters.get("until"),
    )


@reviewer_required
def audit_log_export(request):
    """The filtered audit log as CSV (every matching event, not one page)."""
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    return audit_csv.audit_csv_response(_audit_events(filters))
