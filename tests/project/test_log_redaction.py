"""Logs never carry codes, tokens or secrets: Django's and Celery's handlers filter every line, and
gunicorn's access log (as docker/start-web.sh runs it) keeps query strings and referers out."""

import datetime
import io
import logging
import logging.config
import re

import pytest
from django.conf import settings
from gunicorn.config import Config

from config.redaction import RedactSecretsFilter, redact
from tests.project.test_docker import _script_commands, _start_script

SECRETS = ["4/0AbCdEfGh-ijkl", "s3cr3t-state-xyz", "tok_live_0123456789", "rt-abcdefabcdef", "cs-9f8e7d6c5b4a"]
CALLBACK = (f"/oauth/callback?code={SECRETS[0]}&state={SECRETS[1]}&other=kept")
TOKEN_FORM = (f"grant_type=refresh_token&refresh_token={SECRETS[3]}&client_secret={SECRETS[4]}"
              f"&access_token={SECRETS[2]}&token={SECRETS[2]}")


@pytest.mark.parametrize("text", [
    f"GET {CALLBACK} HTTP/1.1",
    TOKEN_FORM,
    f'{{"access_token": "{SECRETS[2]}", "refresh_token": "{SECRETS[3]}", "token_type": "Bearer"}}',
    f"Authorization: Bearer {SECRETS[2]}",
    "brightpearl-staff-token: pst_AbCdEfGhIjKlMnOpQrStUv",
])
def test_redact_removes_every_secret_and_keeps_the_rest(text):
    redacted = redact(text)

    assert not any(secret in redacted for secret in SECRETS)
    assert "pst_AbCdEfGh" not in redacted
    assert "[redacted]" in redacted
    if "other=kept" in text:
        assert "other=kept" in redacted and "/oauth/callback?" in redacted
    if "grant_type" in text:
        assert "grant_type=refresh_token" in redacted


def test_django_log_handlers_redact_messages_and_their_arguments():
    # given the project's LOGGING, with its console handler writing to a buffer
    stream = io.StringIO()
    config = {**settings.LOGGING, "handlers": {"console": {**settings.LOGGING["handlers"]["console"],
                                                           "stream": stream}}}
    logging.config.dictConfig(config)
    try:
        # when our code and Django's request log mention a callback URL and a token form
        logging.getLogger("portal.anything").warning("callback failed for %s", CALLBACK)
        logging.getLogger("django.server").info('"GET %s HTTP/1.1" 200 12', CALLBACK)
        logging.getLogger("integrations.sync").error("token refresh failed: %s", TOKEN_FORM)
        try:
            raise ValueError(f"bad body {TOKEN_FORM}")
        except ValueError:
            logging.getLogger("integrations").exception("crash")
    finally:
        logging.config.dictConfig(settings.LOGGING)

    # then no secret reaches the output, and the lines are still there
    output = stream.getvalue()
    assert output.count("[redacted]") >= 8
    assert not any(secret in output for secret in SECRETS)
    assert "callback failed for /oauth/callback?" in output and "ValueError" in output


def test_the_redacting_filter_is_on_every_project_handler():
    handlers = settings.LOGGING["handlers"]
    filters = settings.LOGGING["filters"]
    for handler in handlers.values():
        assert any(filters[name]["()"] == "config.redaction.RedactSecretsFilter" for name in handler["filters"])


def test_gunicorns_access_log_as_start_web_runs_it_has_no_codes_or_tokens():
    # given gunicorn configured with the arguments of docker/start-web.sh
    command = next(c for c in _script_commands(_start_script("web")) if "gunicorn" in c)
    args = command[command.index("gunicorn") + 1:]
    cfg = Config()
    parser = cfg.parser()
    args = [re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", arg) for arg in args]  # ${PORT:-8000} -> 8000
    parsed = parser.parse_args([arg for arg in args if arg != "config.wsgi:application"])
    for name, value in vars(parsed).items():
        if value is not None and name in cfg.settings:
            cfg.set(name, value)
    logger = cfg.logger_class(cfg)
    stream = io.StringIO()
    handler = logger.access_log.handlers[0]
    handler.setStream(stream)

    # when it logs an OAuth callback with a referer carrying a token
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": CALLBACK, "PATH_INFO": "/oauth/callback",
               "QUERY_STRING": CALLBACK.split("?", 1)[1], "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "203.0.113.9",
               "HTTP_REFERER": f"https://app.example.com/done?access_token={SECRETS[2]}",
               "HTTP_USER_AGENT": "test"}

    class Response:
        status, sent, headers = "302 Found", 0, []

    class Request:
        headers = [("REFERER", environ["HTTP_REFERER"]), ("USER-AGENT", "test")]

    logger.access(Response(), Request(), environ, datetime.timedelta(milliseconds=12))

    # then the line is there, without any secret
    line = stream.getvalue()
    assert "/oauth/callback" in line and "302" in line
    assert not any(secret in line for secret in SECRETS)
    assert isinstance(next(iter(logger.error_log.handlers)).filters[0], RedactSecretsFilter)
