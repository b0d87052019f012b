"""Browser tests: Debian's chromium driven by Playwright's sync API against pytest-django's live server.

No browser is ever downloaded: the tests use /usr/bin/chromium (apt package ``chromium``). Without it they
skip, unless REQUIRE_BROWSER=1 (CI) makes that a failure. A failing test leaves a full-page screenshot in
test-artifacts/ (git-ignored).
"""

import importlib
import os
import re
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSER_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    """Every test under tests/browser is a `browser` test (``-m "not browser"`` leaves them out)."""
    for item in items:
        if BROWSER_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so the `page` fixture knows whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        _unavailable(f"Debian chromium not installed ({CHROMIUM}); CI runs these")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is in requirements
        _unavailable("the playwright Python package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context (no cookies) per test; a screenshot in test-artifacts/ when the test fails."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
            path = ARTIFACTS / f"{name}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                print(f"\nscreenshot of the failure: {path} (at {page.url})")
            except Exception as error:  # the page may be gone; the failure itself matters more
                print(f"\nno screenshot of the failure: {error}")
        context.close()


@pytest.fixture
def portal_defaults(transactional_db):
    """The rows migration 0002 creates (review stages, platform settings, the reviewers group).

    Transactional tests end by flushing every table, so only the first one would still see them."""
    from django.apps import apps

    importlib.import_module("portal.migrations.0002_defaults").create_defaults(apps, None)
