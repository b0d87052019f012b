"""Rate-limit increase requests: submit, withdraw, approve, reject, end; how grants set installation limits;
and the developer's and reviewer's pages."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Notification
from portal import limit_requests, limits
from portal.models import EarlyAccess, Installation, RateLimitIncreaseRequest, UsageMinute
from portal.selectors import platform_settings
from tests.factories import AccountFactory, AppFactory, DeveloperFactory, UserFactory, make_reviewer

pytestmark = pytest.mark.django_db
Status = RateLimitIncreaseRequest.Status

REQUEST = {
    "use_case": "Sends every new order to the warehouse as it is placed.",
    "calls_per_period": 30000, "period": "hour", "processing_time": "Within 2 minutes of the order.",
    "optimisations": "Order search filtered by updatedOn; ID ranges for order lines.",
    "requested_limit": 600,
}


@pytest.fixture
def world():
    developer = DeveloperFactory(partner=True).user
    app = AppFactory(user=developer)
    first, second = AccountFactory(code="outerheaven"), AccountFactory(code="topfurniture")
    return {
        "developer": developer, "app": app, "reviewer": make_reviewer(),
        "first": Installation.objects.create(app=app, account=first),
        "second": Installation.objects.create(app=app, account=second),
    }


def submit(world, **changes):
    return limit_requests.limit_request_submit(app=world["app"], actor=world["developer"], **{**REQUEST, **changes})


def approve(world, request, **changes):
    fields = {"granted_limit": 600, **changes}
    return limits.limit_request_approve(limit_request=request, actor=world["reviewer"], **fields)


def limit_of(installation, **kwargs) -> int:
    return limits.installation_limit(installation=Installation.objects.get(pk=installation.pk), **kwargs)[0]


# --- Submit ----------------------------------------------------------------------------------------

def test_submit_creates_a_pending_request_with_its_audit_event(world):
    # when the developer asks for 600 calls per minute for every installation
    request = submit(world, requested_until=date.today() + timedelta(days=30))
    # then it waits for review, and the audit log says so
    assert request.status == Status.PENDING and request.account is None
    event = AuditEvent.objects.get(verb="limit_request.submitted")
    assert event.app_ref == world["app"].client_id and event.data["requested_limit"] == 600
    assert event.data["scope"] == "all installations"


def test_another_developer_cannot_ask_for_an_app_that_is_not_theirs(world):
    stranger = DeveloperFactory().user
    with pytest.raises(PermissionDenied):
        limit_requests.limit_request_submit(app=world["app"], actor=stranger, **REQUEST)
    assert not RateLimitIncreaseRequest.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="limit_").exists()


@pytest.mark.parametrize("field,value,message", [
    ("requested_limit", 200, "more than the default of 200"),
    ("requested_limit", 150, "more than the default of 200"),
    ("use_case", "   ", "what the app is doing"),
    ("processing_time", "", "how fast"),
    ("optimisations", "", "already done"),
    ("calls_per_period", 0, "at least 1"),
    ("period", "fortnight", "per minute, per hour or per day"),
    ("requested_until", date.today(), "after today"),
])
def test_submit_refuses_bad_input_and_creates_nothing(world, field, value, message):
    with pytest.raises(ValidationError) as refused:
        submit(world, **{field: value})
    assert field in refused.value.message_dict
    assert message in " ".join(refused.value.message_dict[field])
    assert not RateLimitIncreaseRequest.objects.exists()


def test_submit_compares_with_the_current_default(world):
    # given a platform default raised to 700 per minute
    PlatformSettingsRow = platform_settings()
    PlatformSettingsRow.default_instance_limit = 700
    PlatformSettingsRow.save()
    # then 600 is not an increase
    with pytest.raises(ValidationError, match="default of 700"):
        submit(world, requested_limit=600)


def test_an_account_scope_needs_an_installation_or_early_access(world):
    # given an account that has neither turned the app on nor has early access
    elsewhere = AccountFactory(code="elsewhere")
    with pytest.raises(ValidationError) as refused:
        submit(world, account=elsewhere)
    assert "neither turned this app on nor has early access" in refused.value.message_dict["account"][0]
    # when it gets early access, the same request is accepted
    EarlyAccess.objects.create(app=world["app"], account=elsewhere)
    assert submit(world, account=elsewhere).account == elsewhere
    # and an account with an installation is accepted too
    assert submit(world, account=world["first"].account).account == world["first"].account


def test_only_one_pending_request_per_scope(world):
    submit(world)
    with pytest.raises(ValidationError, match="already waiting"):
        submit(world, requested_limit=900)
    # another scope is fine
    submit(world, account=world["first"].account)
    with pytest.raises(ValidationError, match="already waiting"):
        submit(world, account=world["first"].account)
    assert RateLimitIncreaseRequest.objects.filter(status=Status.PENDING).count() == 2


def test_a_suspended_app_cannot_ask(world):
    world["app"].suspended_at = timezone.now()
    world["app"].save()
    with pytest.raises(ValidationError, match="suspended"):
        submit(world)


# --- Withdraw --------------------------------------------------------------------------------------

def test_the_developer_withdraws_a_pending_request_and_may_ask_again(world):
    request = submit(world)
    limits.limit_request_withdraw(limit_request=request, actor=world["developer"])
    request.refresh_from_db()
    assert request.status == Status.WITHDRAWN and request.decided_at
    assert AuditEvent.objects.filter(verb="limit_request.withdrawn").count() == 1
    assert submit(world).status == Status.PENDING
    with pytest.raises(ValidationError, match="already withdrawn"):
        limits.limit_request_withdraw(limit_request=request, actor=world["developer"])


def test_another_developer_cannot_withdraw(world):
    request = submit(world)
    with pytest.raises(PermissionDenied):
        limits.limit_request_withdraw(limit_request=request, actor=DeveloperFactory().user)
    request.refresh_from_db()
    assert request.status == Status.PENDING


# --- Approve and reject ----------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["developer", "staff", "plain"])
def test_only_reviewers_decide(world, who):
    request = submit(world)
    actor = {"developer": world["developer"], "staff": UserFactory(is_staff=True), "plain": UserFactory()}[who]
    with pytest.raises(PermissionDenied):
        limits.limit_request_approve(limit_request=request, actor=actor, granted_limit=600)
    with pytest.raises(PermissionDenied):
        limits.limit_request_reject(limit_request=request, actor=actor, note="no")
    request.refresh_from_db()
    assert request.status == Status.PENDING
    assert limit_of(world["first"]) == 200


def test_approval_raises_the_limit_at_once_and_tells_the_developer(
    world, django_capture_on_commit_callbacks, mailoutbox,
):
    # given a pending request and installations at the default
    request = submit(world)
    assert limit_of(world["first"]) == 200
    # when a reviewer grants 500 per minute until next week
    until = timezone.now() + timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        approve(world, request, granted_limit=500, granted_until=until, note="Enjoy.")
    # then every installation of the app gets it on its next call
    assert limit_of(world["first"]) == 500 and limit_of(world["second"]) == 500
    request.refresh_from_db()
    assert (request.status, request.granted_limit, request.reviewer) == (Status.APPROVED, 500, world["reviewer"])
    event = AuditEvent.objects.get(verb="limit_request.approved")
    assert event.actor == world["reviewer"] and event.data["granted_limit"] == 500 and event.data["note"] == "Enjoy."
    notification = Notification.objects.get(user=world["developer"])
    assert "500 calls per minute" in notification.subject
    assert notification.link == reverse("portal:app_limits", args=[world["app"].pk])
    assert len(mailoutbox) == 1


def test_an_ended_grant_falls_back_to_the_default_by_itself(world):
    request = submit(world)
    approve(world, request, granted_until=timezone.now() + timedelta(hours=1))
    assert limit_of(world["first"]) == 600
    # an hour and a minute later nothing has to run: the grant no longer counts
    later = timezone.now() + timedelta(hours=1, minutes=1)
    assert limit_of(world["first"], now=later) == 200
    assert limits.current_limits_of(app=world["app"], now=later).of(world["first"]).is_default


def test_an_account_scoped_grant_only_raises_that_account(world):
    request = submit(world, account=world["first"].account)
    approve(world, request, granted_limit=800)
    assert limit_of(world["first"]) == 800
    assert limit_of(world["second"]) == 200
    # and another app's installation in the same account is untouched
    other = Installation.objects.create(app=AppFactory(), account=world["first"].account)
    assert limit_of(other) == 200


def test_the_highest_active_grant_wins(world):
    approve(world, submit(world), granted_limit=400)
    approve(world, submit(world, account=world["first"].account), granted_limit=900,
            granted_until=timezone.now() + timedelta(days=1))
    assert limit_of(world["first"]) == 900
    assert limit_of(world["second"]) == 400
    shown = limits.current_limits_of(app=world["app"])
    assert shown.of(world["first"]).per_minute == 900 and shown.of(world["second"]).per_minute == 400
    assert [grant.granted_limit for grant in shown.grants] == [900, 400]


@pytest.mark.parametrize("changes,field", [
    ({"granted_limit": 0}, "granted_limit"),
    ({"granted_limit": 200}, "granted_limit"),
    ({"granted_until": timezone.now() - timedelta(minutes=1)}, "granted_until"),
])
def test_approval_refuses_a_grant_that_changes_nothing(world, changes, field):
    request = submit(world)
    with pytest.raises(ValidationError) as refused:
        approve(world, request, **changes)
    assert field in refused.value.message_dict
    request.refresh_from_db()
    assert request.status == Status.PENDING


def test_rejection_needs_a_note_and_tells_the_developer(world):
    request = submit(world)
    with pytest.raises(ValidationError, match="Say why"):
        limits.limit_request_reject(limit_request=request, actor=world["reviewer"], note="  ")
    limits.limit_request_reject(limit_request=request, actor=world["reviewer"], note="Use webhooks instead of polling.")
    request.refresh_from_db()
    assert request.status == Status.REJECTED and request.decision_note == "Use webhooks instead of polling."
    assert Notification.objects.get(user=world["developer"]).body == "Use webhooks instead of polling."
    assert AuditEvent.objects.filter(verb="limit_request.rejected").count() == 1
    assert limit_of(world["first"]) == 200


def test_a_decided_request_cannot_be_decided_again(world):
    request = submit(world)
    approve(world, request)
    with pytest.raises(ValidationError, match="already approved"):
        limits.limit_request_reject(limit_request=request, actor=world["reviewer"], note="changed my mind")
    with pytest.raises(ValidationError, match="already approved"):
        approve(world, request, granted_limit=1000)


def test_a_reviewer_ends_a_grant_early(world):
    request = submit(world)
    approve(world, request)
    with pytest.raises(PermissionDenied):
        limits.limit_grant_end(limit_request=request, actor=world["developer"])
    limits.limit_grant_end(limit_request=request, actor=world["reviewer"], note="Abuse")
    assert limit_of(world["first"]) == 200
    assert AuditEvent.objects.filter(verb="limit_grant.ended").count() == 1
    with pytest.raises(ValidationError, match="not active"):
        limits.limit_grant_end(limit_request=request, actor=world["reviewer"])


def test_grants_scale_to_the_platform_window(world):
    # given a platform window of 10 seconds (default 200 per 10 s = 1200 per minute)
    row = platform_settings()
    row.limit_period_seconds = 10
    row.save()
    request = submit(world, requested_limit=3000)
    approve(world, request, granted_limit=3000)
    # then 3000 per minute is 500 per 10-second window
    assert limits.installation_limit(installation=world["first"]) == (500, 10)


def test_current_limits_cost_the_same_for_many_installations(world):
    approve(world, submit(world))

    def count(installations):
        with CaptureQueriesContext(connection) as queries:
            limits.current_limits_of(app=world["app"], installations=installations)
        return len(queries)

    few = count(list(Installation.objects.all()))
    for _ in range(10):
        Installation.objects.create(app=world["app"], account=AccountFactory())
    assert count(list(Installation.objects.all())) == few


# --- Pages -----------------------------------------------------------------------------------------

def test_developer_limits_page_submits_a_request(client, world):
    client.force_login(world["developer"])
    url = reverse("portal:app_limits", args=[world["app"].pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "200 calls per minute" in html and "Only outerheaven" in html
    response = client.post(url, {**REQUEST, "scope": "outerheaven", "requested_until": ""}, follow=True)
    assert "is with the reviewers" in response.content.decode()
    created = RateLimitIncreaseRequest.objects.get()
    assert created.account.code == "outerheaven"


def test_developer_limits_page_shows_service_refusals_on_the_form(client, world):
    client.force_login(world["developer"])
    url = reverse("portal:app_limits", args=[world["app"].pk])
    response = client.post(url, {**REQUEST, "scope": "", "requested_limit": 100})
    assert response.status_code == 200
    assert "more than the default of 200" in response.content.decode()
    assert response.context["form"].errors["requested_limit"]
    assert not RateLimitIncreaseRequest.objects.exists()


def test_developer_withdraws_from_the_page(client, world):
    request = submit(world)
    client.force_login(world["developer"])
    client.post(reverse("portal:limit_request_withdraw", args=[world["app"].pk, request.pk]))
    request.refresh_from_db()
    assert request.status == Status.WITHDRAWN


def test_another_developers_limits_page_is_a_404(client, world):
    client.force_login(DeveloperFactory().user)
    assert client.get(reverse("portal:app_limits", args=[world["app"].pk])).status_code == 404
    assert client.post(reverse("portal:app_limits", args=[world["app"].pk]), REQUEST).status_code == 404


def test_reviewer_pages_are_for_reviewers_only(client, world):
    request = submit(world)
    client.force_login(world["developer"])
    assert client.get(reverse("portal:review_limits")).status_code == 403
    assert client.get(reverse("portal:review_limit_request", args=[request.pk])).status_code == 403
    response = client.post(reverse("portal:review_limit_request", args=[request.pk]),
                           {"decision": "approve", "approve-granted_limit": 5000})
    assert response.status_code == 403
    request.refresh_from_db()
    assert request.status == Status.PENDING


def test_reviewer_queue_and_review_page_show_the_request_and_usage(client, world):
    request = submit(world, account=world["first"].account)
    now = timezone.now().replace(second=0, microsecond=0)
    UsageMinute.objects.create(installation=world["first"], minute=now - timedelta(minutes=30), calls=180, throttled=12)
    client.force_login(world["reviewer"])
    queue = client.get(reverse("portal:review_limits"))
    assert queue.context["queue"] == [request]
    assert "Limit requests" in queue.content.decode()
    page = client.get(reverse("portal:review_limit_request", args=[request.pk]))
    html = page.content.decode()
    assert "Sends every new order" in html and "30,000" in html
    assert "<svg" in html and "limit 200/min" in html and "asked 600/min" in html
    assert "12 calls throttled" in html
    assert page.context["approve_form"].initial["granted_limit"] == 600


def test_reviewer_approves_from_the_page(client, world):
    request = submit(world)
    client.force_login(world["reviewer"])
    response = client.post(reverse("portal:review_limit_request", args=[request.pk]), {
        "decision": "approve", "approve-granted_limit": "750", "approve-granted_until": "", "approve-note": "",
    })
    assert response.status_code == 302
    assert limit_of(world["second"]) == 750


def test_reviewer_reject_without_a_note_shows_the_error(client, world):
    request = submit(world)
    client.force_login(world["reviewer"])
    response = client.post(reverse("portal:review_limit_request", args=[request.pk]),
                           {"decision": "reject", "reject-note": ""})
    assert response.status_code == 200
    assert response.context["reject_form"].errors["note"]
    request.refresh_from_db()
    assert request.status == Status.PENDING


def test_reviewer_ends_a_grant_from_the_page(client, world):
    request = submit(world)
    approve(world, request)
    client.force_login(world["reviewer"])
    client.post(reverse("portal:review_limit_end", args=[request.pk]), {"note": ""})
    assert limit_of(world["first"]) == 200
