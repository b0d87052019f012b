"""The developer journey from the issue, through the real pages in a real browser.

A developer signs up, verifies their email, registers as a developer and registers an app, copies its
client secret, gives an account early access and applies to become a partner. A reviewer approves the
application; the developer requests alpha; the reviewer ticks every review stage and approves; the
developer finds the app in alpha and the news in their inbox.

Only the reviewer and the platform account exist beforehand (an operator creates those); everything
else happens through forms, found by their labels and roles, so unlabelled controls fail this test.
"""

import os
import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, AccountFactory, make_reviewer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEVELOPER = "dana@example.com"
DEVELOPER_PASSWORD = "a-long-and-unusual-passphrase-2026"
REVIEWER = "reviewer@example.com"
APP_NAME = "Stock Sync"
CONFIRM_LINK = re.compile(r"https?://\S+/accounts/confirm-email/[^/\s]+/")
# A label's text includes the required-field star (hidden from screen readers, not from get_by_label).
PASSWORD_LABEL = re.compile(r"^Password( \*)?$")


def sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(base + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    page.get_by_role("button", name="Sign In", exact=True).click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")).to_be_visible()


def snap(page: Page, name: str) -> None:
    """With JOURNEY_SCREENSHOTS=<dir>, keep a full-page screenshot of this step (pages the demo seed never shows)."""
    folder = os.environ.get("JOURNEY_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"journey-{name}.png"), full_page=True)


def expect_message(page: Page, text: str) -> None:
    expect(page.locator(".messages")).to_contain_text(text)


def test_developer_takes_an_app_from_sign_up_to_alpha(page: Page, live_server, portal_defaults, settings):
    base = live_server.url
    settings.SITE_URL = base  # emails link to the portal's public address: here, the test server
    make_reviewer(email=REVIEWER)  # password: tests.factories.PASSWORD
    AccountFactory(code="outerheaven", name="Outer Heaven Ltd")

    # --- The developer signs up and verifies their email ------------------------------------------------
    page.goto(base + "/")
    page.get_by_role("link", name="Create a developer account").click()
    expect(page.get_by_role("heading", name="Sign Up")).to_be_visible()
    page.get_by_label("Email").fill(DEVELOPER)
    page.get_by_label(PASSWORD_LABEL).fill(DEVELOPER_PASSWORD)
    page.get_by_label(re.compile(r"^Password \(again\)")).fill(DEVELOPER_PASSWORD)
    page.get_by_role("button", name="Sign Up", exact=True).click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    snap(page, "verify-email")

    confirmations = [message for message in mail.outbox if DEVELOPER in message.to]
    assert len(confirmations) == 1, [message.subject for message in mail.outbox]
    link = CONFIRM_LINK.search(confirmations[0].body)
    assert link, confirmations[0].body
    page.goto(link.group(0))
    expect(page.get_by_role("heading", name="Confirm Email Address")).to_be_visible()
    snap(page, "confirm-email")
    page.get_by_role("button", name="Confirm", exact=True).click()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_text(DEVELOPER)).to_be_visible()  # signed in by the confirmation

    # --- ... and, sent on to the next step, registers as a developer -------------------------------------
    expect(page.get_by_role("heading", name="Register as a developer")).to_be_visible()
    snap(page, "after-confirmation")
    page.get_by_label("Developer reference").fill("dana-apps")
    page.get_by_label("Company").fill("Dana Apps Ltd")
    page.get_by_label("Contact name").fill("Dana Developer")
    page.get_by_role("button", name="Register as a developer").click()
    expect_message(page, "You are registered as developer dana-apps.")
    expect(page.get_by_role("heading", name="Developer profile")).to_be_visible()
    snap(page, "developer-profile")

    # --- ... registers an app and copies its secret ---------------------------------------------------------
    page.get_by_role("link", name="My apps").first.click()
    page.get_by_role("link", name="Register an app").first.click()
    page.get_by_label("Name").fill(APP_NAME)
    page.get_by_label("App reference").fill("stock-sync")
    page.get_by_label("Short description").fill("Keeps stock levels in step with the warehouse.")
    page.get_by_label("Long description").fill("Syncs **stock** every few minutes.")
    page.get_by_role("radio", name=re.compile(r"^Confidential")).check()
    page.get_by_label("Redirect URIs").fill("https://stock.example.com/callback")
    page.get_by_role("button", name="Register app").click()

    expect_message(page, f"{APP_NAME} is registered. Copy your client secret now.")
    expect(page.get_by_role("heading", name="OAuth credentials")).to_be_visible()
    secret_box = page.get_by_test_id("client-secret")
    expect(secret_box).to_be_visible()
    secret = secret_box.inner_text().strip()
    assert len(secret) >= 32, secret
    snap(page, "credentials-with-secret")
    credentials_url = page.url
    page.reload()
    expect(page.get_by_role("heading", name="OAuth credentials")).to_be_visible()
    expect(page.get_by_test_id("client-secret")).to_have_count(0)
    expect(page.get_by_text("The secret was shown once")).to_be_visible()
    assert secret not in page.content()
    assert page.url == credentials_url

    # --- ... gives an account early access ------------------------------------------------------------------
    page.get_by_role("navigation", name="App sections").get_by_role("link", name="Early access").click()
    page.get_by_label("Account code").fill("outerheaven")
    page.get_by_role("button", name="Add early access").click()
    expect_message(page, "outerheaven now has early access.")
    expect(page.get_by_role("row").filter(has_text="outerheaven")).to_contain_text("Outer Heaven Ltd")

    # --- ... applies to become a partner, then signs out ---------------------------------------------------
    page.get_by_role("navigation", name="App sections").get_by_role("link", name="Overview").click()
    expect(page.get_by_text("Only partners can request lifecycle progression.")).to_be_visible()
    page.get_by_role("link", name="Apply to become a partner").click()
    expect(page.get_by_role("heading", name="Apply to become a partner")).to_be_visible()
    expect(page.get_by_label("Company name")).to_have_value("Dana Apps Ltd")
    page.get_by_label("Company registration number").fill("01234567")
    page.get_by_label("Country").fill("United Kingdom")
    page.get_by_label("Website").fill("https://dana-apps.example.com")
    page.get_by_label("What your company builds").fill("Inventory and warehouse integrations for retailers.")
    page.get_by_label("I accept the partner agreement").check()
    page.get_by_role("button", name="Send application").click()
    expect_message(page, "Your partner application is waiting for review")
    snap(page, "partner-applied")
    sign_out(page)

    # --- The reviewer approves the partner application ------------------------------------------------------
    sign_in(page, base, REVIEWER, PASSWORD)
    expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Reviewer sections").get_by_role("link", name="Partner applications").click()
    page.get_by_role("row").filter(has_text="dana-apps").get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", name="Dana Apps Ltd")).to_be_visible()
    snap(page, "partner-review")
    page.get_by_label("Note to the developer (optional)").fill("Welcome aboard.")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect_message(page, "The partner application of dana-apps is approved")
    sign_out(page)

    # --- The developer, now a partner, requests alpha -----------------------------------------------------
    sign_in(page, base, DEVELOPER, DEVELOPER_PASSWORD)
    expect(page.get_by_role("heading", name="My apps")).to_be_visible()
    page.get_by_role("link", name=APP_NAME, exact=True).click()
    page.get_by_label("Message for the reviewer").fill("Installs cleanly in outerheaven; syncs stock every 5 minutes.")
    page.get_by_role("button", name="Request alpha").click()
    expect_message(page, "Your request to move to alpha is in the review queue.")
    expect(page.get_by_text("Waiting for review:")).to_be_visible()
    snap(page, "alpha-requested")
    sign_out(page)

    # --- The reviewer ticks every review stage and approves ---------------------------------------------------
    sign_in(page, base, REVIEWER, PASSWORD)
    page.get_by_role("navigation", name="Reviewer sections").get_by_role("link", name="Progression queue").click()
    page.get_by_role("row").filter(has_text=APP_NAME).get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", name=APP_NAME)).to_be_visible()
    expect(page.get_by_text("Installs cleanly in outerheaven")).to_be_visible()
    approve = page.get_by_role("button", name="Approve and move to alpha")
    expect(approve).to_be_disabled()
    tick = page.get_by_role("button", name=re.compile(r"^Tick "))
    stages = tick.count()
    assert stages >= 1, "an alpha request has at least one review stage"
    for remaining in reversed(range(stages)):
        tick.first.click()
        expect(tick).to_have_count(remaining)  # the page came back with one stage fewer to tick
    expect(page.get_by_role("button", name=re.compile(r"^Untick "))).not_to_have_count(0)
    snap(page, "review-all-ticked")
    page.get_by_label("Note to the developer").fill("Looks good. Enjoy alpha.")
    expect(approve).to_be_enabled()
    approve.click()
    expect_message(page, f"{APP_NAME}: request approved. The developer has been told.")
    expect(page.get_by_text("The queue is empty.")).to_be_visible()
    sign_out(page)

    # --- The developer finds the app in alpha and the news in the inbox ---------------------------------------
    sign_in(page, base, DEVELOPER, DEVELOPER_PASSWORD)
    page.get_by_role("link", name=APP_NAME, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(APP_NAME)
    expect(page.get_by_role("heading", level=1).locator(".badge")).to_have_text("Alpha")
    snap(page, "app-in-alpha")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name=re.compile(r"^Inbox"))).to_contain_text("2")  # partner + alpha
    nav.get_by_role("link", name=re.compile(r"^Inbox")).click()
    notice = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=f"{APP_NAME} moved to alpha"))
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Looks good. Enjoy alpha.")
    expect(page.get_by_role("heading", name="You are now a partner")).to_be_visible()
    snap(page, "inbox")
