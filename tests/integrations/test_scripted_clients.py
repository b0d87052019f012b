"""Scripted API clients against a live server, and what the optimisation and conformance reports make of them.

Each client is a small program that behaves like a kind of real integration: one that does everything right, one
that ignores Retry-After, one that never refreshes its token, one that reads records one ID at a time, one that
polls the same search, and one that keeps calling after the account turned it off. Each is an app of its own,
installed through the real consent page and code exchange in one early-access account, and talks to the live
server over HTTP with ``requests``. After the usage rollup, the developer API's reports must name exactly the
findings and conformance failures each client earned, and nothing for the one that behaves.
"""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from accounts.api_keys import api_key_create
from integrations.management.commands.seed_api_data import seed_account
from integrations.models import AccessToken, Product
from integrations.tasks import rollup_usage_once
from portal import installations, services
from portal.models import App, Installation
from portal.selectors import platform_settings
from tests.factories import AccountFactory, DeveloperFactory, MembershipFactory

REDIRECT = "https://app.example.com/callback"
LIMIT = 60  # calls a minute for every installation in these tests


class Client:
    """An integration as the account sees it: an access token, its app reference, and a log of answers."""

    def __init__(self, base: str, account_code: str, app_ref: str, token: dict, secret: str, product_ids: list[int]):
        self.base, self.account_code, self.app_ref, self.secret = base, account_code, app_ref, secret
        self.ids = product_ids  # the account's products (sequences are not reset between tests: not 1, 2, 3...)
        self.token = token
        self.statuses: list[int] = []

    def get(self, rest: str) -> requests.Response:
        response = requests.get(
            f"{self.base}/public-api/{self.account_code}/{rest}",
            headers={"Authorization": f"Bearer {self.token['access_token']}", "brightpearl-app-ref": self.app_ref},
            timeout=10,
        )
        self.statuses.append(response.status_code)
        return response

    def products(self, ids: list[int]) -> str:
        return "product-service/product/" + ",".join(str(pk) for pk in ids)

    def refresh(self) -> None:
        response = requests.post(f"{self.base}/oauth/token/{self.account_code}", data={
            "grant_type": "refresh_token", "refresh_token": self.token["refresh_token"], "client_id": self.app_ref,
            "client_secret": self.secret}, timeout=10)
        assert response.status_code == 200, response.text
        self.token = response.json()


# --- The behaviours ------------------------------------------------------------------------------------

def polite(client: Client, **_) -> None:
    """Searches once, reads what it found as one ID set, refreshes before the token expires, reads again."""
    assert client.get("product-service/product-search?pageSize=10").status_code == 200
    assert client.get(client.products(client.ids[:5])).status_code == 200
    client.refresh()
    assert client.get(client.products(client.ids[5:8])).status_code == 200


def impatient(client: Client, **_) -> None:
    """Calls as fast as it can and, when refused, tries again at once instead of waiting for Retry-After."""
    refused = 0
    while refused < 4:
        response = client.get(client.products(client.ids[:5]))
        if response.status_code in (429, 503):
            assert int(response.headers["Retry-After"]) >= 1
            refused += 1


def forgetful(client: Client, *, expire, **_) -> None:
    """Never refreshes: its token expires and it goes on sending it."""
    for _ in range(50):
        assert client.get(client.products(client.ids[:5])).status_code == 200
    expire()
    for _ in range(2):
        assert client.get(client.products(client.ids[:5])).status_code == 401


def one_by_one(client: Client, **_) -> None:
    """Reads ten products with ten requests, where one ID set would do."""
    for product_id in client.ids[:10]:
        assert client.get(client.products([product_id])).status_code == 200


def poller(client: Client, **_) -> None:
    """Asks the same search again and again, instead of filtering on updatedOn or taking webhooks."""
    for _ in range(8):
        assert client.get("product-service/product-search?productName=Chair").status_code == 200


def lingering(client: Client, *, turn_off, **_) -> None:
    """Works, then goes on calling after the account turned it off."""
    for _ in range(3):
        assert client.get(client.products(client.ids[:5])).status_code == 200
    turn_off()
    for _ in range(3):
        assert client.get(client.products(client.ids[:5])).status_code == 401


# behaviour -> (its optimisation findings, its failed conformance checks)
EXPECTED = {
    polite: (set(), set()),
    impatient: ({"calls_during_retry_after"}, {"honours_retry_after", "within_limit"}),
    forgetful: ({"expired_token_calls"}, {"refresh_before_expiry"}),
    one_by_one: ({"batch_single_id_reads"}, set()),
    poller: ({"repeated_search"}, set()),
    lingering: (set(), {"no_calls_after_turn_off"}),
}


@pytest.fixture(autouse=True)
def _plain_http_on_loopback(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def _consent_and_exchange(browser, base: str, *, app_ref: str, secret: str, account_code: str) -> dict:
    url = reverse("integrations:authorize", args=[account_code])
    params = {"response_type": "code", "client_id": app_ref, "redirect_uri": REDIRECT, "state": "s"}
    assert browser.get(url, params).status_code == 200
    query = "&".join(f"{k}={requests.utils.quote(v, safe='')}" for k, v in params.items())
    location = browser.post(f"{url}?{query}", {"decision": "allow"})["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = requests.post(f"{base}/oauth/token/{account_code}", data={
        "grant_type": "authorization_code", "code": code, "client_id": app_ref, "client_secret": secret,
        "redirect_uri": REDIRECT}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_each_scripted_client_gets_exactly_the_findings_it_earned(client, live_server):
    row = platform_settings()
    row.default_instance_limit = LIMIT
    row.save(update_fields=["default_instance_limit"])
    developer = DeveloperFactory(partner=True).user
    account = AccountFactory(code="scripted")
    owner = MembershipFactory(account=account).user
    seed_account(account, products=12, contacts=0, orders=0)
    product_ids = list(Product.objects.filter(account=account).order_by("pk").values_list("pk", flat=True))
    client.force_login(owner)
    apps = {}
    for behaviour in EXPECTED:
        app_ref = behaviour.__name__.replace("_", "-")
        app, secret = services.app_register(
            actor=developer, app_ref=app_ref, name=app_ref.title(), short_description="A scripted client.",
            client_type=App.CLIENT_CONFIDENTIAL, redirect_uris=REDIRECT,
        )
        services.early_access_add(app=app, account_code=account.code, actor=developer)
        token = _consent_and_exchange(client, live_server.url, app_ref=app_ref, secret=secret,
                                      account_code=account.code)
        installation = Installation.objects.get(app=app, account=account)

        def expire(installation=installation):
            for access in AccessToken.objects.filter(installation=installation):  # saved: the gateway hears of it
                access.expires = timezone.now() - timedelta(seconds=1)
                access.save(update_fields=["expires"])

        def turn_off(installation=installation):
            installations.installation_turn_off(installation=installation, actor=owner)

        behaviour(Client(live_server.url, account.code, app_ref, token, secret, product_ids),
                  expire=expire, turn_off=turn_off)
        apps[behaviour] = app

    rollup_usage_once()

    key = api_key_create(user=developer, name="reports", actor=developer)[1]
    headers = {"Authorization": f"Bearer {key}"}
    for behaviour, (findings, failures) in EXPECTED.items():
        app_ref = apps[behaviour].client_id
        report = requests.get(f"{live_server.url}/api/developer/apps/{app_ref}/optimisation-report/?days=1",
                              headers=headers, timeout=10)
        assert report.status_code == 200, report.text
        got = {finding["code"] for finding in report.json()["findings"]}
        assert got == findings, (behaviour.__name__, report.json()["findings"])
        for finding in report.json()["findings"]:
            assert finding["evidence"] and finding["calls_saved_per_minute"] >= 0
        conformance = requests.get(f"{live_server.url}/api/developer/apps/{app_ref}/conformance/",
                                   headers=headers, timeout=10)
        assert conformance.status_code == 200, conformance.text
        checks = {check["code"]: check for check in conformance.json()["checks"]}
        failed = {code for code, check in checks.items() if check["passed"] is False}
        assert failed == failures, (behaviour.__name__, conformance.json()["checks"])
        assert checks["oauth_exchange"]["passed"] is True
