"""The peers `make bench` measures the portal against, on the same Django, database and Redis (bench only).

- :class:`PeerResourceView`: the usual Django stack for a platform API call: a DRF view with
  django-oauth-toolkit's ``OAuth2Authentication``, ``IsAuthenticated`` and DRF's user throttle on the Redis
  cache, that finds the token's installation and runs the same resource handler as the gateway.
- :class:`PeerTokenView`: django-oauth-toolkit's token endpoint with its defaults: its own validator and
  backend (not the portal's), for an app whose client secret is hashed with Django's password hasher.

``urlpatterns`` serves both beside the portal's own URLs (``ROOT_URLCONF = "bench_peers"``).
"""

import inspect

from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views import TokenView
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from integrations import api_views
from integrations.gateway import Caller
from portal.models import Installation

handler = inspect.unwrap(api_views.endpoint)  # the resource call itself, without the gateway


class PeerThrottle(UserRateThrottle):
    rate = "200/min"  # the bench sets the same limit as the gateway's pool

    def parse_rate(self, rate):
        calls, _, seconds = rate.partition("/")
        return int(calls), int(seconds)


class PeerResourceView(APIView):
    authentication_classes = [OAuth2Authentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [PeerThrottle]
    renderer_classes = [JSONRenderer]

    def get(self, request, account_code: str, rest: str = ""):
        installation = (Installation.objects.select_related("account", "app")
                        .filter(pk=request.auth.installation_id).first())
        if installation is None:
            raise NotFound()
        if installation.account.code != account_code or not installation.is_enabled:
            raise PermissionDenied()
        caller = Caller(account=installation.account, app_ref=installation.app.client_id, installation=installation)
        return handler(request._request, caller, rest=rest)


class PeerTokenView(TokenView):
    validator_class = OAuth2Validator
    oauthlib_backend_class = OAuthLibCore


urlpatterns = [
    re_path(r"^peer-api/(?P<account_code>[^/]+)/(?P<rest>.*)$", PeerResourceView.as_view()),
    path("peer-oauth/token", csrf_exempt(PeerTokenView.as_view())),
    path("", include("config.urls")),
]
