"""An account owner finds an early-access app in the account's store, turns it on through the consent
page, sees it connected, and turns it off — in a real browser."""

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from portal.models import EarlyAccess, Installation
from tests.browser.test_developer_journey import sign_in
from tests.factories import PASSWORD, AccountFactory, AppFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_turns_an_early_access_app_on_and_off(page: Page, live_server, portal_defaults):
    # given an owner of outerheaven and an app in development with early access for it
    base = live_server.url
    owner = UserFactory(email="olive@example.com")
    account = AccountFactory(code="outerheaven", name="Outer Heaven Ltd")
    MembershipFactory(account=account, user=owner, role="owner")
    callback = f"{base}/app-callback"
    app = AppFactory(name="Warehouse Link", client_id="warehouse-link", redirect_uris=callback)
    EarlyAccess.objects.create(app=app, account=account)

    # when the owner opens the account's store and the app
    sign_in(page, base, owner.email, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My accounts").click()
    page.get_by_role("link", name="outerheaven").first.click()
    page.get_by_role("navigation", name="Account sections").get_by_role("link", name="App store").click()
    page.get_by_role("link", name="Warehouse Link").click()
    expect(page.get_by_text("Pre-release.")).to_be_visible()

    # and turns it on, approving on the consent page
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Turn on Warehouse Link?")).to_be_visible()
    expect(page.get_by_text("Outer Heaven Ltd")).to_be_visible()
    page.get_by_role("button", name="Approve and turn on").click()

    # then the browser reaches the app's redirect URI with a code, and the installation is on
    page.wait_for_url(f"{callback}?*")
    query = parse_qs(urlsplit(page.url).query)
    assert query["code"] and query["state"] == ["store:outerheaven"]
    assert Installation.objects.get(app=app, account=account).is_enabled

    # when the owner looks at the connected apps, it is listed as on
    page.goto(f"{base}/store/outerheaven/connected/")
    row = page.get_by_role("row", name="Warehouse Link")
    expect(row).to_contain_text("On")
    expect(row).to_contain_text(owner.email)

    # and turns it off
    row.get_by_role("button", name="Turn off Warehouse Link").click()
    expect(page.get_by_role("heading", name="Turn off Warehouse Link in Outer Heaven Ltd?")).to_be_visible()
    page.get_by_role("button", name="Turn off Warehouse Link").click()
    expect(page.locator(".messages")).to_contain_text("Warehouse Link is off")
    expect(page.get_by_role("row", name="Warehouse Link")).to_contain_text("Off")
    assert not Installation.objects.get(app=app, account=account).is_enabled
