"""Issue 12 in a real browser: destructive actions ask first (cancel changes nothing, confirm does it), the
owner sees a suspended app as suspended, a reviewer and an owner reach their security settings, the audit log
exports CSV, and on a 390 px phone every row action is in reach without scrolling sideways."""

import pytest
from playwright.sync_api import Page, expect

from accounts import api_keys, staff_tokens
from accounts.models import DeveloperApiKey, Membership, StaffToken
from portal import installations
from portal.models import App, Installation, Stage
from tests.browser.test_developer_journey import sign_in
from tests.factories import PASSWORD, AppFactory, DeveloperFactory, MembershipFactory, make_reviewer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(portal_defaults, settings):
    settings.PORTAL = {**settings.PORTAL, "REQUIRE_MFA_FOR_REVIEWERS": False}
    owner = MembershipFactory(role="owner", user__email="olive@example.com", account__code="outerheaven",
                              account__name="Outer Heaven Ltd")
    staff = MembershipFactory(account=owner.account, role="staff", user__email="sam@example.com")
    app = AppFactory(stage=Stage.RELEASED, name="Warehouse Link", client_id="warehouse-link")
    installation = installations.installation_turn_on(app=app, account=owner.account, actor=owner.user)
    return {"owner": owner, "staff": staff, "app": app, "installation": installation, "account": owner.account}


def _cancel_then_confirm(page: Page, open_it, question: str, confirm: str, unchanged, changed) -> None:
    open_it()
    expect(page.get_by_role("heading", name=question)).to_be_visible()
    expect(page.get_by_test_id("consequences")).to_contain_text("now")
    page.get_by_role("link", name="Cancel").click()
    assert unchanged()
    open_it()
    page.get_by_role("button", name=confirm, exact=True).click()
    expect(page.locator(".messages")).to_be_visible()
    assert changed()


def test_an_owner_confirms_turning_off_removing_and_revoking(page: Page, live_server, world):
    base, account = live_server.url, world["account"]
    owner, staff = world["owner"].user, world["staff"]
    private_app = staff_tokens.private_app_create(account=account, actor=owner, identifier="outerheaven_jobs",
                                                  name="Jobs")
    token, _ = staff_tokens.staff_token_create(private_app=private_app, member=staff.user, name="Nightly",
                                              actor=owner)
    sign_in(page, base, owner.email, PASSWORD)

    # turning an app off
    def open_turn_off():
        page.goto(f"{base}/store/outerheaven/connected/")
        page.get_by_role("row", name="Warehouse Link").get_by_role("button", name="Turn off Warehouse Link").click()

    _cancel_then_confirm(
        page, open_turn_off, "Turn off Warehouse Link in Outer Heaven Ltd?", "Turn off Warehouse Link",
        unchanged=lambda: Installation.objects.get(pk=world["installation"].pk).is_enabled,
        changed=lambda: not Installation.objects.get(pk=world["installation"].pk).is_enabled)

    # revoking a staff token
    def open_revoke():
        page.goto(f"{base}/my-accounts/outerheaven/staff-tokens/")
        page.get_by_role("button", name="Revoke Nightly").click()

    _cancel_then_confirm(
        page, open_revoke, "Revoke the staff token “Nightly”?", "Revoke “Nightly”",
        unchanged=lambda: StaffToken.objects.get(pk=token.pk).revoked_at is None,
        changed=lambda: StaffToken.objects.get(pk=token.pk).revoked_at is not None)

    # removing a member
    def open_remove():
        page.goto(f"{base}/my-accounts/outerheaven/")
        page.get_by_role("button", name="Remove sam@example.com from outerheaven").click()

    _cancel_then_confirm(
        page, open_remove, "Remove sam@example.com from Outer Heaven Ltd?", "Remove sam@example.com",
        unchanged=lambda: Membership.objects.filter(pk=staff.pk).exists(),
        changed=lambda: not Membership.objects.filter(pk=staff.pk).exists())


def test_a_developer_confirms_rotating_revoking_and_deleting(page: Page, live_server, portal_defaults):
    base = live_server.url
    developer = DeveloperFactory(user__email="dev@example.com").user
    app = AppFactory(user=developer, name="Draft App", client_id="draft-app")
    key, _ = api_keys.api_key_create(user=developer, name="Laptop", actor=developer)
    sign_in(page, base, developer.email, PASSWORD)

    def open_rotate():
        page.goto(f"{base}/apps/{app.pk}/credentials/")
        page.get_by_label("in 24 hours").check()
        page.get_by_role("button", name="Rotate client secret").click()

    _cancel_then_confirm(
        page, open_rotate, "Rotate the client secret of Draft App?", "Rotate client secret",
        unchanged=lambda: App.objects.get(pk=app.pk).secret_rotated_at is None,
        changed=lambda: App.objects.get(pk=app.pk).previous_secret_is_live)
    expect(page.get_by_test_id("client-secret")).to_be_visible()
    expect(page.get_by_role("button", name="Copy client secret")).to_be_visible()

    def open_key():
        page.goto(f"{base}/developer/api-keys/")
        page.get_by_role("button", name="Revoke Laptop").click()

    _cancel_then_confirm(
        page, open_key, "Revoke the API key “Laptop”?", "Revoke “Laptop”",
        unchanged=lambda: DeveloperApiKey.objects.get(pk=key.pk).revoked_at is None,
        changed=lambda: DeveloperApiKey.objects.get(pk=key.pk).revoked_at is not None)

    def open_delete():
        page.goto(f"{base}/apps/{app.pk}/delete/")

    _cancel_then_confirm(
        page, open_delete, "Delete Draft App?", "Delete app",
        unchanged=lambda: App.objects.filter(pk=app.pk).exists(),
        changed=lambda: not App.objects.filter(pk=app.pk).exists())


def test_a_reviewer_confirms_a_suspension_and_the_owner_sees_it(page: Page, live_server, world, browser):
    base, app = live_server.url, world["app"]
    reviewer = make_reviewer(email="rita@example.com")
    sign_in(page, base, reviewer.email, PASSWORD)

    def open_suspend():
        page.goto(f"{base}/review/apps/{app.pk}/")
        page.get_by_label("Reason for suspending").fill("Leaks tokens in its logs")
        page.get_by_role("button", name="Suspend app").click()

    _cancel_then_confirm(
        page, open_suspend, "Suspend Warehouse Link?", "Suspend Warehouse Link",
        unchanged=lambda: not App.objects.get(pk=app.pk).is_suspended,
        changed=lambda: App.objects.get(pk=app.pk).is_suspended)

    # then the owner, in their own browser, sees it suspended on the connected apps and its page, and was told
    owner_page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(owner_page, base, world["owner"].user.email, PASSWORD)
    owner_page.goto(f"{base}/store/outerheaven/connected/")
    row = owner_page.get_by_role("row", name="Warehouse Link")
    expect(row).to_contain_text("Suspended")
    expect(row).not_to_contain_text("On")
    row.get_by_role("link", name="Warehouse Link").click()
    expect(owner_page.get_by_text("Its tokens do not work")).to_be_visible()
    owner_page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    expect(owner_page.get_by_text("Warehouse Link is suspended in Outer Heaven Ltd")).to_be_visible()
    owner_page.context.close()


@pytest.mark.parametrize("who", ["reviewer", "owner"])
def test_a_reviewer_and_an_owner_reach_their_security_settings(page: Page, live_server, world, who):
    base = live_server.url
    user = make_reviewer(email="rita@example.com") if who == "reviewer" else world["owner"].user
    sign_in(page, base, user.email, PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="My apps")).to_have_count(0)

    nav.get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Sign-in and security")).to_be_visible()
    tabs = page.get_by_role("navigation", name="Sign-in and security")
    tabs.get_by_role("link", name="Password").click()
    expect(page.get_by_label("Current Password")).to_be_visible()
    tabs.get_by_role("link", name="Two-factor").click()
    expect(page.get_by_text("Authenticator App").first).to_be_visible()
    assert "/developer/" not in page.url


def test_the_audit_log_exports_csv(page: Page, live_server, world, tmp_path):
    base = live_server.url
    reviewer = make_reviewer(email="rita@example.com")
    sign_in(page, base, reviewer.email, PASSWORD)
    page.goto(f"{base}/review/audit/")
    expect(page.get_by_text("turned warehouse-link on in outerheaven")).to_be_visible()
    page.get_by_label("Action").select_option("installation.")
    page.get_by_role("button", name="Filter").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.startswith("when (UTC),actor,what happened,action")
    assert "installation.turned_on" in text and "olive@example.com" in text


def test_row_actions_are_in_reach_on_a_390px_phone(browser, live_server, world):
    base = live_server.url
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, base, world["owner"].user.email, PASSWORD)
        owner = world["owner"].user
        private_app = staff_tokens.private_app_create(account=world["account"], actor=owner,
                                                      identifier="outerheaven_jobs", name="Jobs")
        staff_tokens.staff_token_create(private_app=private_app, member=owner, name="Nightly", actor=owner)
        for path, button in [("/store/outerheaven/connected/", "Turn off Warehouse Link"),
                             ("/my-accounts/outerheaven/", "Remove sam@example.com from outerheaven"),
                             ("/my-accounts/outerheaven/staff-tokens/", "Revoke Nightly")]:
            page.goto(base + path)
            target = page.get_by_role("button", name=button)
            expect(target).to_be_visible()
            box = target.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (path, box)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    finally:
        context.close()
