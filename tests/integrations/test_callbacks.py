"""Install and uninstall callbacks against a real HTTP server on 127.0.0.1: the signed query, retries of
failures, the attempt log, and nothing sent without a URL."""

import hashlib
import hmac
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from integrations import callbacks, tasks
from portal import installations
from portal.credentials import callback_signing_key
from portal.models import App, CallbackAttempt, EarlyAccess, Installation
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
    """What an app computes, from its client secret alone (as the README documents)."""
    key = hashlib.sha256(f"callback-signing:{SECRET}".encode()).hexdigest()
    message = f"accountCode={account_code}&appRef={app_ref}&timestamp={timestamp}"
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_install_callback_is_a_signed_get_and_is_logged(server, installation):
    # when the install callback task runs
    assert tasks.send_callback.delay(installation.pk, "install").get() == "delivered"
    # then the app's server got one GET with the signed query (its own query kept)
    (request,) = server.requests
    query = {key: values[0] for key, values in request["query"].items()}
    assert request["path"] == "/installed"
    assert query["region"] == "eu"
    assert query["accountCode"] == "outerheaven" and query["appRef"] == "stock-sync"
    assert abs(int(query["timestamp"]) - time.time()) < 10
    assert query["signature"] == expected_signature("outerheaven", "stock-sync", query["timestamp"])
    # and the attempt is in the log
    attempt = CallbackAttempt.objects.get()
    assert (attempt.kind, attempt.attempt, attempt.status_code, attempt.error) == ("install", 1, 200, "")
    assert attempt.response_excerpt == "ok, installed"
    assert attempt.url.startswith(f"{server.url}/installed?")


def test_a_failing_app_is_retried_and_every_attempt_logged(server, installation):
    # given an app that fails twice, then answers
    server.statuses = [500, 503]
    # when the task runs (eagerly: retries run at once instead of after 30 s and 60 s)
    assert tasks.send_callback.delay(installation.pk, "install").get() == "delivered"
    # then three calls were made, each freshly signed, and logged in order
    assert len(server.requests) == 3
    attempts = list(CallbackAttempt.objects.order_by("id"))
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
    assert attempts[0].error == "HTTP 500 Internal Server Error"
    for request in server.requests:
        query = {key: values[0] for key, values in request["query"].items()}
        assert query["signature"] == expected_signature("outerheaven", "stock-sync", query["timestamp"])


def test_retries_stop_after_five_with_growing_short_delays(server, installation):
    server.statuses = [500] * 10
    assert tasks.send_callback.delay(installation.pk, "install").get() == "failed"
    assert len(server.requests) == 6  # the first call and five retries
    assert list(CallbackAttempt.objects.order_by("id").values_list("attempt", flat=True)) == [1, 2, 3, 4, 5, 6]
    assert [tasks.callback_retry_delay(n) for n in range(5)] == [30, 60, 120, 240, 480]


def test_on_a_worker_a_failure_is_retried_later_with_a_countdown(server, installation, monkeypatch):
    # given a failure on a worker (not eager), on the task's third attempt
    server.statuses = [500]
    scheduled = {}

    def fake_retry(**kwargs):
        scheduled.update(kwargs)
        return RuntimeError("retry scheduled")

    monkeypatch.setattr(tasks.send_callback, "retry", fake_retry)
    tasks.send_callback.push_request(retries=2, is_eager=False)
    try:
        with pytest.raises(RuntimeError, match="retry scheduled"):
            tasks.send_callback.run(installation.pk, "install")
    finally:
        tasks.send_callback.pop_request()
    # then it asked Celery for a retry in 2 minutes, and logged the attempt as the third
    assert scheduled == {"countdown": 120}
    assert CallbackAttempt.objects.get().attempt == 3


def test_a_timeout_is_logged_as_such(server, installation, monkeypatch):
    monkeypatch.setattr(callbacks, "TIMEOUT_SECONDS", 0.2)
    server.delay = 3  # far beyond the timeout, so a busy machine cannot see the answer in time
    attempt = callbacks.callback_send(installation=installation, kind="install", attempt=1)
    assert attempt.status_code is None and attempt.error == "No response within 0.2 seconds."
    assert not callbacks.callback_succeeded(attempt)


def test_no_callback_url_means_nothing_is_sent(server, installation):
    App.objects.filter(pk=installation.app_id).update(install_callback_url="")
    assert tasks.send_callback.delay(installation.pk, "install").get() == "no url"
    assert server.requests == [] and not CallbackAttempt.objects.exists()


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
    assert list(CallbackAttempt.objects.order_by("id").values_list("kind", flat=True)) == ["uninstall", "install"]


def test_turning_on_an_app_without_callback_urls_schedules_nothing(server, django_capture_on_commit_callbacks):
    app = AppFactory()
    membership = MembershipFactory()
    EarlyAccess.objects.create(app=app, account=membership.account)
    with django_capture_on_commit_callbacks(execute=False) as scheduled:
        installations.installation_turn_on(app=app, account=membership.account, actor=membership.user)
    assert scheduled == []
    assert server.requests == []


def test_a_retry_for_a_state_that_changed_is_dropped(server, installation):
    # an install callback still retrying after the app was turned off again would tell a lie
    Installation.objects.filter(pk=installation.pk).update(is_enabled=False)
    assert tasks.send_callback.apply(args=(installation.pk, "install"), retries=1).get() == "stale"
    assert server.requests == []


def test_a_public_app_gets_no_signature(server, installation):
    App.objects.filter(pk=installation.app_id).update(callback_signing_key="", client_type=App.CLIENT_PUBLIC)
    tasks.send_callback.delay(installation.pk, "install")
    assert "signature" not in server.requests[0]["query"]
    assert server.requests[0]["query"]["accountCode"] == ["outerheaven"]


def test_private_addresses_are_refused_unless_allowed(server, installation, settings):
    # given a production-like portal, where callbacks must not reach the portal's own network
    settings.PORTAL = {**settings.PORTAL, "EGRESS_ALLOW_PRIVATE": False}
    attempt = callbacks.callback_send(installation=installation, kind="install", attempt=1)
    assert server.requests == []
    assert attempt.error.startswith("Not sent:") and "127.0.0.1 is a loopback address" in attempt.error
    # and the task does not retry what would be refused again
    assert tasks.send_callback.delay(installation.pk, "install").get() == "refused"
    assert CallbackAttempt.objects.count() == 2


def test_the_response_excerpt_is_capped(server, installation):
    server.body = b"x" * 5000
    attempt = callbacks.callback_send(installation=installation, kind="install", attempt=1)
    assert len(attempt.response_excerpt) == 500


def test_a_gone_installation_is_skipped(server):
    assert tasks.send_callback.delay(999999, "install").get() == "gone"
    assert server.requests == []


def test_the_developer_sees_the_log_on_the_app_page(client, server, installation):
    server.statuses = [500]
    tasks.send_callback.delay(installation.pk, "install")
    client.force_login(installation.app.user)
    html = client.get(reverse("portal:app_detail", args=[installation.app_id])).content.decode()
    assert "HTTP 500 Internal Server Error" in html and "try 2" in html and "ok, installed" in html


def test_another_developer_does_not_see_the_log(client, server, installation):
    tasks.send_callback.delay(installation.pk, "install")
    client.force_login(DeveloperFactory().user)
    assert client.get(reverse("portal:app_detail", args=[installation.app_id])).status_code == 404
