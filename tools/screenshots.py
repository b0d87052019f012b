#!/usr/bin/env python3
"""Full-page screenshots of the portal's main pages, as each kind of user sees them.

Run it against a portal seeded with `manage.py seed_demo` (for example `make run`, or
`PORT=8123 python -m config.devstack`):

    .venv/bin/python tools/screenshots.py [BASE_URL] [--out DIR]

BASE_URL defaults to http://127.0.0.1:8000 and DIR to test-artifacts/screenshots/. It signs in as the demo
developer, reviewer and owner (password demo-pass-2026) and only reads pages, so it changes nothing but
sessions. The consent page of the demo app is only opened (GET), never approved. Two options change the
demo data, through the forms, to show pages the seed alone never reaches: --register-owner registers the
owner as a developer, so that the partner-application form (which partners never see) can be shown;
--limit-request has the developer ask for a higher rate limit for the demo app (unless a request is
already pending), so that the reviewer's limit-request page and a non-empty queue can be shown. It uses
Debian's chromium (/usr/bin/chromium) through Playwright; no browser is downloaded. Each saved path is
printed.
"""

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import urljoin

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
PASSWORD = "demo-pass-2026"
DEVELOPER, REVIEWER, OWNER = "developer@example.com", "reviewer@example.com", "owner@example.com"
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}
ACCOUNT = "outerheaven"  # the demo account whose store lists the demo app (early access)
DEMO_APP = "demo-app"
CONSENT = (f"/oauth/authorize/{ACCOUNT}?response_type=code&client_id={DEMO_APP}"
           "&redirect_uri=http://localhost:8080/callback&state=x")


class Shooter:
    def __init__(self, browser: Browser, base: str, out: Path):
        self.browser, self.base, self.out = browser, base.rstrip("/") + "/", out
        self.count = 0
        self.problems: list[str] = []

    def context(self, viewport=WIDE):
        context = self.browser.new_context(viewport=viewport)
        context.set_default_timeout(15_000)
        return context

    def url(self, path: str) -> str:
        return urljoin(self.base, path.lstrip("/"))

    def visit(self, page: Page, path: str) -> None:
        response = page.goto(self.url(path))
        if response is not None and response.status >= 400:
            self.problems.append(f"{path}: HTTP {response.status}")

    def shot(self, page: Page, name: str, path: str | None = None) -> Path:
        """Open ``path`` (unless None: the page as it is) and save a full-page PNG named ``NN-name.png``."""
        if path is not None:
            self.visit(page, path)
        page.wait_for_load_state("networkidle")
        self.count += 1
        target = self.out / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(target), full_page=True)
        note = "" if path is None or page.url == self.url(path) else f"  (ended at {page.url})"
        print(f"{target}{note}", flush=True)
        return target

    def sign_in(self, page: Page, email: str) -> None:
        self.visit(page, "/accounts/login/")
        page.locator("input[name=login]").fill(email)
        page.locator("input[name=password]").fill(PASSWORD)
        page.get_by_role("button", name="Sign In", exact=True).click()
        page.wait_for_load_state()
        if page.get_by_role("button", name="Sign out").count() == 0:
            raise SystemExit(f"could not sign in as {email} (is the portal seeded? ended at {page.url})")

    def first_href(self, page: Page, selector: str, pattern: str) -> str | None:
        """The first link on the page matching ``selector`` whose href matches ``pattern``."""
        for href in page.locator(selector).evaluate_all("links => links.map(a => a.getAttribute('href'))"):
            if href and re.fullmatch(pattern, href):
                return href
        return None


def anonymous(s: Shooter) -> None:
    with s.context() as context:
        page = context.new_page()
        s.shot(page, "landing", "/")
        s.shot(page, "login", "/accounts/login/")
        s.shot(page, "signup", "/accounts/signup/")
        s.shot(page, "password-reset", "/accounts/password/reset/")
        s.shot(page, "api-docs", "/api/developer/docs/")  # public: Swagger UI from the sidecar's static files
    with s.context(NARROW) as context:
        s.shot(context.new_page(), "narrow-landing", "/")


def ask_for_limit(s: Shooter, page: Page) -> None:
    """On the app's Limits tab (open), send an increase request, unless one is pending already."""
    if page.get_by_role("button", name="Withdraw").count():
        return
    page.get_by_label("What is the app doing?").fill("Sends every new order to the warehouse as it is placed.")
    page.get_by_label("How many calls does that take?").fill("30000")
    page.get_by_label("How fast must those calls be processed?").fill("Within 2 minutes of the order being placed.")
    page.get_by_label("What have you already optimised?").fill("ID ranges instead of single GETs; cached lookups.")
    page.get_by_label("Limit wanted (calls per minute)").fill("1000")
    page.get_by_role("button", name="Send request").click()
    page.wait_for_load_state()
    if page.get_by_role("button", name="Withdraw").count() == 0:
        s.problems.append(f"--limit-request: the request was not accepted (ended at {page.url})")


def developer(s: Shooter, limit_request: bool) -> None:
    with s.context() as context:
        page = context.new_page()
        s.sign_in(page, DEVELOPER)
        s.shot(page, "dev-dashboard", "/apps/")
        app = s.first_href(page, "main a", r"/apps/\d+/")
        if app is None:
            s.problems.append("the developer dashboard lists no app; app pages skipped")
        else:
            s.shot(page, "dev-app-detail", app)
            s.shot(page, "dev-app-credentials", app + "credentials/")
            s.shot(page, "dev-app-early-access", app + "early-access/")
            s.shot(page, "dev-app-history", app + "history/")
            s.shot(page, "dev-app-edit", app + "edit/")
            s.shot(page, "dev-app-limits", app + "limits/")
            if limit_request:
                ask_for_limit(s, page)
                s.shot(page, "dev-app-limits-requested")
            s.shot(page, "dev-app-sync", app + "sync/")
            connection = s.first_href(page, "main a", r"/sync/connections/\d+/")
            if connection:  # none until an account turns on an app with managed sync
                s.shot(page, "dev-sync-connection", connection)
            s.shot(page, "dev-sync-connect-external", app + "sync/connect/")
            s.shot(page, "dev-app-webhooks", app + "webhooks/")
            delivery = s.first_href(page, "main a", r"/apps/\d+/webhooks/\d+/")
            if delivery:
                s.shot(page, "dev-webhook-delivery", delivery)
        s.shot(page, "dev-app-new", "/apps/new/")
        s.shot(page, "dev-profile", "/developer/")
        s.shot(page, "dev-partner-apply-as-partner", "/developer/partner/")
        s.shot(page, "dev-api-keys", "/developer/api-keys/")
        s.shot(page, "dev-my-accounts", "/my-accounts/")
        s.shot(page, "dev-inbox", "/inbox/")
        s.shot(page, "dev-email-settings", "/accounts/email/")
        s.shot(page, "dev-two-factor", "/accounts/2fa/")
    with s.context(NARROW) as context:
        page = context.new_page()
        s.sign_in(page, DEVELOPER)
        s.shot(page, "narrow-dev-dashboard", "/apps/")
        app = s.first_href(page, "main a", r"/apps/\d+/")
        if app:
            s.shot(page, "narrow-dev-app-detail", app)
            s.shot(page, "narrow-dev-app-limits", app + "limits/")
            s.shot(page, "narrow-dev-app-sync", app + "sync/")


def reviewer(s: Shooter) -> None:
    with s.context() as context:
        page = context.new_page()
        s.sign_in(page, REVIEWER)
        s.shot(page, "rev-queue", "/review/")
        request = s.first_href(page, "main a", r"/review/requests/\d+/")
        if request is None:
            s.problems.append("the review queue is empty; the review request page was skipped")
        else:
            s.shot(page, "rev-request", request)
        s.shot(page, "rev-limit-requests", "/review/limits/")
        limit = s.first_href(page, "main a", r"/review/limits/\d+/")
        if limit:  # none unless a developer has asked (see --limit-request)
            s.shot(page, "rev-limit-request", limit)
        s.shot(page, "rev-partner-queue", "/review/partners/")
        s.shot(page, "rev-all-apps", "/review/apps/")
        app = s.first_href(page, "main a", r"/review/apps/\d+/")
        if app:
            s.shot(page, "rev-app", app)
        s.shot(page, "rev-settings", "/review/settings/")
        s.shot(page, "rev-audit", "/review/audit/")
        s.shot(page, "rev-inbox", "/inbox/")
    with s.context(NARROW) as context:
        page = context.new_page()
        s.sign_in(page, REVIEWER)
        s.shot(page, "narrow-rev-queue", "/review/")
        s.shot(page, "narrow-rev-limit-requests", "/review/limits/")
        limit = s.first_href(page, "main a", r"/review/limits/\d+/")
        if limit:
            s.shot(page, "narrow-rev-limit-request", limit)


def owner(s: Shooter, register: bool) -> None:
    with s.context() as context:
        page = context.new_page()
        s.sign_in(page, OWNER)
        s.shot(page, "owner-home", "/home/")
        s.shot(page, "owner-my-accounts", "/my-accounts/")
        account = s.first_href(page, "main a", r"/my-accounts/[\w-]+/")
        if account is None:
            s.problems.append("the owner has no account; the account page was skipped")
        else:
            s.shot(page, "owner-account", account)
        s.shot(page, "owner-store", f"/store/{ACCOUNT}/")
        store_app = s.first_href(page, "main a", rf"/store/{ACCOUNT}/apps/[\w-]+/")
        if store_app is None:
            s.problems.append(f"the {ACCOUNT} store lists no app; the store app page was skipped")
        else:
            s.shot(page, "owner-store-app", store_app)
        s.shot(page, "owner-consent", CONSENT)  # only opened: approving would turn the app on
        s.shot(page, "owner-connected-apps", f"/store/{ACCOUNT}/connected/")
        s.shot(page, "owner-syncs", f"/store/{ACCOUNT}/syncs/")
        connection = s.first_href(page, "main a", r"/sync/connections/\d+/")
        if connection:
            s.shot(page, "owner-sync-connection", connection)
        s.shot(page, "owner-staff-tokens", f"/my-accounts/{ACCOUNT}/staff-tokens/")
        s.shot(page, "owner-inbox", "/inbox/")
        s.shot(page, "owner-developer-register", "/developer/")  # the profile instead once registered
        if register:
            register_button = page.get_by_role("button", name="Register as a developer")
            if register_button.count():  # not yet a developer (an earlier --register-owner run made them one)
                page.get_by_label("Developer reference").fill("demo-owner")
                page.get_by_label("Company").fill("Outer Heaven Ltd")
                register_button.click()
                page.wait_for_load_state()
            s.shot(page, "owner-partner-apply", "/developer/partner/")
    with s.context(NARROW) as context:
        page = context.new_page()
        s.sign_in(page, OWNER)
        s.shot(page, "narrow-owner-account", f"/my-accounts/{ACCOUNT}/")
        s.shot(page, "narrow-owner-store", f"/store/{ACCOUNT}/")
        store_app = s.first_href(page, "main a", rf"/store/{ACCOUNT}/apps/[\w-]+/")
        if store_app:
            s.shot(page, "narrow-owner-store-app", store_app)
        s.shot(page, "narrow-owner-consent", CONSENT)
        s.shot(page, "narrow-owner-connected-apps", f"/store/{ACCOUNT}/connected/")
        s.shot(page, "narrow-owner-syncs", f"/store/{ACCOUNT}/syncs/")
        s.shot(page, "narrow-owner-staff-tokens", f"/my-accounts/{ACCOUNT}/staff-tokens/")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path("test-artifacts/screenshots"))
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--register-owner", action="store_true",
                        help="register the demo owner as a developer (changes the demo data) to show the partner form")
    parser.add_argument("--limit-request", action="store_true",
                        help="have the demo developer ask for a higher rate limit (changes the demo data) to show "
                             "the reviewer's limit-request page")
    args = parser.parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"{args.chromium} not found: install Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            shooter = Shooter(browser, args.base_url, args.out)
            anonymous(shooter)
            developer(shooter, limit_request=args.limit_request)
            reviewer(shooter)
            owner(shooter, register=args.register_owner)
        finally:
            browser.close()
    print(f"{shooter.count} screenshots in {args.out}")
    for problem in shooter.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 1 if shooter.problems else 0


if __name__ == "__main__":
    sys.exit(main())
