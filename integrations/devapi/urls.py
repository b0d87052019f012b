"""URLs of the developer API, included under /api/developer/ by the project's root URLconf."""

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from integrations.devapi import views


class ObjectIdConverter:
    """A database id: digits that fit a 64-bit column (Django's int converter takes any length, and a
    too-large number would fail in the database instead of being a 404)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value):
        return int(value)

    def to_url(self, value):
        return str(value)


register_converter(ObjectIdConverter, "devapi_id")

app_name = "devapi"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start script from ?script=, so the page needs no inline script (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="devapi:schema",
                                                     template_name="integrations/swagger_ui.html"), name="docs"),
    path("me/", views.MeView.as_view(), name="me"),
    path("accounts/<slug:code>/location/", views.AccountLocationView.as_view(), name="account_location"),
    path("apps/", views.AppsView.as_view(), name="apps"),
    path("apps/<slug:app_ref>/", views.AppView.as_view(), name="app"),
    path("apps/<slug:app_ref>/rotate-secret/", views.RotateSecretView.as_view(), name="rotate_secret"),
    path("apps/<slug:app_ref>/history/", views.HistoryView.as_view(), name="history"),
    path("apps/<slug:app_ref>/early-access/", views.EarlyAccessView.as_view(), name="early_access"),
    path("apps/<slug:app_ref>/early-access/<slug:account_code>/", views.EarlyAccessItemView.as_view(),
         name="early_access_item"),
    path("apps/<slug:app_ref>/progression-requests/", views.ProgressionRequestsView.as_view(),
         name="progression_requests"),
    path("apps/<slug:app_ref>/progression-requests/<devapi_id:request_id>/", views.ProgressionRequestView.as_view(),
         name="progression_request"),
    path("apps/<slug:app_ref>/progression-requests/<devapi_id:request_id>/withdraw/",
         views.ProgressionWithdrawView.as_view(), name="progression_withdraw"),
    path("apps/<slug:app_ref>/limit-requests/", views.LimitRequestsView.as_view(), name="limit_requests"),
    path("apps/<slug:app_ref>/limit-requests/<devapi_id:request_id>/", views.LimitRequestView.as_view(),
         name="limit_request"),
    path("apps/<slug:app_ref>/limit-requests/<devapi_id:request_id>/withdraw/", views.LimitWithdrawView.as_view(),
         name="limit_withdraw"),
    path("apps/<slug:app_ref>/installations/", views.InstallationsView.as_view(), name="installations"),
    path("apps/<slug:app_ref>/installations/<slug:account_code>/usage/", views.UsageView.as_view(), name="usage"),
    # Anything else under the API (any character, newlines included) is a JSON 404.
    re_path(r"^(?P<path>[\s\S]*)\Z", views.not_found),
]

# --- Optimisation report (issue 11): before the catch-all 404 above ---------------------------------
urlpatterns[-1:-1] = [
    path("apps/<slug:app_ref>/optimisation-report/", views.OptimisationReportView.as_view(),
         name="optimisation_report"),
]

# --- Conformance report (before the catch-all 404 above) ----------------------------------------------------
urlpatterns[-1:-1] = [
    path("apps/<slug:app_ref>/conformance/", views.ConformanceView.as_view(), name="conformance"),
]
