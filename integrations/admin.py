from django.contrib import admin

from integrations.models import AccessToken, Grant, IDToken, RefreshToken

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
