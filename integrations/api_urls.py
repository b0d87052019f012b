"""URLs of the platform API: /public-api/<account_code>/<service>/<resource>..., all behind the gateway."""

from django.urls import path

from integrations import api_views
from integrations.resources import RESOURCES

app_name = "api"

PREFIX = "public-api/<str:account_code>"

urlpatterns = []
for _resource in RESOURCES.values():
    _base = f"{PREFIX}/{_resource.service}/{_resource.name}"
    _kwargs = {"resource": _resource.name}
    urlpatterns += [
        path(f"{_base}-search", api_views.search, _kwargs, name=f"{_resource.name}-search"),
        path(_base, api_views.collection, _kwargs, name=f"{_resource.name}-collection"),
        path(f"{_base}/<str:id_set>", api_views.records, _kwargs, name=_resource.name),
    ]
urlpatterns += [
    path(PREFIX, api_views.unknown, name="unknown-root"),
    path(f"{PREFIX}/<path:rest>", api_views.unknown, name="unknown"),
]
