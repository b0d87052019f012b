"""Project-wide middleware: a clear 503 when a backing service is down, and the Content-Security-Policy."""

import logging
import secrets
import time

import redis
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

UNAVAILABLE_RETRY_AFTER_S = 30
UNAVAILABLE_LOG_INTERVAL_S = 10
_last_logged_at = 0.0


class ServiceUnavailableMiddleware:
    """Redis unreachable (the cache behind sign-in rate limits, locks, the broker) answers a clear
    "temporarily unavailable" 503 with Retry-After, never a 500. The request is refused, not let
    through: sign-in without its rate limits would invite password guessing while Redis is down.
    (The platform API's gateway has its own policy, ``PORTAL["LIMITER_FAIL_OPEN"]``.)"""

    errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, self.errors):
            return None
        _log_unavailable(exception)
        if request.path.startswith(("/api/", "/oauth/", "/public-api/")):
            response = JsonResponse({"detail": "The service is temporarily unavailable. Please retry shortly."},
                                    status=503)
        else:
            try:
                body = render_to_string("503.html", request=request)
            except Exception:  # the page itself needs something that is down: plain text then
                body = "The portal is temporarily unavailable. Please try again in a minute."
            response = HttpResponse(body, status=503)
        response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_S)
        response["Cache-Control"] = "no-store"
        response._has_been_logged = True  # logged here, once in a while, not on every request
        return response


def _log_unavailable(error: Exception) -> None:
    global _last_logged_at
    now = time.monotonic()
    if _last_logged_at and now - _last_logged_at < UNAVAILABLE_LOG_INTERVAL_S:
        return
    _last_logged_at = now
    logger.error("Redis unreachable (%s: %s): answering 503 until it is back. Check REDIS_URL. "
                 "(Logged at most every %s s.)", type(error).__name__, error, UNAVAILABLE_LOG_INTERVAL_S)


class ContentSecurityPolicyMiddleware:
    """Send ``settings.CONTENT_SECURITY_POLICY`` (directive -> sources) on every response that has none.

    Each request gets a fresh nonce, ``request.csp_nonce``, put wherever a source says ``'nonce'``:
    an inline ``<script>`` or ``<style>`` runs only with ``nonce="{{ request.csp_nonce }}"``. Inline
    event handlers and ``javascript:`` URLs never run. ``CONTENT_SECURITY_POLICY_REPORT_ONLY`` (True)
    sends the policy as report-only, to try a change first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(18)
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        if not policy:
            return response
        header = ("Content-Security-Policy-Report-Only"
                  if getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", False) else "Content-Security-Policy")
        if header not in response:
            response[header] = content_security_policy(policy, nonce=request.csp_nonce)
        return response


def content_security_policy(policy: dict, *, nonce: str) -> str:
    """The header value of a policy dict, with ``'nonce'`` sources filled in."""
    parts = []
    for directive, sources in policy.items():
        values = [f"'nonce-{nonce}'" if source == "'nonce'" else source for source in sources]
        parts.append(" ".join([directive, *values]).strip())
    return "; ".join(parts)
