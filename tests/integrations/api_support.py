"""Shared setup of the platform API tests: accounts with data, installations with real access tokens,
staff tokens, a clean limiter per test, and a client that speaks the protocol's headers.

Test modules import the fixtures they use (pytest finds fixtures imported into a module)."""

import json
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from accounts.models import PrivateApp, StaffToken
from accounts.tokens import hash_secret
from integrations.api_defaults import ensure_reference_data
from integrations.models import AccessToken, ApiLookup, Contact, Order, PriceList, Product
from portal.models import App, Installation
from portal.selectors import platform_settings
from tests.factories import AccountFactory, AppFactory, DeveloperFactory, MembershipFactory


def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


@pytest.fixture(autouse=True)
def fresh_pools():
    """Database ids are reused between tests (rolled-back transactions), so every test starts with
    empty gateway pools and usage counters."""
    client = _redis()
    patterns = ("ratelimit:{installation:*", "ratelimit:{staff:*", "ratelimit:{unauthenticated:*", "usage:*")
    for pattern in patterns:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    yield client
    client.close()


@dataclass
class Issued:
    installation: Installation
    token: str
    app_ref: str
    dev_ref: str

    def headers(self, **extra) -> dict:
        """Django test-client keyword headers for this token."""
        return {"headers": {"Authorization": f"Bearer {self.token}", "brightpearl-app-ref": self.app_ref,
                            "brightpearl-dev-ref": self.dev_ref, **extra}}


def issue_token(app: App, account, *, expires_in: int = 3600, enabled: bool = True) -> Issued:
    """Turn ``app`` on in ``account`` (directly in the database) and issue an access token for it."""
    installation, _ = Installation.objects.get_or_create(app=app, account=account, defaults={"is_enabled": enabled})
    raw = secrets.token_urlsafe(30)
    AccessToken.objects.create(user=app.user, application=app, installation=installation, token=raw,
                               expires=timezone.now() + timedelta(seconds=expires_in), scope="")
    return Issued(installation=installation, token=raw, app_ref=app.client_id,
                  dev_ref=app.user.developer_profile.dev_ref)


@dataclass
class Staff:
    token: StaffToken
    secret: str
    app_ref: str

    def headers(self, **extra) -> dict:
        return {"headers": {"brightpearl-app-ref": self.app_ref, "brightpearl-staff-token": self.secret, **extra}}


def make_staff_token(account, *, suffix: str = "scripts", **fields) -> Staff:
    member = MembershipFactory(account=account).user
    private_app, _ = PrivateApp.objects.get_or_create(account=account, identifier=f"{account.code}_{suffix}",
                                                      defaults={"name": "Scripts"})
    secret = f"pst_{secrets.token_urlsafe(32)}"
    token = StaffToken.objects.create(private_app=private_app, member=member, name="nightly",
                                      token_hash=hash_secret(secret), prefix=secret[:8], **fields)
    return Staff(token=token, secret=secret, app_ref=private_app.identifier)


def seed_rows(account, *, products: int = 0, contacts: int = 0, orders: int = 0) -> None:
    """Lookup lists and price lists, then simple products, contacts and orders of the account."""
    ensure_reference_data(account.pk, lookup_model=ApiLookup, price_list_model=PriceList)
    Product.objects.bulk_create([
        Product(account=account, sku=f"{account.code}-{n:04d}", name=f"Oak Chair {n}" if n % 2 else f"Pine Table {n}",
                brand_id=1 if n % 3 else 7, product_type_id=1, category_ids=[2], primary_category_id=2,
                status="LIVE" if n % 5 else "ARCHIVED")
        for n in range(1, products + 1)
    ])
    Contact.objects.bulk_create([
        Contact(account=account, first_name=f"Sam{n}", last_name="Smith" if n % 2 else "Jones",
                email=f"sam{n}@example.com", company="Acme" if n % 3 == 0 else "", is_supplier=n % 4 == 0)
        for n in range(1, contacts + 1)
    ])
    Order.objects.bulk_create([
        Order(account=account, reference=f"SO-{n}", order_status_id=4, net=n * 10, total=n * 10, currency="GBP",
              placed_on=timezone.now() - timedelta(days=n))
        for n in range(1, orders + 1)
    ])


@dataclass
class World:
    account: object
    other_account: object
    app: App
    issued: Issued


@pytest.fixture
def world(db) -> World:
    """Account ``acme`` with an installed app and a valid token, and a second account ``globex``."""
    account = AccountFactory(code="acme")
    other = AccountFactory(code="globex")
    app = AppFactory(user=DeveloperFactory(dev_ref="dev-acme-tools").user, client_id="acme-sync")
    return World(account=account, other_account=other, app=app, issued=issue_token(app, account))


def set_default_limit(calls: int) -> None:
    row = platform_settings()
    row.default_instance_limit = calls
    row.save(update_fields=["default_instance_limit"])


def api_url(account_code: str, path: str) -> str:
    return f"/public-api/{account_code}/{path}"


def put_json(client, url, body, **kwargs):
    return client.put(url, data=json.dumps(body) if not isinstance(body, (str, bytes)) else body,
                      content_type="application/json", **kwargs)


def post_json(client, url, body, **kwargs):
    return client.post(url, data=json.dumps(body) if not isinstance(body, (str, bytes)) else body,
                       content_type="application/json", **kwargs)
