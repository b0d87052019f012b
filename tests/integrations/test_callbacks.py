"""Install and uninstall callbacks against a real HTTP server on 127.0.0.1: the signed query, retries of
failures by the delivery dispatcher, the attempt log, redelivery, and nothing sent without a URL."""

import hashlib
import hmac
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import PermissionDenied
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from integrations import callbacks, deliveries, tasks
from integrations.models import CallbackAttempt, CallbackDelivery
from portal import installations
from portal.credentials import callback_signing_key
from portal.models import App, EarlyAccess, Installation
from tests.factories import AppFactory, DeveloperFactory, MembershipFactory

pytestmark = pytest.mark.django_db
SECRET = "the-client-secret-the-developer-was-shown"


class AppServer:
    """A tiny app backend: records each request and answers with the next planned status."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self.body = b"ok, installed"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                server.requests.append({"path": parts.path, "query": parse_qs(parts.query), "at": time.time(),
                                        "headers": dict(self.headers)})
                time.sleep(server.delay)
                status = server.statuses.pop(0) if server.statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(settings):
    # The app server listens on loopback, which production refuses (see the last tests).
    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": True}
    app_server = AppServer()
    yield app_server
    app_server.close()


@pytest.fixture
def installation(server):
    app = AppFactory(
        client_id="stock-sync", install_callback_url=f"{server.url}/installed?region=eu",
        uninstall_callback_url=f"{server.url}/uninstalled", callback_signing_key=callback_signing_key(SECRET),
    )
    membership = MembershipFactory(account__code="outerheaven")
    EarlyAccess.objects.create(app=app, account=membership.account)
    installation = Installation.objects.create(app=app, account=membership.account, installed_by=membership.user)
    installation.owner = membership.user
    return installation


def expected_signature(account_code, app_ref, timestamp) -> str:
    """What an app computes, from its client secret alone (as docs/guide.md documents)."""
    key = hashlib.sha256(f"callback-signing:{SECRET}".encode()).hexdigest()
    message = f"accountCode={account_code}&appRef={app_ref}&timestamp={timestamp}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def owe_callback(installation, kind="install") -> CallbackDelivery | None:
    """The callback owed for a turn of the installation, tried at once after commit (as the listener does)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        delivery = callbacks.callback_schedule(installation=installation, kind=kind)
    if delivery is not None:
        delivery.refresh_from_db()
    return delivery


def run_dispatcher(times: int) -> None:
    """The delivery dispatcher on beat, ``times`` passes, each pending retry made due at once (instead of
    after its backoff)."""
    for _ in range(times):
        CallbackDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
        tasks.deliver_due.delay()


def test_install_callback_is_a_signed_get_and_is_logged(server, installation):
    # when the install callback is owed
    delivery = owe_callback(installation)
    # then it was delivered at once
    assert delivery.status == "delivered" and delivery.delivered_at is not None
    # and the app's server got one GET with the signed query (its own query kept)
    (request,) = server.requests
    query = {key: values[0] for key, values in request["query"].items()}
    assert request["path"] == "/installed"
    assert query["region"] == "eu"
    assert query["accountCode"] == "outerheaven" and query["appRef"] == "stock-sync"
    assert abs(int(query["timestamp"]) - time.time()) < 10
    assert query["signature"] == expected_signature("outerheaven", "stock-sync", query["timestamp"])
    # and the attempt is in the log
    attempt = CallbackAttempt.objects.get()
    assert (attempt.delivery.kind, attempt.number, attempt.status_code, attempt.error) == ("install", 1, 200, "")
    assert attempt.response_body == "ok, installed"
    assert attempt.url.startswith(f"{server.url}/installed?")


def test_a_failing_app_is_retried_and_every_attempt_logged(server, installation):
    # given an app that fails twice, then answers
    server.statuses = [500, 503]
    # when the callback is owed and the dispatcher retries it (twice, each retry due at once)
    delivery = owe_callback(installation)
    assert delivery.status == "pending" and delivery.next_attempt_at > timezone.now()
    run_dispatcher(2)
    # then three calls were made, each freshly signed, and logged in order
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert len(server.requests) == 3
    attempts = list(CallbackAttempt.objects.order_by("id"))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
    assert attempts[0].error == "HTTP 500 Internal Server Error"
    for request in server.requests:
        query = {key: values[0] for key, values in request["query"].items()}
        assert query["signature"] == expected_signature("outerheaven", "stock-sync", query["timestamp"])


def test_retries_stop_after_five_with_growing_short_delays(server, installation, monkeypatch):
    server.statuses = [500] * 10
    delivery = owe_callback(installation)
    run_dispatcher(8)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_status_code == 500
    assert len(server.requests) == 6  # the first call and five retries
    assert list(CallbackAttempt.objects.order_by("id").values_list("number", flat=True)) == [1, 2, 3, 4, 5, 6]
    # the waits double from 30 s, each jittered to between half and all of it
    cfg = callbacks.CALLBACKS.settings()
    monkeypatch.setattr(deliveries.random, "uniform", lambda low, high: (low, high))
    assert [deliveries.retry_delay(n, cfg) for n in range(1, 6)] == [
        (15, 30), (30, 60), (60, 120), (120, 240), (240, 480)]


def test_a_failure_is_retried_later_by_the_dispatcher(server, installation):
    # given a callback that failed twice, due for its third attempt, and an app that fails again
    delivery = CallbackDelivery.objects.create(installation=installation, kind="install", url=server.url,
                                               attempts=2)
    server.statuses = [500]
    # when the dispatcher makes the attempt
    tasks.deliver_due.delay()
    # then it is logged as the third, and the next one waits between 1 and 2 minutes (no countdown task)
    delivery.refresh_from_db()
    assert CallbackAttempt.objects.get().number == 3
    assert delivery.status == "pending" and delivery.attempts == 3
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 55 < wait <= 120
    # and a pass before then sends nothing
    tasks.deliver_due.delay()
    assert len(server.requests) == 1


def test_a_timeout_is_logged_as_such(server, installation, settings):
    settings.PORTAL = {**settings.PORTAL, "DELIVERIES": {"callback": {"TIMEOUT_SECONDS": 0.2}}}
    server.delay = 3  # far beyond the timeout, so a busy machine cannot see the answer in time
    delivery = callbacks.callback_schedule(installation=installation, kind="install")
    attempt = deliveries.attempt(delivery)
    assert attempt.status_code is None and attempt.error == "No response within 0.2 seconds."
    assert not attempt.delivered and delivery.status == "pending"


def test_no_callback_url_means_nothing_is_sent(server, installation):
    App.objects.filter(pk=installation.app_id).update(install_callback_url="")
    installation.app.refresh_from_db()
    assert owe_callback(installation) is None
    assert server.requests == [] and not CallbackDelivery.objects.exists() and not CallbackAttempt.objects.exists()


def test_turning_on_and_off_calls_the_callbacks_after_commit(server, installation, django_capture_on_commit_callbacks):
    # given an installation that is off
    owner = installation.owner
    with django_capture_on_commit_callbacks(execute=True):
        installations.installation_turn_off(installation=installation, actor=owner)
    assert [r["path"] for r in server.requests] == ["/uninstalled"]
    # when the owner turns it on again
    with django_capture_on_commit_callbacks(execute=True):
        installations.installation_turn_on(app=installation.app, account=installation.account, actor=owner)
    assert [r["path"] for r in server.requests] == ["/uninstalled", "/installed"]
    assert list(CallbackAttempt.objects.order_by("id").values_list("delivery__kind", flat=True)) == [
        "uninstall", "install"]


def test_turning_on_an_app_without_callback_urls_schedules_nothing(server, django_capture_on_commit_callbacks):
    app = AppFactory()
    membership = MembershipFactory()
    EarlyAccess.objects.create(app=app, account=membership.account)
    with django_capture_on_commit_callbacks(execute=False) as scheduled:
        installations.installation_turn_on(app=app, account=membership.account, actor=membership.user)
    assert scheduled == []
    assert server.requests == [] and not CallbackDelivery.objects.exists()


def test_a_retry_for_a_state_that_changed_is_dropped(server, installation):
    # an install callback still retrying after the app was turned off again would tell a lie
    delivery = CallbackDelivery.objects.create(installation=installation, kind="install", url=server.url, attempts=1)
    Installation.objects.filter(pk=installation.pk).update(is_enabled=False)
    tasks.deliver_due.delay()
    delivery.refresh_from_db()
    assert delivery.status == "cancelled" and "turned on or off again" in delivery.last_error
    assert server.requests == []


def test_a_public_app_gets_no_signature(server, installation):
    App.objects.filter(pk=installation.app_id).update(callback_signing_key="", client_type=App.CLIENT_PUBLIC)
    installation.app.refresh_from_db()
    owe_callback(installation)
    assert "signature" not in server.requests[0]["query"]
    assert server.requests[0]["query"]["accountCode"] == ["outerheaven"]


def test_private_addresses_are_refused_unless_allowed(server, installation, settings):
    # given a production-like portal, where callbacks must not reach the portal's own network
    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": False}
    delivery = owe_callback(installation)
    assert server.requests == []
    attempt = CallbackAttempt.objects.get()
    assert attempt.error.startswith("Not sent:") and "127.0.0.1 is a loopback address" in attempt.error
    # and the delivery fails at once: what would be refused again is not retried
    assert delivery.status == "failed" and delivery.last_error == attempt.error
    run_dispatcher(2)
    assert CallbackAttempt.objects.count() == 1


def test_the_response_excerpt_is_capped(server, installation):
    server.body = b"x" * 5000
    attempt = deliveries.attempt(callbacks.callback_schedule(installation=installation, kind="install"))
    assert len(attempt.response_body) == 500


def test_a_gone_installation_is_skipped(server, installation):
    delivery = callbacks.callback_schedule(installation=installation, kind="install")
    installation.delete()
    assert tasks.deliver.delay("callback", delivery.pk).get() == "gone"
    assert server.requests == []


def test_the_developer_sees_the_log_on_the_app_page(client, server, installation):
    server.statuses = [500]
    owe_callback(installation)
    run_dispatcher(1)
    client.force_login(installation.app.user)
    html = client.get(reverse("portal:app_detail", args=[installation.app_id])).content.decode()
    assert "HTTP 500 Internal Server Error" in html and "try 2" in html and "ok, installed" in html


def test_another_developer_does_not_see_the_log(client, server, installation):
    owe_callback(installation)
    client.force_login(DeveloperFactory().user)
    assert client.get(reverse("portal:app_detail", args=[installation.app_id])).status_code == 404


def test_the_developer_can_have_a_callback_sent_again(server, installation):
    # given a callback that failed for good
    server.statuses = [500] * 6
    delivery = owe_callback(installation)
    run_dispatcher(6)
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    # when its developer redelivers it (someone else may not)
    with pytest.raises(PermissionDenied):
        callbacks.callback_redeliver(delivery=delivery, actor=DeveloperFactory().user)
    callbacks.callback_redeliver(delivery=delivery, actor=installation.app.user)
    tasks.deliver_due.delay()
    # then it went out once more, newly signed, with a fresh set of attempts, and the audit log says who asked
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 7 and len(server.requests) == 7
    event = AuditEvent.objects.get(verb="integrations.callback_redelivery")
    assert event.actor == installation.app.user and event.data == {"delivery": delivery.pk}


def test_a_delivery_another_worker_has_taken_is_not_sent_twice(server, installation):
    # given two workers that read the same due callback
    delivery = callbacks.callback_schedule(installation=installation, kind="install")
    other_copy = CallbackDelivery.objects.get(pk=delivery.pk)
    # when the first makes its attempt and the second tries too
    assert deliveries.attempt(delivery) is not None
    # then the second finds it no longer due: one request, one logged attempt
    assert deliveries.attempt(other_copy) is None
    assert len(server.requests) == 1 and CallbackAttempt.objects.count() == 1
