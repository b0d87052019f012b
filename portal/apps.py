from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Apps and lifecycle"

    def ready(self):
        # Sentences for the portal's audit events (accounts.audit_text).
        from portal import audit_phrases

        audit_phrases.register()
