"""Rate-limit pages: the developer's limits and increase requests, and the reviewer's queue and decision.
Views parse input, call one service or selector and render; the services check permissions again."""

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from accounts.decorators import developer_required, reviewer_required
from accounts.refusals import reported_refusal
from portal import limit_requests, limits, optimisation, selectors
from portal.limit_forms import MAX_LIMIT, LimitApproveForm, LimitRejectForm, LimitRequestForm, ReportQueryForm
from portal.models import RateLimitIncreaseRequest
from portal.usage import installations_usage
from portal.views import review_context

MAX_CHARTS = 20
EVIDENCE_DAYS = 14  # the period of the snapshot a request stores, and of the reviewer's what-if


# --- Developer -------------------------------------------------------------------------------------

def _report_query(request, installations, *, default_days: int = optimisation.DEFAULT_DAYS, preselect=None):
    """The report's period and installation from ``?days=`` and ``?account=`` (bad values fall back, with a
    message), and the filter form to draw."""
    query = ReportQueryForm(request.GET, accounts=[installation.account for installation in installations],
                            default_days=default_days)
    days, account, notes = query.chosen()
    if "account" not in request.GET and preselect is not None:
        account = query.accounts.get(preselect.code)
    for note in notes:
        messages.warning(request, note)
    return days, account, query.shown(days, account)


def _asked_limit(raw) -> int | None:
    raw = str(raw or "").strip().replace(",", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT else None


@developer_required
def app_limits(request, pk):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    default = limits.default_limit_per_minute()
    installations = list(selectors.installations_of(app=app))
    days, account, query_form = _report_query(request, installations)
    scope_accounts = limits.limit_scope_accounts(app=app)
    previewing = request.method == "POST" and "preview" in request.POST
    if previewing:  # the what-if of the figure typed, keeping what was typed and showing no errors yet
        form = LimitRequestForm(initial=request.POST.dict(), scope_accounts=scope_accounts, default_limit=default)
    else:
        form = LimitRequestForm(request.POST or None, scope_accounts=scope_accounts, default_limit=default,
                                initial={"scope": account.code if account else ""})
    if request.method == "POST" and not previewing and form.is_valid():
        with reported_refusal(request, form, renames={"account": "scope"}) as refusal:
            created = limit_requests.limit_request_submit(app=app, actor=request.user, **form.service_fields())
        if not refusal:
            scope = created.account.code if created.account_id else "all installations"
            messages.success(request, f"Your request for {created.requested_limit:,} calls per minute ({scope}) "
                                      "is with the reviewers. You will be told when it is decided.")
            return redirect("portal:app_limits", pk=app.pk)
    asked = _asked_limit(request.POST.get("requested_limit")) if request.method == "POST" else None
    if previewing and asked is None:
        messages.warning(request, f"Type the limit you want, a whole number from 1 to {MAX_LIMIT:,}, to see its "
                                  "what-if.")
    what_if_account = form.accounts.get(request.POST.get("scope") or "") if request.method == "POST" else account
    current = limits.current_limits_of(app=app, installations=installations)
    what_if = optimisation.what_if(app=app, account=what_if_account, days=days, limits=[asked] if asked else [],
                                   candidates=True)
    return render(request, "portal/limits.html", {
        "app": app, "nav_section": "apps", "form": form, "default": current.default, "grants": current.grants,
        "rows": [(installation, current.of(installation)) for installation in installations],
        "requests": list(limits.limit_requests_of(app=app)[:50]), "now": timezone.now(),
        "report": optimisation.optimisation_report(app=app, account=account, days=days), "query_form": query_form,
        "what_if": what_if, "asked_limits": [asked] if asked else [],
        "asked_rows": [what_if.row(asked)] if asked else [], "previewing": previewing,
    })


@developer_required
@require_POST
def limit_request_withdraw(request, pk, request_id):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    limit_request = get_object_or_404(RateLimitIncreaseRequest, pk=request_id, app=app)
    with reported_refusal(request) as refusal:
        limits.limit_request_withdraw(limit_request=limit_request, actor=request.user)
    if not refusal:
        messages.success(request, "Your rate-limit request was withdrawn.")
    return redirect("portal:app_limits", pk=app.pk)


# --- Reviewer --------------------------------------------------------------------------------------

def _context(**context) -> dict:
    return review_context(**context)


@reviewer_required
def review_limits(request):
    queue = list(limits.limit_review_queue())
    return render(request, "portal/limit_review_queue.html", _context(
        queue=queue, decided=list(limits.limit_requests_decided()), default=limits.default_limit_per_minute(),
        now=timezone.now(),
    ))


def _initial_until(limit_request: RateLimitIncreaseRequest) -> datetime | None:
    """The end of the day the developer asked for (the start of the next one)."""
    if not limit_request.requested_until:
        return None
    return timezone.make_aware(datetime.combine(limit_request.requested_until + timedelta(days=1), time.min))


@reviewer_required
def review_limit_request(request, pk):
    limit_request = get_object_or_404(
        RateLimitIncreaseRequest.objects.select_related("app", "app__user__developer_profile", "account",
                                                        "submitted_by", "reviewer"), pk=pk)
    app = limit_request.app
    approve_form = LimitApproveForm(prefix="approve", initial={
        "granted_limit": limit_request.requested_limit, "granted_until": _initial_until(limit_request)})
    reject_form = LimitRejectForm(prefix="reject")
    granted = limit_request.requested_limit
    if request.method == "POST" and request.POST.get("decision") == "preview":
        # The what-if of the grant typed, keeping what was typed and deciding nothing.
        approve_form = LimitApproveForm(prefix="approve", initial={
            name: request.POST.get(f"approve-{name}", "") for name in ("granted_limit", "granted_until", "note")})
        granted = _asked_limit(request.POST.get("approve-granted_limit"))
        if granted is None:
            messages.warning(request, f"Type the grant, a whole number from 1 to {MAX_LIMIT:,}, to see its what-if.")
    elif request.method == "POST":
        decision, form = request.POST.get("decision"), None
        if decision == "approve":
            form = approve_form = LimitApproveForm(request.POST, prefix="approve")
        elif decision == "reject":
            form = reject_form = LimitRejectForm(request.POST, prefix="reject")
        else:
            messages.error(request, "Choose approve or reject.")
        if form is not None and form.is_valid():
            with reported_refusal(request, form) as refusal:
                if decision == "approve":
                    limits.limit_request_approve(limit_request=limit_request, actor=request.user, **form.cleaned_data)
                    messages.success(request, f"{app.name}: {form.cleaned_data['granted_limit']:,} calls per minute "
                                              "granted. It applies now; the developer has been told.")
                else:
                    limits.limit_request_reject(limit_request=limit_request, actor=request.user, **form.cleaned_data)
                    messages.success(request, f"{app.name}: request rejected. The developer has been told.")
            if not refusal:
                return redirect("portal:review_limits")
    what_if = optimisation.what_if(app=app, account=limit_request.account, days=EVIDENCE_DAYS,
                                   limits=[limit_request.requested_limit, *([granted] if granted else [])])
    installations = list(selectors.installations_of(app=app))
    if limit_request.account_id:
        # The account the request is for first, then the others for comparison.
        installations.sort(key=lambda installation: installation.account_id != limit_request.account_id)
    return render(request, "portal/limit_review.html", _context(
        limit_request=limit_request, app=app, approve_form=approve_form, reject_form=reject_form,
        usage=installations_usage(installations=installations[:MAX_CHARTS], requested={
            installation.pk: limit_request.requested_limit for installation in installations
            if limit_request.account_id in (None, installation.account_id)}),
        more_installations=max(0, len(installations) - MAX_CHARTS),
        default=limits.default_limit_per_minute(), is_active=limits.grant_is_active(limit_request),
        earlier=[r for r in limits.limit_requests_of(app=app)[:20] if r.pk != limit_request.pk],
        history=selectors.app_history(app=app).filter(verb__startswith="limit_")[:20], now=timezone.now(),
        evidence=limit_request.evidence, snapshot_findings=optimisation.snapshot_findings(limit_request.evidence),
        snapshot_error_percent=_snapshot_error_percent(limit_request.evidence),
        captured_at=parse_datetime(str((limit_request.evidence or {}).get("captured_at") or "")),
        what_if=what_if, granted=granted, highlight=[limit_request.requested_limit, granted],
        what_if_rows=[what_if.row(limit_request.requested_limit),
                      *([what_if.row(granted)] if granted and granted != limit_request.requested_limit else [])],
    ))


def _snapshot_error_percent(evidence) -> float:
    try:
        return round(float(evidence["report"]["totals"]["error_rate"]) * 100, 1)
    except (KeyError, TypeError, ValueError):
        return 0.0


@reviewer_required
def review_limit_report(request, pk):
    """The live optimisation report of a request's app, for the reviewer (the request's account first)."""
    limit_request = get_object_or_404(RateLimitIncreaseRequest.objects.select_related("app", "account"), pk=pk)
    app = limit_request.app
    installations = list(selectors.installations_of(app=app))
    days, account, query_form = _report_query(request, installations, default_days=EVIDENCE_DAYS,
                                              preselect=limit_request.account)
    return render(request, "portal/limit_review_report.html", _context(
        limit_request=limit_request, app=app, query_form=query_form,
        report=optimisation.optimisation_report(app=app, account=account, days=days),
    ))


@reviewer_required
@require_POST
def review_limit_end(request, pk):
    limit_request = get_object_or_404(RateLimitIncreaseRequest.objects.select_related("app"), pk=pk)
    with reported_refusal(request) as refusal:
        limits.limit_grant_end(limit_request=limit_request, actor=request.user, note=request.POST.get("note", ""))
    if not refusal:
        messages.success(request, f"{limit_request.app.name}: the grant has ended; its installations are back "
                                  "to the default.")
    return redirect("portal:review_limit_request", pk=pk)
