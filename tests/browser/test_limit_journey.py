"""A developer asks for a higher API rate limit, a reviewer approves it, the developer sees the new limit —
through the real pages in a real browser.

The partner developer's app is already turned on in one account (set up with factories), so its Limits
tab has a current limit to show: the platform default of 200 calls per minute. The developer asks for
1,000 for that account; the reviewer grants 600; the developer finds 600 on the Limits tab, and the
gateway's own reading of the limit agrees.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from portal.limits import installation_limit
from portal.models import Installation, RateLimitIncreaseRequest
from tests.browser.test_developer_journey import expect_message, sign_in, sign_out, snap
from tests.factories import PASSWORD, AccountFactory, AppFactory, DeveloperFactory, MembershipFactory, make_reviewer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

APP_NAME = "Order Relay"
REVIEWER = "rita.reviewer@example.com"


def limit_row(page: Page, account_code: str):
    """The row of one account in the "Current limits" table of the Limits tab."""
    return page.get_by_role("region", name="Current limits").get_by_role("row").filter(has_text=account_code)


def test_developer_asks_for_a_higher_limit_and_sees_it_granted(page: Page, live_server, portal_defaults):
    # given a partner developer whose app is turned on in outerheaven, and a reviewer
    base = live_server.url
    developer = DeveloperFactory(partner=True, user__email="devon@example.com", dev_ref="devon-apps").user
    account = AccountFactory(code="outerheaven", name="Outer Heaven Ltd")
    owner = MembershipFactory(account=account, role="owner").user
    app = AppFactory(user=developer, name=APP_NAME, client_id="order-relay")
    installation = Installation.objects.create(app=app, account=account, installed_by=owner)
    make_reviewer(email=REVIEWER)
    assert installation_limit(installation=installation) == (200, 60)  # the platform default

    # --- The developer opens the app's Limits tab and sees the default ------------------------------------
    sign_in(page, base, developer.email, PASSWORD)
    expect(page.get_by_role("heading", name="My apps")).to_be_visible()
    page.get_by_role("link", name=APP_NAME, exact=True).click()
    page.get_by_role("navigation", name="App sections").get_by_role("link", name="Limits").click()
    expect(page).to_have_url(f"{base}/apps/{app.pk}/limits/")
    expect(page.get_by_role("heading", name="Current limits")).to_be_visible()
    row = limit_row(page, "outerheaven")
    expect(row).to_contain_text("200")
    expect(row).to_contain_text("Default")
    expect(page.get_by_text("No requests yet.")).to_be_visible()

    # --- ... asks for 1,000 calls per minute for outerheaven ----------------------------------------------
    page.get_by_label("For which installations").select_option(label="Only outerheaven")
    page.get_by_label("What is the app doing?").fill("Sends every new order to the warehouse as it is placed.")
    page.get_by_label("How many calls does that take?").fill("30000")
    page.get_by_label("Over what period").select_option(label="per hour")
    page.get_by_label("How fast must those calls be processed?").fill("Within 2 minutes of the order being placed.")
    page.get_by_label("What have you already optimised?").fill("ID ranges instead of single GETs; cached lookups.")
    page.get_by_label("Limit wanted (calls per minute)").fill("1000")
    page.get_by_role("button", name="Send request").click()
    expect_message(page, "Your request for 1,000 calls per minute (outerheaven) is with the reviewers.")

    # ... and sees it pending, the limit still the default
    pending = page.get_by_role("region", name="Requests").get_by_role("row").filter(has_text="Sends every new order")
    expect(pending).to_contain_text("outerheaven")
    expect(pending).to_contain_text("1,000/min")
    expect(pending).to_contain_text("Pending")
    expect(pending.get_by_role("button", name="Withdraw")).to_be_visible()
    expect(limit_row(page, "outerheaven")).to_contain_text("Default")
    snap(page, "limit-requested")
    sign_out(page)

    # --- The reviewer finds it under Review → Limit requests and grants 600 -------------------------------
    sign_in(page, base, REVIEWER, PASSWORD)
    expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
    reviewer_tabs = page.get_by_role("navigation", name="Reviewer sections")
    expect(reviewer_tabs.get_by_role("link", name=re.compile(r"^Limit requests"))).to_contain_text("1")
    reviewer_tabs.get_by_role("link", name=re.compile(r"^Limit requests")).click()
    queued = page.get_by_role("row").filter(has_text=APP_NAME)
    expect(queued).to_contain_text("outerheaven")
    expect(queued).to_contain_text("1,000")
    queued.get_by_role("link", name="Review").click()

    expect(page.get_by_role("heading", name=APP_NAME)).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"1,000 calls per minute for outerheaven"))).to_be_visible()
    expect(page.get_by_text("Sends every new order to the warehouse as it is placed.")).to_be_visible()
    grant = page.get_by_label("Grant (calls per minute)")
    expect(grant).to_have_value("1000")  # what was asked, until the reviewer changes it
    grant.fill("600")
    page.get_by_label("Note to the developer (optional)").fill("600 covers your peak; ask again if it does not.")
    snap(page, "limit-review")
    page.get_by_role("button", name="Approve and apply now").click()
    expect_message(page, f"{APP_NAME}: 600 calls per minute granted.")
    expect(page.get_by_text("No rate-limit requests are waiting.")).to_be_visible()
    sign_out(page)

    # --- The developer sees 600 as the current limit -------------------------------------------------------
    sign_in(page, base, developer.email, PASSWORD)
    page.get_by_role("link", name=APP_NAME, exact=True).click()
    page.get_by_role("navigation", name="App sections").get_by_role("link", name="Limits").click()
    row = limit_row(page, "outerheaven")
    expect(row.get_by_role("cell").nth(2)).to_have_text("600")
    expect(row).to_contain_text("Raised for this account, no end date")
    decided = page.get_by_role("region", name="Requests").get_by_role("row").filter(has_text="Sends every new order")
    expect(decided).to_contain_text("Approved")
    expect(decided).to_contain_text("600/min")
    expect(decided).to_contain_text("600 covers your peak")
    expect(decided.get_by_role("button", name="Withdraw")).to_have_count(0)
    snap(page, "limit-granted")

    # and the news is in the inbox, linking back to the Limits tab
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Inbox")).click()
    notice = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=f"{APP_NAME}: rate limit raised to 600 calls per minute"))
    expect(notice).to_contain_text("For outerheaven. It applies now.")
    notice.get_by_role("button", name="Open").click()
    expect(page).to_have_url(f"{base}/apps/{app.pk}/limits/")

    # and the gateway applies it: 600 calls in its 60-second window
    assert RateLimitIncreaseRequest.objects.get(app=app).status == RateLimitIncreaseRequest.Status.APPROVED
    assert installation_limit(installation=installation) == (600, 60)
