"""The developer's switch for usage alerts of an app (the alerts themselves: ``portal/usage_alerts.py``)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.decorators import developer_required
from accounts.forms import UsageAlertsMuteForm
from accounts.refusals import reported_refusal
from portal import selectors
from portal.usage_alerts import app_usage_alerts_mute


@developer_required
@require_POST
def app_usage_alerts(request, pk):
    app = selectors.app_of_developer(user=request.user, pk=pk)
    form = UsageAlertsMuteForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["muted"][0])
        return redirect(reverse("portal:app_detail", args=[app.pk]) + "#usage-alerts")
    muted = form.cleaned_data["muted"]
    with reported_refusal(request) as refusal:
        app_usage_alerts_mute(actor=request.user, app=app, muted=muted)
    if not refusal:
        messages.success(request, f"Usage alerts for {app.name} are muted." if muted else
                         f"You will be told when {app.name} nears its limit in an account.")
    return redirect(reverse("portal:app_detail", args=[app.pk]) + "#usage-alerts")
