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


API_PREFIX = "/public-api/"
# What a platform API request keeps of MIDDLEWARE (outermost first): HTTPS redirect, HSTS and nosniff; the
# Content-Security-Policy and X-Frame-Options headers; the host check and slash handling; and (as a view
# exception hook) the clear 503 when Redis is down. Sessions, CSRF (API views are exempt: clients send
# tokens, not cookies), authentication, messages, allauth and static files have nothing to do there.
API_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.common.CommonMiddleware",
)


class ApiLaneMiddleware:
    """Platform API requests (``/public-api/...``) take a short lane: only ``API_MIDDLEWARE`` runs, then
    the URL is resolved and the view called, with ``ServiceUnavailableMiddleware``'s exception hook; every
    other request goes on through the rest of ``MIDDLEWARE``. Put it right after
    ``RequestContextMiddleware`` (request ids, log context and API metrics still cover API calls).

    An API call then costs one tenth of a millisecond less of middleware that it never uses: the
    gateway's whole overhead budget is one millisecond (docs/performance.md)."""

    def __init__(self, get_response):
        from django.core.handlers.exception import convert_exception_to_response
        from django.utils.module_loading import import_string

        self.get_response = get_response
        self.unavailable = ServiceUnavailableMiddleware(get_response)
        lane = convert_exception_to_response(self._view)
        for path in reversed(API_MIDDLEWARE):
            lane = convert_exception_to_response(import_string(path)(lane))
        self.lane = lane

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            return self.lane(request)
        return self.get_response(request)

    def _view(self, request):
        from django.urls import get_resolver, get_urlconf

        match = get_resolver(get_urlconf()).resolve(request.path_info)
        request.resolver_match = match
        try:
            response = match.func(request, *match.args, **match.kwargs)
        except Exception as error:  # the hook answers what it knows (Redis down); anything else goes on up
            response = self.unavailable.process_exception(request, error)
            if response is None:
                raise
        return response
