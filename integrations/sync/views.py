"""Thin views of the sync pages: parse, call one service or selector, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render

from accounts.refusals import refusal_text
from integrations.sync import services


@login_required
def oauth_callback(request):
    """The browser returns from a consent page: connect the account (managed or external)."""
    code, state = request.GET.get("code", ""), request.GET.get("state", "")
    if request.GET.get("error"):
        return render(request, "integrations/oauth_error.html", {
            "title": "Not connected", "detail": "The authorisation was declined, so nothing was connected."}, status=400)
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


def _not_built_yet(request, *args, **kwargs):
    from django.http import Http404

    raise Http404("This page is being built.")


app_sync = external_connect = webhooks = webhooks_resume = delivery_detail = delivery_redeliver = _not_built_yet
connection_detail = connection_progress = connection_action = account_syncs = _not_built_yet
