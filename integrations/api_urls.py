"""URLs of the platform API: every /public-api/<account_code>/... path goes to one view behind the gateway,
which routes it (``integrations.api_routes``); doubled and trailing slashes are allowed anywhere after the
account code."""

from django.urls import path, re_path

from integrations import api_views

app_name = "api"

urlpatterns = [
    path("public-api/<str:account_code>", api_views.endpoint, name="root"),
    re_path(r"^public-api/(?P<account_code>[^/]+)/(?P<rest>.*)$", api_views.endpoint, name="endpoint"),
]
