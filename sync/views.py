"""Thin views of the sync pages: parse, call one service or selector, render."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.refusals import refusal_text, reported_refusal
from accounts.selectors import membership_or_404
from portal.selectors import app_of_developer
from sync import selectors, services
from sync.forms import ExternalConnectForm, SyncSpecForm
from sync.models import SyncRun, SyncSpec
from sync.webhooks import SIGNATURE_HEADER

DELIVERIES_PER_PAGE = 25


@login_required
def oauth_callback(request):
    """The browser returns from a consent page: connect the account (managed or external)."""
    code, state = request.GET.get("code", ""), request.GET.get("state", "")
    if request.GET.get("error"):
        return render(request, "integrations/oauth_error.html", {
            "title": "Not connected",
            "detail": "The authorisation was declined, so nothing was connected."}, status=400)
    if not code or not state:
        return render(request, "integrations/oauth_error.html", {
            "title": "Not connected", "detail": "The authorisation response is missing its code or state."}, status=400)
    try:
        connection = services.oauth_callback_complete(state=state, code=code, actor=request.user)
    except (ValidationError, PermissionDenied, services.ConnectFailed) as error:
        return render(request, "integrations/oauth_error.html",
                      {"title": "Not connected", "detail": refusal_text(error)}, status=400)
    messages.success(request, f"Connected {connection.account_code}: the first sync has started.")
    return redirect("sync:connection", pk=connection.pk)


# --- Helpers -----------------------------------------------------------------------------------------------

def _back(request, fallback: str):
    """Back to the page the button was on (a local ``next``), else ``fallback``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


# --- Developer: managed sync and connections of an app -----------------------------------------------------

@login_required
def app_sync(request, pk):
    app = app_of_developer(user=request.user, pk=pk)
    spec = selectors.sync_spec_of(app=app)
    form = SyncSpecForm(request.POST or None, initial=SyncSpecForm.initial_from(spec))
    if request.method == "POST" and form.is_valid():
        with reported_refusal(request, form) as refusal:
            spec = services.sync_spec_save(app=app, actor=request.user, **form.cleaned_data)
        if not refusal:
            messages.success(request, "Managed sync is on: accounts that turn the app on are connected and synced."
                             if spec.is_enabled else "Managed sync settings saved; managed sync is off.")
            return redirect("sync:app_sync", pk=app.pk)
    return render(request, "sync/app_sync.html", {
        "app": app, "spec": spec, "form": form, "nav_section": "apps",
        "secret_state": selectors.secret_state(app=app, spec=spec),
        "connections": selectors.connections_of_app(app=app),
    })


@login_required
def external_connect(request, pk):
    app = app_of_developer(user=request.user, pk=pk)
    form = ExternalConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with reported_refusal(request, form) as refusal:
            _, url = services.external_connection_start(app=app, actor=request.user, **form.cleaned_data)
        if not refusal:
            return redirect(url)
    return render(request, "sync/external_connect.html", {
        "app": app, "form": form, "callback_uri": services.callback_uri(), "nav_section": "apps"})


# --- One connection (developer, and members of the account of a managed one) ------------------------------

@login_required
def connection_detail(request, pk):
    connection = selectors.connection_for(user=request.user, pk=pk, figures=True)
    runs = selectors.runs_of(connection=connection)
    return render(request, "sync/connection.html", {
        "connection": connection, "app": connection.app, "runs": runs,
        "streams": list(selectors.streams_of(connection=connection)),
        "is_developer": connection.app.user_id == request.user.pk,
        "can_manage": services.can_manage_connection(connection=connection, user=request.user),
        "may_reauthorize": selectors.may_reauthorize(connection=connection, user=request.user),
        "is_running": any(run.status == SyncRun.Status.RUNNING for run in runs),
        # For the live refresh: each run status's badge (tone, label), as the model declares them.
        "run_badges": {status: [SyncRun.STATUS_TONES[status], label] for status, label in SyncRun.Status.choices},
        "nav_section": "apps" if connection.app.user_id == request.user.pk else "accounts",
    })


@login_required
def connection_progress(request, pk):
    connection = selectors.connection_for(user=request.user, pk=pk)
    runs = selectors.runs_of(connection=connection)
    return JsonResponse({"status": connection.status,
                         "runs": [selectors.run_figures(run) for run in runs]})


ACTIONS = {
    "sync-now": (services.connection_sync_now, "A sync of every resource has started."),
    "full-resync": (services.connection_full_resync, "A full resync has started: every record is read again."),
    "pause": (services.connection_pause, "The sync is paused. Resume it to carry on from where it stopped."),
    "resume": (services.connection_resume, "The sync is running again from where it stopped."),
}


@login_required
@require_POST
def connection_action(request, pk, action):
    if action not in ACTIONS and action != "reauthorize":
        raise Http404("No such action.")
    connection = selectors.connection_for(user=request.user, pk=pk)
    fallback = reverse("sync:connection", args=[connection.pk])
    with reported_refusal(request) as refusal:
        if action == "reauthorize":
            return redirect(services.reauthorize_url(connection=connection, actor=request.user))
        service, done = ACTIONS[action]
        service(connection=connection, actor=request.user)
    if not refusal:
        messages.success(request, done)
    return _back(request, fallback)


# --- Developer: webhook deliveries -------------------------------------------------------------------------

@login_required
def webhooks(request, pk):
    app = app_of_developer(user=request.user, pk=pk)
    page = Paginator(selectors.deliveries_of_app(app=app), DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "sync/webhooks.html", {
        "app": app, "spec": selectors.sync_spec_of(app=app), "page": page, "nav_section": "apps",
        "signature_header": SIGNATURE_HEADER,
    })


@login_required
@require_POST
def webhooks_resume(request, pk):
    app = app_of_developer(user=request.user, pk=pk)
    try:
        with reported_refusal(request) as refusal:
            services.webhook_resume(app=app, actor=request.user)
    except SyncSpec.DoesNotExist:
        messages.error(request, "This app has no managed sync, so it has no webhooks to resume.")
    else:
        if not refusal:
            messages.success(request, "Webhooks are on again; waiting deliveries go out now.")
    return redirect("sync:webhooks", pk=app.pk)


@login_required
def delivery_detail(request, pk, delivery_id):
    app = app_of_developer(user=request.user, pk=pk)
    delivery = selectors.delivery_of_app(app=app, pk=delivery_id)
    return render(request, "sync/delivery.html", {
        "app": app, "delivery": delivery, "attempts": list(delivery.attempt_log.all()),
        "body": _pretty_json(delivery.request_body), "nav_section": "apps",
    })


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@login_required
@require_POST
def delivery_redeliver(request, pk, delivery_id):
    app = app_of_developer(user=request.user, pk=pk)
    delivery = selectors.delivery_of_app(app=app, pk=delivery_id)
    with reported_refusal(request) as refusal:
        services.webhook_redeliver(delivery=delivery, actor=request.user)
    if not refusal:
        spec = selectors.sync_spec_of(app=app)
        when = "once you resume the app's webhooks" if spec and spec.webhook_is_paused else "in a moment"
        messages.success(request, f"Delivery {delivery.pk} will be sent again {when}, newly signed.")
    return redirect("sync:delivery", pk=app.pk, delivery_id=delivery.pk)


# --- Account members: the account's syncs ------------------------------------------------------------------

@login_required
def account_syncs(request, code):
    membership = membership_or_404(user=request.user, code=code)
    return render(request, "sync/account_syncs.html", {
        "account": membership.account, "membership": membership, "nav_section": "accounts",
        "connections": selectors.connections_of_account(account=membership.account),
    })
