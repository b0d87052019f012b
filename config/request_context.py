"""Request ids and log context for every request, and the request-path metrics (middleware)."""

import re
import time
import uuid

from config import logs, metrics

REQUEST_ID_HEADER = "X-Request-ID"
_GOOD_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
API_PREFIX = "/public-api/"
TOKEN_VIEWS = {"integrations:token", "integrations:account_token", "integrations:account_token_alt"}


class RequestContextMiddleware:
    """Gives every request an id (the caller's ``X-Request-ID`` when it looks like one, else a new one),
    returned in ``X-Request-ID`` and added to every log line written while the request is served
    (config.logs.RequestContext); times platform API requests and counts token endpoint outcomes
    (config.metrics). First in MIDDLEWARE after the health checks, so the time covers the whole stack."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = given if _GOOD_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        token = logs.current_request.set(request)
        try:
            response = self.get_response(request)
            if request.path_info.startswith(API_PREFIX):
                metrics.observe_api(response, time.perf_counter() - started)
            else:
                match = getattr(request, "resolver_match", None)
                if match is not None and match.view_name in TOKEN_VIEWS and request.method == "POST":
                    metrics.observe_token_request(request, response)
        finally:
            logs.current_request.reset(token)
        response[REQUEST_ID_HEADER] = request.request_id
        return response
