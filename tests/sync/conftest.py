"""A connected account for sync tests: the built-in platform on a live server, a managed-sync app turned on
in an account by its owner, and the connection the portal made for it."""

import os

import pytest

from integrations.models import Product
from portal import installations, services
from portal.models import App, PlatformSettings
from sync import services as sync_services
from tests.factories import AccountFactory, DeveloperFactory, MembershipFactory

REDIRECT = "https://app.example.com/callback"


@pytest.fixture
def platform(transactional_db, live_server, settings):
    """Settings that point the engine at the live server, with small pages and quick slices."""
    settings.SITE_URL = live_server.url
    settings.SYNC_ENGINE = {**settings.SYNC_ENGINE, "PLATFORM_URL": live_server.url, "ALLOW_HTTP": True,
                            "PAGE_SIZE": 10, "SLICE_MAX_PAGES": 5, "SLICE_MAX_SECONDS": 10, "LEASE_SECONDS": 30,
                            "MAX_SLOT_WAIT_SECONDS": 2, "OVERLAP_SECONDS": 5, "PACE_FACTOR": 0.99}
    PlatformSettings.objects.update_or_create(pk=1, defaults={"default_instance_limit": 600,
                                                             "limit_period_seconds": 60})
    return live_server


def seed_products(account, count: int, *, start: int = 0) -> None:
    Product.objects.bulk_create([Product(account=account, sku=f"SKU-{i:05d}", name=f"Product {i}")
                                 for i in range(start, start + count)])


@pytest.fixture
def connected(platform):
    """{"app", "secret", "developer", "owner", "account", "installation", "connection"} with 23 products."""
    developer = DeveloperFactory(partner=True).user
    app, secret = services.app_register(
        actor=developer, app_ref="sync-app", name="Sync App", short_description="Mirrors things.",
        client_type=App.CLIENT_CONFIDENTIAL, redirect_uris=REDIRECT,
    )
    owner = MembershipFactory(account=AccountFactory(code="outerheaven")).user
    account = owner.memberships.get().account
    services.early_access_add(app=app, account_code="outerheaven", actor=developer)
    installation = installations.installation_turn_on(app=app, account=account, actor=owner)
    sync_services.sync_spec_save(app=app, actor=developer, is_enabled=True, resources=["product"],
                                 interval_seconds=300, client_secret=secret)
    seed_products(account, 23)
    connection = sync_services.managed_connection_provision(installation=installation, actor=owner)
    return {"app": app, "secret": secret, "developer": developer, "owner": owner, "account": account,
            "installation": installation, "connection": connection}


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
