"""Secrets never reach a log line: OAuth codes and tokens in query strings, tokens in JSON, bearer
credentials.

:func:`redact` rewrites one text; :class:`RedactSecretsFilter` applies it to every record a handler
emits (Django's LOGGING, Celery's handlers and gunicorn's access log use it). The record's message is
formatted first and replaced by the redacted text, so secrets passed as ``%s`` arguments are caught
too.
"""

import logging
import re

# Query or form parameters whose value is a credential (or, for OAuth, binds one: ``state``).
SECRET_PARAMETERS = (
    "code", "token", "access_token", "refresh_token", "id_token", "client_secret", "state", "password",
    "api_key", "key", "secret", "code_verifier", "staff_token",
)
REDACTED = "[redacted]"

_PARAMETER = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(name) for name in SECRET_PARAMETERS) + r")=([^&\s\"'#;,]*)",
    re.IGNORECASE,
)
_JSON_FIELD = re.compile(
    r"""(["'](?:access_token|refresh_token|id_token|client_secret|code|token|password|code_verifier)["']\s*:\s*)"""
    r"""(["'])(?:\\.|(?!\2).)*\2""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_SECRET_TOKEN = re.compile(r"\b(pst|pdk)_[A-Za-z0-9_-]{8,}")  # staff tokens, developer API keys


def redact(text: str) -> str:
    """``text`` with the values of secret parameters, JSON fields and bearer credentials replaced."""
    if not text or ("=" not in text and ":" not in text and "_" not in text and " " not in text):
        return text
    text = _PARAMETER.sub(lambda m: f"{m.group(1)}={REDACTED}" if m.group(2) else m.group(0), text)
    text = _JSON_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}{m.group(2)}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _SECRET_TOKEN.sub(lambda m: f"{m.group(1)}_{REDACTED}", text)


class RedactSecretsFilter(logging.Filter):
    """Redact every record passing through (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def add_filter_to_handlers(logger: logging.Logger) -> None:
    """Put the filter on every handler of ``logger`` (for handlers configured outside LOGGING)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())
