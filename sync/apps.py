from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Sync engine"

    def ready(self):
        # Celery tasks registered in every process (web too), so that eager mode runs them in place; the
        # listeners that let the portal tell the sync engine about installations and apps without knowing it;
        # and webhooks as a kind of delivery for the delivery dispatcher of the integrations.
        from integrations import deliveries
        from sync import listeners, tasks, webhooks  # noqa: F401

        listeners.register()
        deliveries.register(webhooks.WEBHOOKS)

        from sync import audit_phrases

        audit_phrases.register()
