"""Pages of the sync engine: developers' connections, runs and webhook deliveries; owners' syncs."""

from django.urls import path

from sync import demo_receiver, views

app_name = "sync"
urlpatterns = [
    path("sync/oauth/callback", views.oauth_callback, name="oauth_callback"),
    path("apps/<int:pk>/sync/", views.app_sync, name="app_sync"),
    path("apps/<int:pk>/sync/connect/", views.external_connect, name="external_connect"),
    path("apps/<int:pk>/webhooks/", views.webhooks, name="webhooks"),
    path("apps/<int:pk>/webhooks/resume/", views.webhooks_resume, name="webhooks_resume"),
    path("apps/<int:pk>/webhooks/<int:delivery_id>/", views.delivery_detail, name="delivery"),
    path("apps/<int:pk>/webhooks/<int:delivery_id>/redeliver/", views.delivery_redeliver, name="delivery_redeliver"),
    path("sync/connections/<int:pk>/", views.connection_detail, name="connection"),
    path("sync/connections/<int:pk>/progress.json", views.connection_progress, name="connection_progress"),
    path("sync/connections/<int:pk>/<str:action>/", views.connection_action, name="connection_action"),
    path("store/<slug:code>/syncs/", views.account_syncs, name="account_syncs"),
    path("demo/webhook-receiver/", demo_receiver.demo_webhook_receiver, name="demo_webhook_receiver"),
]
