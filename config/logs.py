"""Logging of every process (web, Celery worker and beat), selected in settings.LOGGING.

- :class:`RequestContext` (a filter) adds to each record who it is about, where known: the request id, the
  account code, the app reference and the signed-in user of the request being served (set by
  config.request_context.RequestContextMiddleware), or the Celery task being run.
- :class:`JsonFormatter` writes one JSON object a line (``LOG_FORMAT=json``).
- :class:`QuietTicks` (a filter on Celery's loggers) lowers Celery's INFO lines about the beat's tick tasks
  ("Sending due task", "Task … received", "Task … succeeded") to DEBUG, so that a worker's log shows the
  work done rather than a line or three every second. The tick tasks log their own INFO line when they did
  something.
"""

import json
import logging
import re
from contextvars import ContextVar
from datetime import datetime, timezone

from django.utils.functional import empty

# The request being served by this thread or task, if any (set and reset by the middleware).
current_request: ContextVar = ContextVar("portal_current_request", default=None)

CONTEXT_FIELDS = ("request_id", "account", "app", "user", "task", "task_id")
APP_REF_HEADER = "HTTP_BRIGHTPEARL_APP_REF"
_SAFE = re.compile(r"[^A-Za-z0-9._:@+-]")


def _clean(value, limit: int = 100) -> str:
    """A value from a request (headers, URL) made safe to log: short, no control or odd characters."""
    return _SAFE.sub("?", str(value))[:limit]


def request_context(request) -> dict:
    """What is known about a request without doing any work: nothing here queries the database or reads
    the body (the user only if authentication already ran, the client id only if the form was parsed)."""
    context = {"request_id": getattr(request, "request_id", None)}
    match = getattr(request, "resolver_match", None)
    if match is not None and match.kwargs.get("account_code"):
        context["account"] = _clean(match.kwargs["account_code"])
    app = request.META.get(APP_REF_HEADER, "")
    if not app:
        form = request.__dict__.get("_post")
        app = form.get("client_id", "") if form is not None else ""
    if app:
        context["app"] = _clean(app)
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is not None and wrapped is not empty and getattr(wrapped, "is_authenticated", False):
        context["user"] = wrapped.pk
    return context


def _task_context() -> dict:
    from celery._state import get_current_task

    task = get_current_task()
    if task is None or task.request.id is None:
        return {}
    return {"task": task.name, "task_id": task.request.id}


class RequestContext(logging.Filter):
    """Adds request_id, account, app, user (web) or task, task_id (Celery) to records, where known."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get()
        context = request_context(request) if request is not None else _task_context()
        for name, value in context.items():
            if value is not None and not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the context fields that are
    known, and the exception's traceback as ``exc_info`` text."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class QuietTicks(logging.Filter):
    """Celery's INFO lines about ``tasks`` become DEBUG lines (dropped unless the logger shows DEBUG).
    Warnings and errors about them (a failed or retried tick) are left as they are."""

    def __init__(self, tasks=(), name: str = ""):
        super().__init__(name)
        self.tasks = frozenset(tasks)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or self._task_of(record) not in self.tasks:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    @staticmethod
    def _task_of(record: logging.LogRecord) -> str | None:
        data = getattr(record, "data", None)  # celery.app.trace and celery.worker.strategy pass the context
        if isinstance(data, dict):
            return data.get("name")
        if isinstance(record.args, dict):
            return record.args.get("name")
        if isinstance(record.args, tuple) and len(record.args) == 2:  # celery.beat: (entry name, task name)
            return record.args[1]
        return None
