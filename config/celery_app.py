"""The one Celery app of the project (project wiring)."""

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _redact_worker_logs(logger=None, **kwargs):
    """Celery replaces the root logger's handlers with its own: give them the secrets filter too."""
    from config.redaction import add_filter_to_handlers

    if logger is not None:
        add_filter_to_handlers(logger)


@setup_logging.connect
def _log_through_django_settings(loglevel=None, **kwargs):
    """Worker and beat log through settings.LOGGING, like the web server: LOG_FORMAT, the request or task
    context and the quiet beat ticks apply to them too (Celery would otherwise install its own handlers).
    ``--loglevel`` still sets the level."""
    import logging
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
