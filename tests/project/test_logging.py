"""Logs: LOG_FORMAT=json gives one JSON object a line with the request's context; the beat's tick tasks are
quiet unless they did something, in a real worker process too."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection as db_connection
from django.test import RequestFactory

from config import logs
from integrations.tasks import deliver_due
from sync import dispatcher
from sync.tasks import sync_dispatch
from tests.factories import UserFactory
from tests.integrations.api_support import api_url, fresh_pools, world  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


class Lines(logging.Handler):
    """The records of a logger, formatted by the project's JSON formatter and context filter."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logs.JsonFormatter())
        self.addFilter(logs.RequestContext())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def gateway_lines():
    handler = Lines()
    logger = logging.getLogger("integrations.gateway")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_json_lines_carry_the_request_id_account_and_app(client, world, settings, gateway_lines, monkeypatch):
    # given: the limiter's Redis is down, so the gateway logs an error while serving the call
    from integrations import gateway

    monkeypatch.setattr(gateway, "_last_limiter_error_at", 0.0)
    settings.REDIS_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    # when
    response = client.get(api_url("acme", "product-service/product-search"),
                          **world.issued.headers(**{"X-Request-ID": "trace-0123456789"}))

    # then
    assert response.status_code == 200
    assert response["X-Request-ID"] == "trace-0123456789"
    line = next(line for line in gateway_lines if line["level"] == "ERROR")
    assert line["logger"] == "integrations.gateway"
    assert "rate limiter unreachable" in line["message"]
    assert line["request_id"] == "trace-0123456789"
    assert line["account"] == "acme"
    assert line["app"] == "acme-sync"
    assert line["time"].endswith("+00:00")


@pytest.mark.django_db
def test_a_request_without_a_usable_id_gets_a_new_one(client):
    # when
    first = client.get("/", HTTP_X_REQUEST_ID="bad id with spaces\n")
    second = client.get("/")

    # then
    assert len(first["X-Request-ID"]) == 32 and " " not in first["X-Request-ID"]
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
def test_json_lines_name_the_signed_in_user_but_never_load_one():
    # given
    user = UserFactory()
    signed_in = RequestFactory().get("/home/")
    signed_in.request_id, signed_in.user = "req-signed-in", user
    anonymous = RequestFactory().get("/home/")
    anonymous.request_id = "req-anonymous"
    handler = Lines()
    logger = logging.getLogger("tests.logging")
    logger.addHandler(handler)

    # when
    try:
        for request in (signed_in, anonymous):
            token = logs.current_request.set(request)
            try:
                logger.warning("something about %s", "it")
            finally:
                logs.current_request.reset(token)
    finally:
        logger.removeHandler(handler)

    # then
    assert handler.lines[0]["user"] == user.pk
    assert handler.lines[0]["request_id"] == "req-signed-in"
    assert handler.lines[0]["message"] == "something about it"
    assert "user" not in handler.lines[1]


def test_log_format_json_makes_every_line_a_json_object():
    # given
    code = ("import django; django.setup(); import logging; "
            "logging.getLogger('portal.demo').warning('hello %s', 'world')\n"
            "try:\n    1 / 0\nexcept ZeroDivisionError:\n    logging.getLogger('portal.demo').exception('failed')")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_FORMAT": "json"}

    # when
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)

    # then
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("WARNING", "portal.demo", "hello world"), ("ERROR", "portal.demo", "failed")]
    assert "ZeroDivisionError" in lines[1]["exc_info"]


def test_an_unknown_log_format_is_refused():
    # when
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, capture_output=True,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_FORMAT": "xml"},
                            text=True, timeout=60)

    # then
    assert result.returncode != 0
    assert "LOG_FORMAT must be plain or json" in result.stderr


# --- Quiet beat ticks -----------------------------------------------------------------------------------------

def test_celerys_lines_about_tick_tasks_are_debug_lines(caplog):
    # given
    beat = logging.getLogger("celery.beat")

    # when
    with caplog.at_level(logging.INFO):
        beat.info("Scheduler: Sending due task %s (%s)", "sync-dispatch", "sync.tasks.sync_dispatch")
        beat.info("Scheduler: Sending due task %s (%s)", "nightly-report", "portal.tasks.nightly_report")
    at_info = [record.getMessage() for record in caplog.records]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="celery.beat"):
        beat.info("Scheduler: Sending due task %s (%s)", "deliveries", "integrations.tasks.deliver_due")

    # then
    assert at_info == ["Scheduler: Sending due task nightly-report (portal.tasks.nightly_report)"]
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        ("DEBUG", "Scheduler: Sending due task deliveries (integrations.tasks.deliver_due)")]


@pytest.mark.django_db
def test_tick_tasks_log_nothing_at_info_when_idle_and_one_line_when_they_worked(caplog, monkeypatch):
    # when: nothing to do
    with caplog.at_level(logging.INFO):
        sync_dispatch.apply()
        deliver_due.apply()
    idle = [record.getMessage() for record in caplog.records]
    caplog.clear()
    # and: the dispatcher leases two streams
    monkeypatch.setattr(dispatcher, "dispatch_once", lambda: 2)
    with caplog.at_level(logging.INFO):
        sync_dispatch.apply()

    # then
    assert idle == []
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        ("INFO", "sync dispatch: 2 slices enqueued")]


def _database_url() -> str:
    settings = db_connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def _wait_for(path: Path, text: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        output = path.read_text(errors="replace")
        if text in output:
            return output
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in the worker's output:\n{path.read_text(errors='replace')}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_at_info_shows_real_work_but_not_the_idle_ticks(tmp_path, settings):
    # given: a real worker process at INFO on a queue of its own
    from config.celery_app import app
    from integrations.tasks import send_callback

    queue = f"quiet-ticks-{_closed_port()}"
    output = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "plain",
    }
    with output.open("wb") as sink:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                queue,
                "-P",
                "threads",
                "-c",
                "1",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    app.conf.task_always_eager = False
    try:
        _wait_for(output, "ready.")

        # when: idle ticks, then one task that does something (a callback for an installation that is gone)
        for _ in range(3):
            sync_dispatch.apply_async(queue=queue)
            deliver_due.apply_async(queue=queue)
        send_callback.apply_async(args=(987654321, "install"), queue=queue)
        text = _wait_for(output, "integrations.tasks.send_callback")
        text = _wait_for(output, "succeeded")
    finally:
        app.conf.task_always_eager = True
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)

    # then: after the start banner (which lists every task)
    text = text.split(" ready.", 1)[1]
    assert "Task integrations.tasks.send_callback[" in text and "received" in text
    assert "sync_dispatch" not in text
    assert "deliver_due" not in text
    assert "slices enqueued" not in text
