"""Project settings, read from the environment.

Development defaults let the portal start on a fresh machine (SQLite, console email, DEBUG on).
Production deployments use ``config.settings_production``, which refuses unsafe values.
"""

import os
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.oauth_policy import pkce_required

BASE_DIR = Path(__file__).resolve().parent.parent

INSECURE_DEFAULT_SECRET_KEY = "insecure-dev-key-change-me"


def env_bool(name: str, default: bool | None = False) -> bool | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name: str, default: float | None) -> float | None:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def set_only(values: dict) -> dict:
    """``values`` without the keys whose variable was not set (None): the app's default applies to those."""
    return {key: value for key, value in values.items() if value is not None}


SECRET_KEY = os.environ.get("SECRET_KEY") or INSECURE_DEFAULT_SECRET_KEY
DEBUG = env_bool("DEBUG", default=True)
# Demo mode: seed data may be created and reviewers are not forced to enrol in two-factor.
DEMO_MODE = env_bool("DEMO_MODE", default=DEBUG)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:%s" % os.environ.get("PORT", "8000")).rstrip("/")
# The name emails and pages sign with (allauth's emails read it through accounts.adapter).
PORTAL_NAME = os.environ.get("PORTAL_NAME", "Partner Portal")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "oauth2_provider",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "portal",
    "integrations",
    "sync",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Redis down: a clear 503 page instead of a 500 (sign-in's rate limits live in the cache).
    "config.middleware.ServiceUnavailableMiddleware",
    # The portal's 404 and 403 pages also with DEBUG on in demo mode.
    "config.error_pages.StyledErrorPagesMiddleware",
]

# Content-Security-Policy of every page (config.middleware.ContentSecurityPolicyMiddleware). Scripts and
# <style> elements come from our own origin, or inline with the request's nonce ('nonce'); style
# attributes stay allowed (templates and the inline SVG charts size things with them; they cannot run
# code). No form-action: the OAuth consent form ends in a redirect to the app's own site.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", "'nonce'"],
    "style-src": ["'self'", "'nonce'"],
    "style-src-elem": ["'self'", "'nonce'"],
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
}
CONTENT_SECURITY_POLICY_REPORT_ONLY = False

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, worker and beat share the file: write-ahead logging lets readers and one writer
    # work at once, IMMEDIATE transactions take the write lock up front instead of failing half-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        "transaction_mode": "IMMEDIATE",
    })
    # Tests on SQLite use a file, not memory, so that worker processes started by a test share it.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"portal-test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: Celery broker, cache (allauth's rate limits), the API limiter and usage counters, and locks.
# `make run` and `make test` start a private redis-server and export REDIS_URL when it is unset.
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "portal"),
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # Only for machine secrets (OAuth client secrets); see OAUTH2_PROVIDER below.
    "accounts.hashers.RandomSecretHasher",
]

# django-allauth: email login, mandatory verification, its built-in rate limits (on by default).
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Partner Portal] "
LOGIN_REDIRECT_URL = "/home/"
LOGIN_URL = "account_login"
# Failed sign-ins: at most 10 a minute from one address, and 5 in 5 minutes for one account *from one
# address* (accounts.adapter keys the second by account and address together), so a stranger guessing
# passwords cannot lock the rightful user out from everywhere.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
# Reverse proxies in front of the portal that append to X-Forwarded-For: the client address (rate limits
# of sign-in and of the API's failed authentication) is read that many hops from the right. 0: REMOTE_ADDR.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Partner Portal"
ACCOUNT_ADAPTER = "accounts.adapter.PortalAccountAdapter"
MFA_ADAPTER = "accounts.adapter.PortalMFAAdapter"
# Fernet keys (comma-separated, newest first) that encrypt TOTP secrets and recovery-code seeds at rest;
# when unset, one is derived from SECRET_KEY (set real keys to rotate SECRET_KEY without losing MFA).
MFA_SECRET_KEYS = env_list("MFA_SECRET_KEYS")

# Email
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / ".run" / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Partner Portal <portal@localhost>")

# django-oauth-toolkit. The app registry *is* the OAuth client registry: portal.App is the swapped
# Application model (app_ref == client_id), and the token models live in integrations so that every
# grant and token is bound to the installation it was issued for.
OAUTH2_PROVIDER_APPLICATION_MODEL = "portal.App"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "integrations.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "integrations.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "integrations.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "integrations.Grant"
OAUTH2_PROVIDER = {
    # Client secrets are 48 random bytes, so a slow password hash (PBKDF2: hundreds of
    # milliseconds per check, on every token request) buys no security: nobody can brute-force
    # 384 bits. A single salted SHA-256 keeps the token endpoint fast while the database still
    # never holds a usable secret.
    "CLIENT_SECRET_HASHER": "portal_secret_sha256",
    # Access-token lifetime (the token response's expires_in). The reference platform issues 604800
    # (7 days); ours is shorter by default because a bearer token is usable by whoever holds it, and
    # clients read expires_in and refresh. Set OAUTH_ACCESS_TOKEN_SECONDS=604800 for the reference's.
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_ACCESS_TOKEN_SECONDS", 3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("OAUTH_REFRESH_TOKEN_SECONDS", 90 * 24 * 3600),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 120,
    "ROTATE_REFRESH_TOKEN": True,
    # A refresh token replaced less than this long ago may be replayed once more and returns the same new
    # pair: a client (or a sync worker) that died or lost the response mid-refresh is not locked out. A
    # token revoked on purpose (turned off, suspended, /oauth/revoke) is never honoured again.
    # Access and refresh tokens are stored only as SHA-256 checksums (the token column stays empty).
    # The toolkit's grace-period replay would hand back the stored pair, which no longer exists; the
    # validator (integrations/oauth.py) issues a fresh pair instead and retires the unreceived one.
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": env_int("OAUTH_REFRESH_GRACE_SECONDS", 120),
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    # A replaced refresh token used after its grace period revokes its whole family (every token that
    # descends from the same authorization).
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # A callable (not a dotted path: the toolkit does not import this one): PKCE for public clients.
    "PKCE_REQUIRED": pkce_required,
    # Refuse the "plain" PKCE method; S256 only.
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "OAUTH2_VALIDATOR_CLASS": "integrations.oauth.PortalOAuth2Validator",
    # Authorization codes reach the toolkit as their checksum, which is all the grant row stores.
    "OAUTH2_BACKEND_CLASS": "integrations.oauth.PortalOAuthLibCore",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
}
# The toolkit's deploy check E001 says hashed token storage cannot be combined with a grace period,
# because its grace path returns the stored pair. Ours does not (see REFRESH_TOKEN_GRACE_PERIOD_SECONDS).
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.E001"]

# Celery: one app, wired in config/celery_app.py.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict = {
    # The gateway's per-minute usage counters (Redis) into UsageMinute rows; idempotent, so an overlap
    # or a re-run never double counts. Expires so that a backlog does not pile up runs.
    "rollup-usage": {"task": "integrations.tasks.rollup_usage", "schedule": 60.0, "options": {"expires": 55}},
    # Usage retention: minutes past PORTAL["USAGE_MINUTE_RETENTION_DAYS"] folded into hourly rows, hours past
    # PORTAL["USAGE_HOUR_RETENTION_DAYS"] deleted; batched and idempotent.
    "usage-retention": {"task": "integrations.tasks.usage_retention", "schedule": 3600.0,
                        "options": {"expires": 3000}},
    # Signed outbound deliveries (install/uninstall callbacks, webhooks): new ones, and retries when due.
    "deliveries": {"task": "integrations.tasks.deliver_due", "schedule": 2.0, "options": {"expires": 10}},
    # The limiter's usage alerts (an installation at 80% / 100% of its limit) into the portal's inbox and email.
    "usage-alerts": {"task": "integrations.tasks.usage_alerts", "schedule": 10.0, "options": {"expires": 10}},
}

# Static and media files
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Django REST framework: only the developer API (integrations/devapi) uses it, and its views name their
# authentication (developer API keys, no session, so no CSRF), parsers and renderers themselves. These
# defaults keep any other DRF view equally strict: JSON only, signed in by an API key.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["integrations.devapi.authentication.DeveloperApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["integrations.devapi.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "integrations.devapi.schema.DeveloperApiSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Partner Portal developer API",
    "DESCRIPTION": "Everything a developer does in the portal — apps, credentials, early access, progression and "
                   "rate-limit requests, installations and usage — as JSON. Authenticate with a personal developer "
                   "API key (create one in the portal under API keys): `Authorization: Bearer <key>` or "
                   "`X-Api-Key: <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs are public (they describe, they do not act); no session is involved.
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "PREPROCESSING_HOOKS": ["integrations.devapi.schema.only_developer_api"],
    "SCHEMA_PATH_PREFIX": "/api/developer",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # validatorUrl None: Swagger UI would otherwise send the schema's URL to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {"StageEnum": "portal.models.Stage"},
    "PATH_CONVERTER_OVERRIDES": {
        "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
        "devapi_id": {"type": "integer", "minimum": 0, "maximum": 999999999999999999},
    },
}

# App behaviour, in two namespaced dicts. Every key and its default lives in the settings object of the app that
# reads it (accounts/conf.py, portal/conf.py, integrations/conf.py share PORTAL; sync/conf.py reads
# SYNC_ENGINE); here only what the environment changes. An unset variable leaves its key out (None is dropped).
PORTAL = set_only({
    # accounts/conf.py
    "REQUIRE_MFA_FOR_REVIEWERS": env_bool("REQUIRE_MFA_FOR_REVIEWERS", default=None),
    # portal/conf.py
    "ICON_MAX_BYTES": env_int("ICON_MAX_BYTES", None),
    # integrations/conf.py
    "API_DOMAIN": os.environ.get("API_DOMAIN") or None,
    # CALLBACKS_TO_PRIVATE_ADDRESSES is the variable's former name.
    "EGRESS_ALLOW_PRIVATE": env_bool("EGRESS_ALLOW_PRIVATE",
                                     default=env_bool("CALLBACKS_TO_PRIVATE_ADDRESSES", default=None)),
    "THROTTLE_STATUS": env_int("API_THROTTLE_STATUS", None),
    "LIMITER_FAIL_OPEN": env_bool("API_LIMITER_FAIL_OPEN", default=None),
    "TOKEN_CACHE_SECONDS": env_int("API_TOKEN_CACHE_SECONDS", None),
    "UPSTREAM_API_URL": os.environ.get("UPSTREAM_API_URL") or None,
    "UPSTREAM_TIMEOUT_SECONDS": env_int("UPSTREAM_API_TIMEOUT_SECONDS", None),
    "FAILED_AUTH_LIMIT": env_int("API_FAILED_AUTH_LIMIT", None),
    "OAUTH_REFRESH_WITHOUT_SECRET": env_bool("OAUTH_REFRESH_WITHOUT_SECRET", default=None),
    "OAUTH_TOKEN_LIMIT_PER_CLIENT": env_int("OAUTH_TOKEN_LIMIT_PER_CLIENT", None),
    "OAUTH_TOKEN_LIMIT_PER_ADDRESS": env_int("OAUTH_TOKEN_LIMIT_PER_ADDRESS", None),
    "OAUTH_TOKEN_LIMIT_WINDOW_SECONDS": env_int("OAUTH_TOKEN_LIMIT_WINDOW_SECONDS", None),
    "OAUTH_INTROSPECTION_CLIENTS": env_list("OAUTH_INTROSPECTION_CLIENTS") or None,
    # Signed outbound deliveries, per kind (integrations/deliveries.py holds every default).
    "DELIVERIES": {
        "callback": {},
        "webhook": set_only({"TIMEOUT_SECONDS": env_int("SYNC_WEBHOOK_TIMEOUT_SECONDS", None)}),
    },
})
if PORTAL.get("THROTTLE_STATUS") not in (None, 429, 503):
    raise ImproperlyConfigured("API_THROTTLE_STATUS must be 503 (the reference platform's) or 429.")

# The sync engine (sync/conf.py): connected accounts mirrored through the account API.
SYNC_ENGINE = set_only({
    "TOKEN_KEYS": env_list("SYNC_TOKEN_KEYS") or None,
    "PLATFORM_URL": os.environ.get("SYNC_PLATFORM_URL") or None,
    "ALLOW_HTTP": env_bool("SYNC_ALLOW_HTTP", default=None),
    "PACE_FACTOR": env_float("SYNC_PACE_FACTOR", None),
    "PACE_JITTER_SECONDS": env_float("SYNC_PACE_JITTER_SECONDS", None),
    "SLICE_MAX_PAGES": env_int("SYNC_SLICE_MAX_PAGES", None),
    "SLICE_MAX_SECONDS": env_int("SYNC_SLICE_MAX_SECONDS", None),
    "MAX_SLOT_WAIT_SECONDS": env_float("SYNC_MAX_SLOT_WAIT_SECONDS", None),
    "LEASE_SECONDS": env_int("SYNC_LEASE_SECONDS", None),
    "MAX_IN_FLIGHT": env_int("SYNC_MAX_IN_FLIGHT", None),
    "PAGE_SIZE": env_int("SYNC_PAGE_SIZE", None),
    "IDSET_MAX": env_int("SYNC_IDSET_MAX", None),
    "REFRESH_MARGIN_SECONDS": env_int("SYNC_REFRESH_MARGIN_SECONDS", None),
    "OVERLAP_SECONDS": env_int("SYNC_OVERLAP_SECONDS", None),
    "MAX_FAILURES": env_int("SYNC_MAX_FAILURES", None),
    "BACKOFF_BASE_SECONDS": env_float("SYNC_BACKOFF_BASE_SECONDS", None),
    "BACKOFF_CAP_SECONDS": env_float("SYNC_BACKOFF_CAP_SECONDS", None),
    "HTTP_TIMEOUT_SECONDS": env_int("SYNC_HTTP_TIMEOUT_SECONDS", None),
    "WEBHOOK_BATCH": env_int("SYNC_WEBHOOK_BATCH", None),
    "WEBHOOK_PAUSE_AFTER_FAILURES": env_int("SYNC_WEBHOOK_PAUSE_AFTER_FAILURES", None),
    # The Celery queue of sync slices: named here because the routes below and docker's workers use it.
    "QUEUE": "sync",
})
CELERY_TASK_ROUTES = {"sync.tasks.sync_slice": {"queue": SYNC_ENGINE["QUEUE"]}}
CELERY_BEAT_SCHEDULE.update({
    # Runnable streams to workers, round-robin (slices also dispatch the next one as they finish).
    "sync-dispatch": {"task": "sync.tasks.sync_dispatch", "schedule": 1.0, "options": {"expires": 5}},
})

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Codes, tokens and secrets in query strings, JSON or Authorization headers are redacted from every line.
    "filters": {"redact_secrets": {"()": "config.redaction.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # oauthlib and requests-oauthlib log token bodies at DEBUG: never let tokens reach a log.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "oauthlib": {"level": "WARNING"},
                "requests_oauthlib": {"level": "WARNING"},
                # runserver's request lines (query strings included) go through the same filter.
                "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}

# --- Operations: metrics, health checks, log format (docs/operations-monitoring.md) ---------------------------
# /metrics needs `Authorization: Bearer $METRICS_TOKEN`; unset, it answers loopback clients in demo mode only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# The database figures of /metrics are computed at most this often (shared cache); 0 computes them every scrape.
METRICS_DB_CACHE_SECONDS = env_int("METRICS_DB_CACHE_SECONDS", 10)
# plain: human-readable lines; json: one JSON object a line with request id, account, app, user (or task).
LOG_FORMAT = (os.environ.get("LOG_FORMAT") or "plain").strip().lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
# /healthz and /readyz are answered first; then every request gets an id and its log context.
# Platform API requests then take a short lane (config.middleware.ApiLaneMiddleware): only the middleware they use.
MIDDLEWARE = ["config.health.HealthCheckMiddleware", "config.request_context.RequestContextMiddleware",
              "config.middleware.ApiLaneMiddleware", *MIDDLEWARE]
LOGGING["formatters"]["json"] = {"()": "config.logs.JsonFormatter"}
LOGGING.setdefault("filters", {}).update({
    "request_context": {"()": "config.logs.RequestContext"},
    # Celery's INFO lines about the beat's tasks (every second or two) become DEBUG lines; the tasks log their
    # own INFO line when they did something.
    "quiet_ticks": {"()": "config.logs.QuietTicks",
                    "tasks": sorted({entry["task"] for entry in CELERY_BEAT_SCHEDULE.values()})},
})
LOGGING["handlers"]["console"].setdefault("filters", []).append("request_context")
if LOG_FORMAT == "json":
    LOGGING["handlers"]["console"]["formatter"] = "json"
for _logger in ("celery.beat", "celery.app.trace", "celery.worker.strategy"):
    LOGGING["loggers"].setdefault(_logger, {}).setdefault("filters", []).append("quiet_ticks")
