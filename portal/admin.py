"""Admin for the marketplace models. Actions that change state call the same services as the UI."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.refusals import refusal_text
from portal import services
from portal.models import App, EarlyAccess, Installation, PlatformSettings, ProgressionRequest, ReviewCheck, ReviewStage

# django-oauth-toolkit registers its own admin for the (swapped) application model; ours replaces it.
if admin.site.is_registered(App):
    admin.site.unregister(App)


def _run(modeladmin, request, queryset, action, done: str):
    ok = 0
    for obj in queryset:
        try:
            action(obj)
            ok += 1
        except (ValidationError, PermissionDenied) as error:
            modeladmin.message_user(request, f"{obj}: {refusal_text(error)}", messages.ERROR)
    if ok:
        modeladmin.message_user(request, f"{ok} {done}.", messages.SUCCESS)


class EarlyAccessInline(admin.TabularInline):
    model = EarlyAccess
    extra = 0
    readonly_fields = ["account", "added_by", "added_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ["name", "client_id", "user", "stage", "suspended_at", "client_type", "created"]
    list_filter = ["stage", "client_type", ("suspended_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "client_id", "user__email"]
    readonly_fields = ["client_id", "client_secret", "stage", "suspended_at", "suspended_reason", "secret_rotated_at",
                       "created", "updated", "user"]
    fields = ["name", "client_id", "user", "client_type", "short_description", "long_description", "icon",
              "redirect_uris", "install_callback_url", "uninstall_callback_url", "homepage_url", "support_url",
              "privacy_url", "stage", "suspended_at", "suspended_reason", "secret_rotated_at", "created", "updated"]
    inlines = [EarlyAccessInline]
    actions = ["unsuspend"]

    def has_add_permission(self, request):
        return False  # apps are registered by developers in the portal

    def has_change_permission(self, request, obj=None):
        return False  # edits go through the developer's pages; reviewers use the actions

    @admin.action(description="Unsuspend selected apps")
    def unsuspend(self, request, queryset):
        _run(
            self, request, queryset, lambda app: services.app_unsuspend(app=app, actor=request.user), "apps unsuspended"
        )


class ReviewCheckInline(admin.TabularInline):
    model = ReviewCheck
    extra = 0
    readonly_fields = ["stage", "checked_by", "checked_at", "note"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ProgressionRequest)
class ProgressionRequestAdmin(admin.ModelAdmin):
    list_display = ["app", "from_stage", "to_stage", "status", "submitted_by", "submitted_at", "reviewer"]
    list_filter = ["status", "to_stage"]
    search_fields = ["app__name", "app__client_id"]
    readonly_fields = [f.name for f in ProgressionRequest._meta.fields]
    inlines = [ReviewCheckInline]
    actions = ["approve"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Approve selected requests (every review stage must be ticked)")
    def approve(self, request, queryset):
        _run(
            self,
            request,
            queryset,
            lambda r: services.progression_request_approve(request=r, actor=request.user),
            "requests approved",
        )


@admin.register(ReviewStage)
class ReviewStageAdmin(admin.ModelAdmin):
    list_display = ["label", "key", "required_for", "position", "is_active"]
    list_editable = ["position", "is_active"]


@admin.register(EarlyAccess)
class EarlyAccessAdmin(admin.ModelAdmin):
    list_display = ["app", "account", "added_by", "added_at"]
    search_fields = ["app__client_id", "account__code"]
    readonly_fields = ["app", "account", "added_by", "added_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # removal is audited through the developer's page


@admin.register(Installation)
class InstallationAdmin(admin.ModelAdmin):
    list_display = ["app", "account", "is_enabled", "installed_by", "installed_at", "disabled_at"]
    list_filter = ["is_enabled"]
    readonly_fields = ["app", "account", "is_enabled", "installed_by", "installed_at", "disabled_at"]

    def has_add_permission(self, request):
        return False


@admin.register(PlatformSettings)
class PlatformSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "progression_intake_open", "default_instance_limit", "early_access_cap", "updated_at"]
    readonly_fields = ["updated_at", "updated_by"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            services.platform_settings_update(
                actor=request.user,
                **{name: form.cleaned_data[name] for name in form.changed_data if name in services.SETTINGS_FIELDS},
            )
        except (ValidationError, PermissionDenied) as error:
            self.message_user(request, refusal_text(error), messages.ERROR)
