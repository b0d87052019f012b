"""A webhook receiver for the demo (DEMO_MODE only): what an app's endpoint does with the portal's change
events, so that `make run` shows deliveries end to end. It checks the signature the way an app should —
HMAC-SHA256 of ``<t>.<body>`` keyed with the app's callback signing key, compared in constant time, the
timestamp no older than five minutes — and answers 401 when it does not hold."""

import hashlib
import hmac
import json
import time

from django.conf import settings
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.models import App
from sync.webhooks import SIGNATURE_HEADER

MAX_AGE_SECONDS = 300


def signature_holds(*, header: str, body: bytes, key: str, now: float) -> bool:
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(now - timestamp) <= MAX_AGE_SECONDS and hmac.compare_digest(parts.get("v1", ""), expected)


@csrf_exempt
@require_POST
def demo_webhook_receiver(request):
    if not settings.DEMO_MODE:
        raise Http404("The demo webhook receiver only exists in demo mode.")
    try:
        payload = json.loads(request.body)
        app = App.objects.get(client_id=payload["appRef"])
    except (ValueError, KeyError, TypeError, App.DoesNotExist):
        return JsonResponse({"error": "not a change-event delivery of a known app"}, status=400)
    if not signature_holds(header=request.headers.get(SIGNATURE_HEADER, ""), body=request.body,
                           key=app.callback_signing_key, now=time.time()):
        return JsonResponse({"error": "bad signature"}, status=401)
    return JsonResponse({"received": len(payload.get("events", []))})
