from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Sync engine"

    def ready(self):
        # Celery tasks registered in every process (web too), so that eager mode runs them in place; and the
        # listeners that let the portal tell the sync engine about installations and apps without knowing it.
        from sync import listeners, tasks  # noqa: F401

        listeners.register()

        from sync import audit_phrases

        audit_phrases.register()
