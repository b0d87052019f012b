from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "OAuth server and platform API"

    def ready(self):
        # Tasks registered in every process (web too), so that eager mode runs them in place; listeners that
        # revoke tokens and owe callbacks when the portal turns an installation on or off; callbacks as a kind
        # of delivery for the delivery dispatcher.
        from integrations import callbacks, deliveries, listeners, tasks  # noqa: F401

        listeners.register()
        deliveries.register(callbacks.CALLBACKS)
