"""Read-only admin of the sync engine for operators (changes go through the pages and their services)."""

from django.contrib import admin
from django.db import models

from sync.models import Connection, SyncRun, SyncSpec, SyncStream, WebhookDelivery


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
