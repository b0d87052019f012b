"""Settings of the integrations app: its keys of ``settings.PORTAL``, with their defaults (see
``accounts/conf.py``)."""

from urllib.parse import urlsplit

from django.conf import settings

from accounts.conf import AppSettings, Computed


class IntegrationsSettings(AppSettings):
    NAMESPACE = "PORTAL"
    DEFAULTS = {
        # Host returned as api_domain in token responses: the host of SITE_URL unless set.
        "API_DOMAIN": Computed(lambda: urlsplit(settings.SITE_URL).netloc),
        # Caps of such a request: connect/read timeout, total time, size of the answer.
        "EGRESS_TIMEOUT_SECONDS": 10,
        "EGRESS_MAX_SECONDS": 30,
        "EGRESS_MAX_BYTES": 1024 * 1024,
        # Status of the gateway's over-limit refusals: 503 like the reference platform, or 429.
        "THROTTLE_STATUS": 503,
        # When Redis cannot be reached: admit API requests and log an error (True), or answer 503.
        "LIMITER_FAIL_OPEN": True,
        # Seconds a web process may use its copy of an access token's lookup (integrations/token_cache.py; at
        # most 3600; 0: read the database on every API call).
        "TOKEN_CACHE_SECONDS": 60,
        # Socket timeouts of the gateway's Redis client (limiter and usage counters), in seconds.
        "LIMITER_TIMEOUT_SECONDS": 0.2,
        # Forwarding mode: pass authorised, admitted API requests on to this Brightpearl-style API ("" = off).
        "UPSTREAM_API_URL": "",
        "UPSTREAM_TIMEOUT_SECONDS": 10,
        # Calls without valid credentials admitted per account, app reference and client address per minute
        # (their own pool: never an installation's or a staff pool).
        "FAILED_AUTH_LIMIT": 60,
        # OAuth server (integrations/oauth.py, docs/oauth.md). Accept a refresh that names a confidential client
        # without its secret, as the reference platform does (compatibility); off: a refresh authenticates the
        # client like a code exchange.
        "OAUTH_REFRESH_WITHOUT_SECRET": True,
        # Token-endpoint requests admitted per window, per client id and per client address (0: no limit).
        "OAUTH_TOKEN_LIMIT_PER_CLIENT": 300,
        "OAUTH_TOKEN_LIMIT_PER_ADDRESS": 300,
        "OAUTH_TOKEN_LIMIT_WINDOW_SECONDS": 60,
        # Client ids of resource servers that may introspect any token; other clients see only their own.
        "OAUTH_INTROSPECTION_CLIENTS": (),
    }
    COERCE = {
        "API_DOMAIN": lambda value: value or urlsplit(settings.SITE_URL).netloc,
        "EGRESS_TIMEOUT_SECONDS": float,
        "EGRESS_MAX_SECONDS": float,
        "EGRESS_MAX_BYTES": int,
        "THROTTLE_STATUS": int,
        "LIMITER_FAIL_OPEN": bool,
        "LIMITER_TIMEOUT_SECONDS": float,
        "TOKEN_CACHE_SECONDS": int,
        "UPSTREAM_API_URL": lambda value: (value or "").rstrip("/"),
        "UPSTREAM_TIMEOUT_SECONDS": float,
        "FAILED_AUTH_LIMIT": int,
        "OAUTH_REFRESH_WITHOUT_SECRET": bool,
        "OAUTH_TOKEN_LIMIT_PER_CLIENT": int,
        "OAUTH_TOKEN_LIMIT_PER_ADDRESS": int,
        "OAUTH_TOKEN_LIMIT_WINDOW_SECONDS": int,
        "OAUTH_INTROSPECTION_CLIENTS": tuple,
    }


integrations_settings = IntegrationsSettings()
