"""The conformance report on the pages: the developer sees it before asking to progress, the request stores a
snapshot, and the reviewer sees the snapshot, the live report and the checks beside the stages they back."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from portal import services
from portal.models import App, ProgressionRequest, Stage
from tests.factories import DeveloperFactory, make_reviewer
from tests.portal.conformance_support import NOW, usage, well_behaved, world

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner_world(client, portal_defaults_rows):
    """A partner's app in beta-bound development with two early-access accounts, logged in as the partner."""
    profile = DeveloperFactory(partner=True)
    w = world(user=profile.user)
    client.force_login(profile.user)
    return w


def _section(html: str, element_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{element_id}".*?</section>', html, re.S)
    assert match, f"no #{element_id}"
    return match.group(0)


def test_the_developer_sees_the_report_with_what_to_fix_before_asking(client, partner_world):
    # given an app that called with expired tokens
    usage(partner_world.installations[0], 5, calls=100, expired_token=4, status_4xx=4)
    # when its developer opens the app's page
    response = client.get(reverse("portal:app_detail", args=[partner_world.app.pk]))
    # then the lifecycle card shows the report, above the request form, with the fix of the failed check
    html = response.content.decode()
    section = _section(html, "conformance")
    assert html.index('id="conformance"') < html.index(reverse("portal:progression_request",
                                                               args=[partner_world.app.pk]))
    assert "Refreshed tokens before they expired" in section
    assert "4 requests of 100 carried an access token that had already expired." in section
    assert "To fix:" in section and "refresh token shortly before it" in section
    assert [c["code"] for c in response.context["conformance"]["to_fix"]] == ["oauth_exchange",
                                                                              "refresh_before_expiry"]


def test_the_report_is_not_offered_to_a_released_app(client, partner_world):
    App.objects.filter(pk=partner_world.app.pk).update(stage=Stage.RELEASED)
    response = client.get(reverse("portal:app_detail", args=[partner_world.app.pk]))
    assert response.context["conformance"] is None
    assert 'id="conformance"' not in response.content.decode()


def test_submitting_stores_the_snapshot_in_the_request(client, partner_world):
    # given a well-behaved app
    well_behaved(partner_world)
    # when its developer asks to progress through the page
    response = client.post(reverse("portal:progression_request", args=[partner_world.app.pk]),
                           {"message": "Ready for alpha."})
    assert response.status_code == 302
    # then the request carries the report as it stood
    stored = ProgressionRequest.objects.get().conformance
    assert [c["code"] for c in stored["checks"]][:2] == ["oauth_exchange", "refresh_before_expiry"]
    assert stored["counts"] == {"passed": 7, "failed": 0, "no_evidence": 1}
    assert stored["accounts"] == sorted(a.code for a in partner_world.accounts)


def test_a_refused_submission_stores_nothing(client, partner_world):
    services.progression_request_submit(app=partner_world.app, actor=partner_world.app.user, message="first")
    with pytest.raises(Exception):  # noqa: B017 (any refusal)
        services.progression_request_submit(app=partner_world.app, actor=partner_world.app.user, message="again")
    assert ProgressionRequest.objects.count() == 1


def test_the_reviewer_sees_snapshot_live_report_and_checks_beside_their_stages(client, partner_world):
    # given a beta request sent while the app was clean, then expired tokens since
    App.objects.filter(pk=partner_world.app.pk).update(stage=Stage.ALPHA)
    partner_world.app.refresh_from_db()
    well_behaved(partner_world)
    request = services.progression_request_submit(app=partner_world.app, actor=partner_world.app.user,
                                                  message="Ready for beta.")
    usage(partner_world.installations[0], 0, calls=10, expired_token=2)
    client.force_login(make_reviewer())
    # when the reviewer opens the request
    response = client.get(reverse("portal:review_request", args=[request.pk]))
    html = response.content.decode()
    # then the report card shows the snapshot and the live report
    section = _section(html, "conformance")
    assert "When the request was sent" in section and "Now" in section
    assert response.context["snapshot"]["counts"]["failed"] == 0
    assert response.context["live"]["counts"]["failed"] == 1
    # and each backed stage lists its checks beside its tick, live, with what changed since submission
    checks = {check.stage.key: check for check in response.context["checks"]}
    assert [row["code"] for row in checks["functionality"].evidence] == [
        "oauth_exchange", "callbacks_answered", "success_rate", "webhooks_answered"]
    code = {row["code"]: row for row in checks["code"].evidence}
    assert code["refresh_before_expiry"]["label"] == "Failed"
    assert code["refresh_before_expiry"]["at_submission"]["label"] == "Passed"
    assert checks["design"].evidence == []
    assert 'aria-label="Conformance behind Code"' in html
    assert "(passed when sent)" in html
    # and nothing blocks a tick
    assert 'aria-label="Tick Code"' in html


def test_a_request_without_a_snapshot_still_opens(client, partner_world):
    request = services.progression_request_submit(app=partner_world.app, actor=partner_world.app.user, message="x")
    ProgressionRequest.objects.filter(pk=request.pk).update(conformance=None)
    client.force_login(make_reviewer())
    response = client.get(reverse("portal:review_request", args=[request.pk]))
    assert response.status_code == 200
    assert "No report was stored with this request" in response.content.decode()


def test_usage_outside_early_access_does_not_reach_the_page(client, partner_world):
    usage(partner_world.installations[0], 60 * 24 * 20, calls=10, expired_token=10)
    response = client.get(reverse("portal:app_detail", args=[partner_world.app.pk]))
    assert response.context["conformance"]["by_code"]["refresh_before_expiry"]["passed"] is None
    assert NOW - timedelta(days=14) <= response.context["conformance"]["since"]
