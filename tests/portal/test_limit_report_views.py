"""The optimisation report and the what-if on the pages: the developer's Limits tab (with ?days= and
?account=), the request form's preview, the evidence a submitted request stores, and the reviewer's pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal import limit_requests
from portal.models import Installation, RateLimitIncreaseRequest, UsageMinute
from tests.factories import AccountFactory, AppFactory, DeveloperFactory, make_reviewer

pytestmark = pytest.mark.django_db

SINGLE = "GET product-service/product single"
REQUEST = {
    "use_case": "Sends every new order to the warehouse as it is placed.",
    "calls_per_period": 30000, "period": "hour", "processing_time": "Within 2 minutes of the order.",
    "optimisations": "Order search filtered by updatedOn.", "requested_limit": 600,
}


@pytest.fixture
def world():
    developer = DeveloperFactory(partner=True).user
    app = AppFactory(user=developer)
    first = Installation.objects.create(app=app, account=AccountFactory(code="outerheaven"))
    second = Installation.objects.create(app=app, account=AccountFactory(code="topfurniture"))
    now = timezone.now().replace(second=0, microsecond=0)
    # outerheaven reads products one ID at a time and is throttled; topfurniture behaves
    for ago in range(1, 4):
        UsageMinute.objects.create(installation=first, minute=now - timedelta(minutes=ago), calls=200, throttled=150,
                                   endpoints={SINGLE: 350})
    UsageMinute.objects.create(installation=second, minute=now - timedelta(days=3), calls=10,
                               endpoints={"GET order-service/order idset": 10})
    return {"developer": developer, "app": app, "first": first, "second": second, "reviewer": make_reviewer()}


def limits_url(world, query=""):
    return reverse("portal:app_limits", args=[world["app"].pk]) + query


def test_the_limits_tab_shows_findings_first_then_endpoints_and_busiest_minutes(client, world):
    client.force_login(world["developer"])
    page = client.get(limits_url(world))
    assert page.status_code == 200
    html = page.content.decode()
    report = page.context["report"]
    assert report.days == 7 and report.account is None
    assert [finding.code for finding in report.findings] == ["batch_single_id_reads"]
    # the finding's card says what to change and the calls a minute saved, before the tables
    assert "Read product-service/product by ID sets" in html and "calls a minute saved" in html
    assert html.index("finding-batch_single_id_reads") < html.index("Calls by endpoint") < html.index(
        "Busiest minutes against the limit")
    assert "1,044" in html  # 350 single reads a minute would have been 2 ID-set calls, for 3 minutes
    assert "Peak to mean" in html


def test_the_period_and_account_come_from_the_query(client, world):
    client.force_login(world["developer"])
    page = client.get(limits_url(world, "?days=1&account=TOPFURNITURE"))
    report = page.context["report"]
    assert report.days == 1 and report.account == "topfurniture" and report.totals["requests"] == 0
    page = client.get(limits_url(world, "?days=14&account=topfurniture"))
    assert page.context["report"].totals["requests"] == 10 and page.context["report"].findings == []
    assert "Nothing to change" in page.content.decode()


@pytest.mark.parametrize("query", ["?days=3", "?days=abc", "?account=elsewhere", "?days=99999999999999999999",
                                   "?days=7&account=%00%ff", "?days=1&days=2"])
def test_bad_query_values_fall_back_with_a_message(client, world, query):
    client.force_login(world["developer"])
    page = client.get(limits_url(world, query))
    assert page.status_code == 200
    report = page.context["report"]
    assert report.days in (1, 7) and report.account is None
    notes = [str(message) for message in page.context["messages"]]
    if query != "?days=1&days=2":
        assert notes and ("1, 7 or 14 days" in notes[0] or "not installed in that account" in notes[0])


def test_the_form_preview_shows_the_what_if_of_the_limit_typed(client, world):
    client.force_login(world["developer"])
    response = client.post(limits_url(world), {"scope": "outerheaven", "requested_limit": "450", "preview": "1",
                                               "use_case": "Half typed"})
    assert response.status_code == 200
    assert not RateLimitIncreaseRequest.objects.exists()
    what_if = response.context["what_if"]
    assert what_if.account == "outerheaven" and what_if.current.throttled == 450
    assert what_if.row(450).throttled == 0
    html = response.content.decode()
    assert "At <strong>450</strong> calls a minute, the throttled calls of the last 7 days would have" in html
    assert "evenly spread" in html
    # what was typed is kept, and nothing is marked as an error yet
    assert "Half typed" in html and 'class="error"' not in html


def test_a_preview_without_a_number_says_so(client, world):
    client.force_login(world["developer"])
    response = client.post(limits_url(world), {"scope": "", "requested_limit": "lots", "preview": "1"})
    assert response.status_code == 200
    assert any("whole number" in str(message) for message in response.context["messages"])
    assert not RateLimitIncreaseRequest.objects.exists()


def test_a_submitted_request_stores_the_report_and_the_what_if(client, world):
    client.force_login(world["developer"])
    response = client.post(limits_url(world), {**REQUEST, "scope": "outerheaven", "requested_until": ""})
    assert response.status_code == 302
    evidence = RateLimitIncreaseRequest.objects.get().evidence
    assert evidence["report"]["account"] == "outerheaven" and evidence["report"]["period"]["days"] == 14
    assert [finding["code"] for finding in evidence["report"]["findings"]] == ["batch_single_id_reads"]
    assert evidence["what_if"]["rows"] == [{"limit": 600, "throttled": 0, "minutes_throttled": 0}]
    assert evidence["what_if"]["current"]["throttled"] == 450 and evidence["what_if"]["recorded_throttled"] == 450


def test_the_reviewer_sees_the_snapshot_the_live_report_and_the_what_if_of_the_grant(client, world):
    limit_request = limit_requests.limit_request_submit(app=world["app"], actor=world["developer"],
                                                        account=world["first"].account, **REQUEST)
    # given more usage after the request was sent (the snapshot does not change)
    UsageMinute.objects.create(installation=world["first"], minute=timezone.now() - timedelta(hours=2), calls=5,
                               expired_token=5, status_4xx=5)
    client.force_login(world["reviewer"])
    url = reverse("portal:review_limit_request", args=[limit_request.pk])
    html = client.get(url).content.decode()
    assert "Optimisation report sent with the request" in html and "Read product-service/product by ID sets" in html
    assert "Refresh the access token" not in html.split("Usage, last 24 hours")[0]
    assert reverse("portal:review_limit_report", args=[limit_request.pk]) in html
    assert "At the <strong>600</strong> calls a minute asked for" in html
    # when the reviewer previews a smaller grant, the what-if shows it beside the one asked for
    response = client.post(url, {"decision": "preview", "approve-granted_limit": "300", "approve-note": "Try it"})
    assert response.status_code == 200
    assert [row.limit for row in response.context["what_if_rows"]] == [600, 300]
    assert response.context["what_if"].row(300).throttled == 150
    assert "Try it" in response.content.decode()
    limit_request.refresh_from_db()
    assert limit_request.status == "pending"
    # and the live report has what happened since
    live = client.get(reverse("portal:review_limit_report", args=[limit_request.pk]))
    assert live.context["report"].account == "outerheaven" and live.context["report"].days == 14
    assert "expired_token_calls" in [finding.code for finding in live.context["report"].findings]


def test_the_live_report_is_for_reviewers_and_a_request_without_evidence_still_shows(client, world):
    limit_request = limit_requests.limit_request_submit(app=world["app"], actor=world["developer"], **REQUEST)
    RateLimitIncreaseRequest.objects.filter(pk=limit_request.pk).update(evidence=None)
    client.force_login(world["developer"])
    assert client.get(reverse("portal:review_limit_report", args=[limit_request.pk])).status_code == 403
    client.force_login(world["reviewer"])
    page = client.get(reverse("portal:review_limit_request", args=[limit_request.pk]))
    assert page.status_code == 200 and "sent without a report" in page.content.decode()
    bad = client.get(reverse("portal:review_limit_report", args=[limit_request.pk]) + "?days=2&account=zzz")
    assert bad.status_code == 200 and bad.context["report"].days == 14


def test_another_developer_cannot_see_the_report(client, world):
    client.force_login(DeveloperFactory().user)
    assert client.get(limits_url(world, "?days=14")).status_code == 404
    other = AppFactory()
    assert other.pk != world["app"].pk
