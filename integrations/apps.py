from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "OAuth server and platform API"

    def ready(self):
        # Tasks registered in every process (web too), so that eager mode runs them in place; listeners that
        # revoke tokens and owe callbacks when the portal turns an installation on or off; callbacks as a kind
        # of delivery for the delivery dispatcher; the gateway's token copies told of every change they hang on.
        from integrations import callbacks, deliveries, listeners, tasks, token_cache  # noqa: F401

        listeners.register()
        token_cache.connect()
        deliveries.register(callbacks.CALLBACKS)
