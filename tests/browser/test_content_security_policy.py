"""The pages keep working under the Content-Security-Policy, in a real browser: the usual pages, the
usage charts (inline SVG), the developer API docs (Swagger UI) and the sync page's live figures (its
inline script runs with the nonce). Any CSP violation fails the test."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from portal.models import Installation, UsageMinute
from sync.models import Connection, SyncRun, SyncStream
from tests.browser.test_developer_journey import sign_in
from tests.factories import PASSWORD, AccountFactory, AppFactory, DeveloperFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded in the page before any of its own scripts run; init scripts are not subject to the policy.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sample || ""));
});
"""


def violations(page: Page, console: list[str]) -> list[str]:
    """What the policy blocked on the current page (and any console report of it so far)."""
    found = page.evaluate("window.__cspViolations || []")
    reported = [line for line in console if "Content Security Policy" in line]
    console.clear()
    return found + reported


def test_pages_work_under_the_content_security_policy(page: Page, live_server, portal_defaults):
    # given a developer whose app has an installation with calls (a chart) and a sync run going on
    base = live_server.url
    developer = DeveloperFactory().user
    app = AppFactory(user=developer, name="Chart App", client_id="chart-app")
    installation = Installation.objects.create(app=app, account=AccountFactory(code="outerheaven"),
                                               last_call_at=timezone.now())
    minute = timezone.now().replace(second=0, microsecond=0)
    UsageMinute.objects.create(installation=installation, minute=minute - timedelta(hours=1), calls=150, throttled=4)
    connection = Connection.objects.create(app=app, kind="external", account_code="outerheaven", client_id="chart-app",
                                           authorize_url="https://x.example/a", token_url="https://x.example/t",
                                           api_base_url="https://x.example/public-api/outerheaven")
    stream = SyncStream.objects.create(connection=connection, resource="product")
    SyncRun.objects.create(stream=stream, connection=connection, resource="product", kind="full")
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH_VIOLATIONS)

    # when they sign in and open their pages
    sign_in(page, base, developer.email, PASSWORD)
    blocked = violations(page, console)
    page.goto(f"{base}/apps/{app.pk}/")
    chart = page.locator("svg.usage-chart").first
    expect(chart).to_be_visible()
    assert chart.locator("rect").count() >= 1
    assert chart.bounding_box()["width"] > 400  # the style attribute that sizes it applied
    blocked += violations(page, console)

    # and the sync page polls its figures with its inline script
    with page.expect_request(lambda request: request.url.endswith(f"/sync/connections/{connection.pk}/progress.json"),
                             timeout=8000):
        page.goto(f"{base}/sync/connections/{connection.pk}/")
    blocked += violations(page, console)

    # and the developer API docs render Swagger UI with the operations
    response = page.goto(f"{base}/api/developer/docs/")
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Partner Portal developer API")
    expect(page.locator(".opblock").first).to_be_visible()
    body_background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert body_background == "rgb(250, 250, 250)"  # the page rules from the static file

    blocked += violations(page, console)

    # then nothing was blocked anywhere
    assert not blocked, blocked
