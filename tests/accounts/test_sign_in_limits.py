"""Sign-in limits: failed passwords are limited per account *and* address, so a stranger cannot lock
the rightful user out from everywhere; the client address honours trusted proxies only."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from accounts.client_ip import client_ip
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOO_MANY = "Too many failed login attempts"


def sign_in(client, email, password, address):
    return client.post(reverse("account_login"), {"login": email, "password": password}, REMOTE_ADDR=address)


def test_five_wrong_passwords_from_one_address_do_not_lock_the_user_out_elsewhere(client):
    # given a user, and five wrong passwords for them from a stranger's address
    user = UserFactory()
    for _ in range(5):
        assert TOO_MANY not in sign_in(client, user.email, "wrong-guess", "203.0.113.7").content.decode()

    # when the stranger tries again, and the user signs in from their own address
    stranger = sign_in(client, user.email, PASSWORD, "203.0.113.7")
    rightful = sign_in(client, user.email, PASSWORD, "198.51.100.20")

    # then the stranger's address is locked out of this account, the user is not
    assert stranger.status_code == 200 and TOO_MANY in stranger.content.decode()
    assert rightful.status_code == 302
    assert client.session.get("_auth_user_id") == str(user.pk)


def test_an_address_is_still_limited_across_accounts(client):
    # given ten failed sign-ins from one address, spread over ten accounts
    users = UserFactory.create_batch(11)
    for user in users[:10]:
        sign_in(client, user.email, "wrong-guess", "203.0.113.7")

    # when the address tries an eleventh account
    response = sign_in(client, users[10].email, "wrong-guess", "203.0.113.7")

    # then it is refused by the per-address limit
    assert TOO_MANY in response.content.decode()


@pytest.mark.parametrize("proxies, forwarded, expected", [
    (0, "1.2.3.4", "10.0.0.1"),  # no trusted proxy: the header is the client's word, ignored
    (1, "1.2.3.4", "1.2.3.4"),
    (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client wrote the left part
    (2, "6.6.6.6, 1.2.3.4, 10.0.0.2", "1.2.3.4"),
    (1, "not-an-address", ""),
])
def test_the_client_address_comes_from_trusted_proxies_only(settings, proxies, forwarded, expected):
    # given
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    # when / then
    assert client_ip(request) == expected
