from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "OAuth server and platform API"

    def ready(self):
        # Tasks registered in every process (web too), so that eager mode runs them in place; listeners that
        # revoke tokens and call callbacks when the portal turns an installation on or off.
        from integrations import listeners, tasks  # noqa: F401

        listeners.register()
