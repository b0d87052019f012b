"""Root URLconf (project wiring: the one place that includes every app's URLs)."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from config import health, metrics

urlpatterns = [
    # The platform API first: its requests are the most frequent, and resolving them then tries two patterns.
    path("", include("integrations.api_urls")),
    # Operations (docs/operations-monitoring.md); config.health.HealthCheckMiddleware answers the first two early.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/developer/", include("integrations.devapi.urls")),
    path("", include("accounts.urls")),
    path("", include("portal.urls")),
    path("", include("integrations.urls")),
    path("", include("sync.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
