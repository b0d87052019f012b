"""Production settings: the base settings plus checks that refuse unsafe configuration.

``python manage.py check --deploy`` passes without warnings under these settings and the documented
environment (tests/project/test_settings.py checks it); each check that cannot apply is silenced at the
end of this file with its reason.
"""

from django.core.exceptions import ImproperlyConfigured

from config.settings import *  # noqa: F401,F403
from config.settings import DEBUG, INSECURE_DEFAULT_SECRET_KEY, SECRET_KEY, env_bool, env_int

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production (set DEBUG=0).")
if SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("Set SECRET_KEY to a long random value; the development default is refused.")

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Strict-Transport-Security: browsers that saw the portal over https never use plain http for it again.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000) if env_bool("SECURE_HSTS", default=True) else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
# Redirect plain http to https in Django too (off by default: the TLS proxy does it, and workers reach the
# portal over plain http inside the private network, at SYNC_PLATFORM_URL).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)

# Checks that cannot apply here, each with its reason. Extends whatever the base settings silence.
SILENCED_SYSTEM_CHECKS = [*globals().get("SILENCED_SYSTEM_CHECKS", []), *[check for check, _reason in [
    # HSTS preload is a submission to the browsers' list (hstspreload.org) for the whole registered
    # domain, which the portal's operator may not own; the header without it is what the portal controls.
    ("security.W021", "preload is a decision about the parent domain"),
    # Django's own https redirect would also redirect the sync workers' plain-http calls inside the private
    # network and the load balancer's health checks; the TLS proxy redirects public traffic instead.
    # SECURE_SSL_REDIRECT=1 turns Django's on (and this check back on).
    *([("security.W008", "the TLS proxy redirects http")] if not SECURE_SSL_REDIRECT else []),
    # OAuth server (owned by docs/oauth.md; the OAuth owner may replace these with the compliant settings):
    # apps are registered for the authorization-code grant only (portal.services.app_register), and the
    # toolkit refuses any other grant type for them, so the implicit and password grants cannot be used.
    ("oauth2_provider.W001", "no app can use the implicit grant"),
    ("oauth2_provider.W002", "no app can use the password grant"),
    # The platform API takes bearer tokens from the Authorization header only (integrations/gateway.py).
    ("oauth2_provider.W004", "the API never reads tokens from the query string"),
    # Brightpearl-compatible clients expect the reference platform's authorization response (no `iss`).
    ("oauth2_provider.W005", "compatibility with the reference platform's redirect"),
    # Native apps and local development use http://127.0.0.1 or localhost callbacks (RFC 8252); any other
    # http redirect URI is refused when an app is registered (portal/validation.py).
    ("oauth2_provider.W008", "only loopback http redirect URIs are accepted"),
]]]
