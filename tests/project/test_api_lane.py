"""Platform API requests take the short middleware lane (config.middleware.ApiLaneMiddleware): what API
clients rely on is still there, what only pages use is not."""

import pytest
import redis
from django.urls import re_path

from tests.integrations.api_support import world  # noqa: F401

pytestmark = pytest.mark.django_db

SEARCH = "/public-api/acme/product-service/product-search"


def test_an_api_answer_keeps_its_request_id_and_security_headers(client, world):  # noqa: F811
    # when
    response = client.get(SEARCH, HTTP_X_REQUEST_ID="caller-chosen-id-1", **world.issued.headers())

    # then
    assert response.status_code == 200
    assert response["X-Request-ID"] == "caller-chosen-id-1"
    assert "Content-Security-Policy" in response and response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_an_api_call_opens_no_session(client, world):  # noqa: F811
    # when
    response = client.get(SEARCH, **world.issued.headers())

    # then
    assert response.status_code == 200
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies


def test_an_api_call_for_an_unknown_host_is_refused(client, world):  # noqa: F811
    # when
    response = client.get(SEARCH, HTTP_HOST="evil.example", **world.issued.headers())

    # then
    assert response.status_code == 400


def _redis_down_view(request, **kwargs):
    raise redis.exceptions.ConnectionError("refused")


urlpatterns = [re_path(r"^public-api/", _redis_down_view)]


def test_redis_failing_inside_an_api_view_is_the_clear_json_503(client, settings):
    # given an API view that meets an unreachable Redis and does not catch it
    settings.ROOT_URLCONF = __name__

    # when
    response = client.get(SEARCH)

    # then
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json()["detail"].startswith("The service is temporarily unavailable")
