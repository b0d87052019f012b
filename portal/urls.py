from django.urls import path

from portal import limit_views, store_views, usage_alert_views, views

app_name = "portal"
urlpatterns = [
    path("", views.landing, name="landing"),
    path("home/", views.home, name="home"),
    path("apps/", views.dashboard, name="dashboard"),
    path("apps/new/", views.app_create, name="app_create"),
    path("apps/<int:pk>/", views.app_detail, name="app_detail"),
    path("apps/<int:pk>/edit/", views.app_edit, name="app_edit"),
    path("apps/<int:pk>/delete/", views.app_delete, name="app_delete"),
    path("apps/<int:pk>/credentials/", views.app_credentials, name="app_credentials"),
    path("apps/<int:pk>/credentials/rotate/", views.app_rotate_secret, name="app_rotate_secret"),
    path("apps/<int:pk>/early-access/", views.app_early_access, name="app_early_access"),
    path("apps/<int:pk>/early-access/<int:grant_id>/remove/", views.early_access_remove, name="early_access_remove"),
    path("apps/<int:pk>/progression/", views.progression_request, name="progression_request"),
    path(
        "apps/<int:pk>/progression/<int:request_id>/withdraw/", views.progression_withdraw, name="progression_withdraw"
    ),
    path("apps/<int:pk>/history/", views.app_history, name="app_history"),
    path("apps/<int:pk>/usage-alerts/", usage_alert_views.app_usage_alerts, name="app_usage_alerts"),
    path("apps/<int:pk>/limits/", limit_views.app_limits, name="app_limits"),
    path(
        "apps/<int:pk>/limits/<int:request_id>/withdraw/",
        limit_views.limit_request_withdraw,
        name="limit_request_withdraw",
    ),
    path("store/<slug:code>/", store_views.store, name="store"),
    path("store/<slug:code>/connected/", store_views.connected_apps, name="connected_apps"),
    path("store/<slug:code>/apps/<slug:app_ref>/", store_views.store_app, name="store_app"),
    path("store/<slug:code>/apps/<slug:app_ref>/turn-on/", store_views.store_turn_on, name="store_turn_on"),
    path("store/<slug:code>/apps/<slug:app_ref>/turn-off/", store_views.store_turn_off, name="store_turn_off"),
    path("review/", views.review_queue, name="review_queue"),
    path("review/requests/<int:pk>/", views.review_request, name="review_request"),
    path("review/requests/<int:pk>/check/", views.review_check, name="review_check"),
    path("review/requests/<int:pk>/decide/", views.review_decide, name="review_decide"),
    path("review/limits/", limit_views.review_limits, name="review_limits"),
    path("review/limits/<int:pk>/", limit_views.review_limit_request, name="review_limit_request"),
    path("review/limits/<int:pk>/end/", limit_views.review_limit_end, name="review_limit_end"),
    path("review/limits/<int:pk>/report/", limit_views.review_limit_report, name="review_limit_report"),
    path("review/apps/", views.review_apps, name="review_apps"),
    path("review/apps/<int:pk>/", views.review_app, name="review_app"),
    path("review/apps/<int:pk>/suspension/", views.review_app_suspension, name="review_app_suspension"),
    path("review/settings/", views.platform_settings_edit, name="platform_settings"),
    path("review/audit/", views.audit_log, name="audit_log"),
    path("review/audit/export.csv", views.audit_log_export, name="audit_log_export"),
]
