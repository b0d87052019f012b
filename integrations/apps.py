from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "OAuth, API and sync"

    def ready(self):
        # Register this app's Celery tasks in every process (web too), so that tasks named by lower
        # layers (portal.installations schedules "integrations.tasks.send_callback") run eagerly when
        # CELERY_TASK_ALWAYS_EAGER is on instead of being sent to the broker.
        from integrations import tasks  # noqa: F401
