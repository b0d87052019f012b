from django.contrib import admin
from django.db import models

from integrations.models import (AccessToken, Connection, Grant, IDToken, RefreshToken, SyncRun, SyncSpec, SyncStream,
                                 WebhookDelivery)

# django-oauth-toolkit registers admins for the swapped token models; ours hide the secrets.
for _model in (AccessToken, Grant, IDToken, RefreshToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = ["id", "application", "installation", "user", "expires"]
    raw_id_fields = ["user", "application", "installation", "source_refresh_token", "id_token"]
    exclude = ["token", "token_checksum"]


@admin.register(RefreshToken)
class RefreshTokenAdmin(admin.ModelAdmin):
    list_display = ["id", "application", "installation", "user", "revoked"]
    raw_id_fields = ["user", "application", "installation", "access_token"]
    exclude = ["token"]


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ["id", "application", "account", "user", "expires"]
    raw_id_fields = ["user", "application", "installation", "account"]
    exclude = ["code"]


@admin.register(IDToken)
class IDTokenAdmin(admin.ModelAdmin):
    list_display = ["id", "application", "user", "expires"]
    raw_id_fields = ["user", "application"]


# --- Sync engine: read-only views for operators (changes go through the pages and their services) -------

class ReadOnlyAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SyncSpec)
class SyncSpecAdmin(ReadOnlyAdmin):
    list_display = ["app", "is_enabled", "interval_seconds", "webhook_url", "webhook_paused_at", "webhook_failures"]
    list_filter = ["is_enabled"]
    exclude = ["client_secret_encrypted"]


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyAdmin):
    list_display = ["id", "app", "account_code", "kind", "status", "token_expires_at", "status_changed_at"]
    list_filter = ["status", "kind"]
    search_fields = ["account_code", "app__client_id"]
    exclude = ["client_secret_encrypted", "access_token_encrypted", "refresh_token_encrypted"]


@admin.register(SyncStream)
class SyncStreamAdmin(ReadOnlyAdmin):
    list_display = ["id", "connection", "resource", "next_run_at", "lease_expires_at", "epoch", "watermark", "failures"]
    list_filter = ["resource"]


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "connection", "resource", "kind", "status", "started_at", "pages", "records_seen", "calls",
                    "throttled", "errors"]
    list_filter = ["status", "kind", "resource"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "connection", "status", "event_count", "attempts", "last_status_code", "created_at"]
    list_filter = ["status"]
