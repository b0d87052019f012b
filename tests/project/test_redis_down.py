"""With Redis unreachable (a real Redis URL pointing at a closed port), sign-in answers a clear
"temporarily unavailable" page with 503 and Retry-After, never a 500."""

import socket

import pytest
from django.core.cache import caches
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0"}}
    yield
    caches["default"].close()


def test_sign_in_while_redis_is_down_is_a_clear_503_page(client, redis_down):
    # given
    user = UserFactory()

    # when
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})

    # then
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Temporarily unavailable" in response.content.decode()
    assert client.session.get("_auth_user_id") is None


def test_the_sign_in_page_itself_still_opens_while_redis_is_down(client, redis_down):
    assert client.get(reverse("account_login")).status_code == 200
