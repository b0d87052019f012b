"""Developer and reviewer pages through Django's test client."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from portal import services
from portal.models import App, PlatformSettings, ProgressionRequest, Stage
from tests.factories import AccountFactory, AppFactory, DeveloperFactory, make_reviewer

pytestmark = pytest.mark.django_db

VALID_APP = {
    "name": "Stock Sync", "app_ref": "stock-sync", "short_description": "Syncs stock.",
    "long_description": "", "client_type": "confidential", "redirect_uris": "https://stock.example.com/cb",
    "install_callback_url": "", "uninstall_callback_url": "", "homepage_url": "", "support_url": "", "privacy_url": "",
}


@pytest.fixture
def developer(client):
    profile = DeveloperFactory(partner=True)
    client.force_login(profile.user)
    return profile.user


@pytest.mark.parametrize("name", ["portal:app_detail", "portal:app_edit", "portal:app_credentials",
                                  "portal:app_early_access", "portal:app_history", "portal:app_delete"])
def test_another_developers_app_is_a_404(client, developer, name):
    # given an app of someone else
    foreign = AppFactory()
    # when the developer opens one of its pages
    response = client.get(reverse(name, args=[foreign.pk]))
    # then it does not exist for them
    assert response.status_code == 404


def test_register_app_shows_the_secret_once(client, developer):
    # when the developer registers an app
    response = client.post(reverse("portal:app_create"), VALID_APP, follow=True)
    # then the credentials page shows the secret, which checks against the stored hash
    app = App.objects.get(client_id="stock-sync")
    secret = response.context["secret"]
    assert secret and secret in response.content.decode()
    from django.contrib.auth.hashers import check_password

    assert check_password(secret, app.client_secret)
    # and a second visit no longer shows it
    again = client.get(reverse("portal:app_credentials", args=[app.pk]))
    assert again.context["secret"] is None
    assert secret not in again.content.decode()


@pytest.mark.parametrize("field,value,message", [
    ("app_ref", "Bad Ref", "lowercase"),
    ("app_ref", "x", "3–50"),
    ("redirect_uris", "http://example.com/cb", "must use https"),
    ("redirect_uris", "not a url", "not a valid URL"),
])
def test_register_app_with_bad_input_changes_nothing(client, developer, field, value, message):
    # when the form is posted with one bad field
    response = client.post(reverse("portal:app_create"), {**VALID_APP, field: value})
    # then the page explains and nothing is stored
    assert response.status_code == 200
    assert message in response.content.decode()
    assert App.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_duplicate_app_ref_is_refused(client, developer):
    AppFactory(client_id="stock-sync")
    response = client.post(reverse("portal:app_create"), VALID_APP)
    assert "already taken" in response.content.decode()
    assert App.objects.count() == 1


def test_non_image_icon_is_refused(client, developer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("icon.png", b"#!/bin/sh\necho not an image\n", content_type="image/png")
    response = client.post(reverse("portal:app_create"), {**VALID_APP, "icon": fake})
    assert "must be a PNG, JPEG, GIF or WebP image" in response.content.decode()
    assert App.objects.count() == 0


def test_script_in_description_is_shown_escaped(client, developer):
    # given an app whose descriptions contain markup
    app, _ = services.app_register(actor=developer, app_ref="xss-app", **{
        **{k: v for k, v in VALID_APP.items() if k != "app_ref"},
        "name": "<b>Bold</b> app", "long_description": "Hi <script>alert('x')</script> **there**",
    })
    # when its page is shown
    html = client.get(reverse("portal:app_detail", args=[app.pk])).content.decode()
    # then the script is text, Markdown still works
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html
    assert "<strong>there</strong>" in html
    assert "<b>Bold</b>" not in html


def test_closed_intake_disables_the_button_and_refuses(client, developer):
    # given closed intake and a developer's app
    PlatformSettings.objects.filter(pk=1).update(
        progression_intake_open=False, intake_closed_message="Paused while we revise our processes."
    )
    app = AppFactory(user=developer)
    # when the app page is shown, then the button is disabled with the message
    html = client.get(reverse("portal:app_detail", args=[app.pk])).content.decode()
    assert "Paused while we revise our processes." in html
    assert 'disabled aria-disabled="true">Request alpha' in html
    # and a request posted anyway creates nothing
    response = client.post(reverse("portal:progression_request", args=[app.pk]), {"message": "please"}, follow=True)
    assert "Paused while we revise our processes." in response.content.decode()
    assert not ProgressionRequest.objects.exists()


def test_non_reviewer_cannot_open_the_queue(client, developer):
    assert client.get(reverse("portal:review_queue")).status_code == 403
    assert client.get(reverse("portal:audit_log")).status_code == 403


def test_reviewer_without_two_factor_is_sent_to_enrol(client, settings):
    settings.PORTAL = {**settings.PORTAL, "REQUIRE_MFA_FOR_REVIEWERS": True}
    client.force_login(make_reviewer())
    response = client.get(reverse("portal:review_queue"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_reviewer_approves_through_the_pages(client):
    # given a pending alpha request
    developer = DeveloperFactory(partner=True).user
    app = AppFactory(user=developer)
    request = services.progression_request_submit(app=app, actor=developer, message="ready")
    reviewer = make_reviewer()
    client.force_login(reviewer)
    # when approve is attempted before the checklist is ticked, it is refused
    client.post(reverse("portal:review_decide", args=[request.pk]), {"decision": "approve"})
    assert App.objects.get(pk=app.pk).stage == Stage.IN_DEVELOPMENT
    # when every stage is ticked and approved
    for check in request.checks.select_related("stage"):
        client.post(reverse("portal:review_check", args=[request.pk]), {"stage_key": check.stage.key, "checked": "on"})
    response = client.post(reverse("portal:review_decide", args=[request.pk]), {"decision": "approve", "note": "Nice"})
    # then the app is in alpha and the developer sees it
    assert response.status_code == 302
    assert App.objects.get(pk=app.pk).stage == Stage.ALPHA
    client.force_login(developer)
    assert "Alpha" in client.get(reverse("portal:app_detail", args=[app.pk])).content.decode()


def test_reject_needs_a_note(client):
    developer = DeveloperFactory(partner=True).user
    request = services.progression_request_submit(app=AppFactory(user=developer), actor=developer, message="ready")
    client.force_login(make_reviewer())
    response = client.post(
        reverse("portal:review_decide", args=[request.pk]), {"decision": "reject", "note": ""}, follow=True
    )
    assert "Say why" in response.content.decode()
    assert ProgressionRequest.objects.get(pk=request.pk).status == ProgressionRequest.Status.PENDING


def test_reviewer_suspends_and_unsuspends(client):
    app = AppFactory(stage=Stage.BETA)
    client.force_login(make_reviewer())
    url = reverse("portal:review_app_suspension", args=[app.pk])
    client.post(url, {"action": "suspend", "reason": ""})
    assert App.objects.get(pk=app.pk).suspended_at is None
    client.post(url, {"action": "suspend", "reason": "Leaks tokens in logs", "confirm": "yes"})
    assert App.objects.get(pk=app.pk).lifecycle_state == "suspended"
    client.post(url, {"action": "unsuspend"})
    assert App.objects.get(pk=app.pk).lifecycle_state == Stage.BETA


def test_audit_log_filters_by_app_and_actor(client):
    developer = DeveloperFactory().user
    services.app_register(actor=developer, app_ref="one-app", **{k: v for k, v in VALID_APP.items() if k != "app_ref"})
    services.app_register(actor=developer, app_ref="two-app", **{k: v for k, v in VALID_APP.items() if k != "app_ref"})
    client.force_login(make_reviewer())
    events = client.get(reverse("portal:audit_log"), {"app_ref": "one-app"}).context["events"]
    assert {event.app_ref for event in events} == {"one-app"}
    events = client.get(reverse("portal:audit_log"), {"actor": "nobody@example.com"}).context["events"]
    assert len(events) == 0


def test_early_access_page_adds_and_lists_who_added(client, developer):
    app = AppFactory(user=developer)
    AccountFactory(code="outerheaven")
    response = client.post(
        reverse("portal:app_early_access", args=[app.pk]), {"account_code": "outerheaven"}, follow=True
    )
    html = response.content.decode()
    assert "outerheaven" in html and developer.email in html
    response = client.post(reverse("portal:app_early_access", args=[app.pk]), {"account_code": "nope"})
    assert "no account with the code" in response.content.decode()


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_dashboard_queries_do_not_grow_with_apps(client, developer):
    # given 5 apps, then 50
    AppFactory.create_batch(5, user=developer)
    few = _count_queries(client, reverse("portal:dashboard"))
    AppFactory.create_batch(45, user=developer)
    many = _count_queries(client, reverse("portal:dashboard"))
    # then the page costs the same number of queries
    assert many == few


def test_review_queue_queries_do_not_grow_with_requests(client):
    def pending(count):
        for _ in range(count):
            developer = DeveloperFactory(partner=True).user
            services.progression_request_submit(app=AppFactory(user=developer), actor=developer, message="ready")

    client.force_login(make_reviewer())
    pending(5)
    few = _count_queries(client, reverse("portal:review_queue"))
    pending(45)
    many = _count_queries(client, reverse("portal:review_queue"))
    assert len(client.get(reverse("portal:review_queue")).context["queue"]) == 50
    assert many == few
