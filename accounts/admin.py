"""Django admin for people and accounts. Decisions and account creation go through the services, so the
admin checks the same permissions and writes the same audit events as the portal's pages."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.template.response import TemplateResponse

from accounts import services
from accounts.audit import audit_record
from accounts.forms import datacentre_choices
from accounts.models import (
    Account,
    AuditEvent,
    DeveloperApiKey,
    DeveloperProfile,
    Membership,
    Notification,
    PartnerApplication,
    PrivateApp,
    StaffToken,
    User,
)
from accounts.refusals import refusal_text

# --- Users (email login, no username) -----------------------------------------------------------------------


class _EmailMixin:
    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        taken = User.objects.filter(email__iexact=email)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError("A user with that email address already exists.")
        return email


class PortalUserCreationForm(_EmailMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class PortalUserChangeForm(_EmailMixin, UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = PortalUserChangeForm
    add_form = PortalUserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_superuser", "is_active", "date_joined", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("full_name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {
            "classes": ("wide",),
            "fields": ("email", "full_name", "usable_password", "password1", "password2"),
        }),
    )


# --- Developers and partner applications ----------------------------------------------------------------------


@admin.register(DeveloperProfile)
class DeveloperProfileAdmin(admin.ModelAdmin):
    list_display = ["dev_ref", "user", "company", "partner_status", "created_at"]
    list_filter = ["partner_status"]
    search_fields = ["dev_ref", "user__email", "company", "contact_name"]
    raw_id_fields = ["user"]
    # The partner status changes only through partner applications (which audit and notify).
    readonly_fields = ["partner_status", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # The developer reference is permanent once registered.
        return [*self.readonly_fields, "dev_ref", "user"] if obj else self.readonly_fields


class RejectApplicationsForm(forms.Form):
    note = forms.CharField(
        label="Reason for rejecting", widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text="Sent to each developer, so say what would make a new application succeed.",
    )


@admin.register(PartnerApplication)
class PartnerApplicationAdmin(admin.ModelAdmin):
    list_display = ["company_name", "profile", "country", "status", "submitted_at", "reviewer", "decided_at"]
    list_filter = ["status"]
    search_fields = ["company_name", "profile__dev_ref", "profile__user__email"]
    date_hierarchy = "submitted_at"
    actions = ["approve_selected", "reject_selected"]
    readonly_fields = ["profile", "agreement_accepted_at", "status", "submitted_at", "reviewer", "decided_at",
                       "decision_note"]

    def has_add_permission(self, request):
        return False  # developers apply in the portal

    def _decide(self, request, queryset, *, approve: bool, note: str = "") -> None:
        done = 0
        for application in queryset.select_related("profile"):
            try:
                services.partner_application_decide(application=application, actor=request.user, approve=approve,
                                                    note=note)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(request, f"{application.company_name} ({application.profile.dev_ref}): "
                                           f"{refusal_text(error)}", messages.ERROR)
            else:
                done += 1
        if done:
            verb = "Approved" if approve else "Rejected"
            self.message_user(request, f"{verb} {done} application{'s' if done != 1 else ''}.", messages.SUCCESS)

    @admin.action(description="Approve selected applications")
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description="Reject selected applications")
    def reject_selected(self, request, queryset):
        form = RejectApplicationsForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._decide(request, queryset, approve=False, note=form.cleaned_data["note"])
            return None
        return TemplateResponse(request, "accounts/admin_reject_applications.html", {
            **self.admin_site.each_context(request),
            "title": "Reject partner applications",
            "opts": self.model._meta,
            "applications": queryset.select_related("profile__user"),
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        })


# --- Platform accounts and members ------------------------------------------------------------------------------


class MembershipFormSet(forms.BaseInlineFormSet):
    """Refuses, before anything is saved, an edit that would leave the account without an owner."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [form for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]
        had_owner = any(form.instance.pk and form.initial.get("role") == Membership.Role.OWNER for form in self.forms)
        if had_owner and not any(form.cleaned_data.get("role") == Membership.Role.OWNER for form in kept):
            raise ValidationError("An account needs at least one owner; add another owner first.")


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipFormSet
    fk_name = "account"
    extra = 0
    fields = ["user", "role", "added_by", "created_at"]
    readonly_fields = ["added_by", "created_at"]
    raw_id_fields = ["user"]


def _save_membership(request, membership: Membership, *, adding: bool) -> Membership:
    """Membership edits of the admin, through the services (permissions, the last-owner rule, audit)."""
    if adding:
        return services.account_member_add(account=membership.account, email=membership.user.email,
                                           role=membership.role, actor=request.user)
    return services.account_member_set_role(membership=membership, role=membership.role, actor=request.user)


class AccountChangeForm(forms.ModelForm):
    datacentre = forms.ChoiceField(choices=datacentre_choices)

    class Meta:
        model = Account
        fields = ["name", "datacentre", "status", "show_beta_apps"]


class AccountAddForm(forms.ModelForm):
    """Creating an account: what account_create takes, with an optional first owner."""

    datacentre = forms.ChoiceField(choices=datacentre_choices)
    owner_email = forms.EmailField(
        label="Owner's email", required=False,
        help_text="Optional: an existing user who becomes the account's first owner.",
    )

    class Meta:
        model = Account
        fields = ["code", "name", "datacentre"]

    def clean_code(self):
        return self.cleaned_data["code"].strip().lower()

    def clean_owner_email(self):
        email = self.cleaned_data["owner_email"].strip()
        if email and not User.objects.filter(email__iexact=email).exists():
            raise ValidationError("No user has that email address. Ask them to sign up first.")
        return email


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "datacentre", "status", "show_beta_apps", "member_count", "created_at"]
    list_filter = ["status", "datacentre", "show_beta_apps"]
    search_fields = ["code", "name", "memberships__user__email"]
    form = AccountChangeForm
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]
    fieldsets = [(None, {"fields": ["code", "name", "datacentre", "status", "show_beta_apps", "created_at"]})]
    add_fieldsets = [(None, {"fields": ["code", "name", "datacentre", "owner_email"]})]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, obj):
        return obj.member_count

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AccountAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "code"] if obj else []

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            if form.changed_data:
                audit_record(actor=request.user, verb="account.changed", target=obj, data={
                    "changed": {name: str(form.cleaned_data[name]) for name in form.changed_data}, "via": "admin",
                })
            return
        account = services.account_create(
            code=obj.code, name=obj.name, datacentre=obj.datacentre,
            owner_email=form.cleaned_data.get("owner_email", ""), actor=request.user,
        )
        # The admin carries on with ``obj`` (log entry, redirect), so it becomes the created row.
        obj.pk, obj.created_at, obj._state = account.pk, account.created_at, account._state

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # The formset refused edits that leave no owner; the services check again (and write the audit rows).
        memberships = formset.save(commit=False)
        for membership in memberships:
            if membership._state.adding:
                _save_membership(request, membership, adding=True)
        for membership in memberships:
            if not membership._state.adding and membership.pk:
                _save_membership(request, membership, adding=False)
        for membership in formset.deleted_objects:
            services.account_member_remove(membership=membership, actor=request.user)


class MembershipForm(forms.ModelForm):
    """A member's role may change unless they are their account's last owner."""

    class Meta:
        model = Membership
        fields = ["account", "user", "role"]

    def clean(self):
        cleaned = super().clean()
        membership = self.instance
        if membership.pk and membership.role == Membership.Role.OWNER and cleaned.get("role") != Membership.Role.OWNER \
                and not Membership.objects.filter(account_id=membership.account_id, role=Membership.Role.OWNER
                                                  ).exclude(pk=membership.pk).exists():
            raise ValidationError("An account needs at least one owner; add another owner first.")
        if not membership.pk and cleaned.get("account") and cleaned.get("user") and Membership.objects.filter(
                account=cleaned["account"], user=cleaned["user"]).exists():
            raise ValidationError("This person is already a member of that account.")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["account", "user", "role", "added_by", "created_at"]
    list_filter = ["role"]
    search_fields = ["account__code", "user__email"]
    raw_id_fields = ["account", "user"]
    readonly_fields = ["added_by", "created_at"]

    form = MembershipForm

    def get_readonly_fields(self, request, obj=None):
        # A membership moves to another account or person by removing it and adding a new one.
        return [*self.readonly_fields, "account", "user"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        saved = _save_membership(request, obj, adding=not change)
        obj.pk, obj._state = saved.pk, saved._state

    def has_delete_permission(self, request, obj=None):
        # The last owner of an account cannot be removed (the service refuses it too).
        if obj is not None and obj.role == Membership.Role.OWNER and not Membership.objects.filter(
                account_id=obj.account_id, role=Membership.Role.OWNER).exclude(pk=obj.pk).exists():
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.account_member_remove(membership=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("account"):
            try:
                services.account_member_remove(membership=membership, actor=request.user)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(request, f"{membership}: {refusal_text(error)}", messages.ERROR)


# --- Audit log and notifications --------------------------------------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is written by the services, never by hand."""

    list_display = ["created_at", "actor", "verb", "target_type", "target_label", "app_ref"]
    list_filter = ["verb"]
    search_fields = ["app_ref", "actor__email"]
    date_hierarchy = "created_at"
    list_select_related = ["actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["subject", "user", "created_at", "read_at"]
    list_filter = [("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["subject", "user__email"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


# --- Private apps, staff tokens and API keys (read-only) ----------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable only: these rows are written by the services (which check who may act and audit), and
    their secrets are never shown; only the hash is stored, and it is left out of every page."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StaffTokenInline(admin.TabularInline):
    model = StaffToken
    fields = ["name", "prefix_display", "member", "created_by", "created_at", "last_used_at", "expires_at",
              "revoked_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Prefix")
    def prefix_display(self, obj):
        return f"{obj.prefix}…"


@admin.register(PrivateApp)
class PrivateAppAdmin(ReadOnlyAdmin):
    list_display = ["identifier", "name", "account", "created_by", "created_at"]
    search_fields = ["identifier", "name", "account__code"]
    list_select_related = ["account", "created_by"]
    fields = ["identifier", "name", "account", "created_by", "created_at"]
    inlines = [StaffTokenInline]


@admin.register(StaffToken)
class StaffTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "prefix_display", "private_app", "member", "created_by", "created_at", "last_used_at",
                    "expires_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "private_app__identifier", "private_app__account__code", "member__email"]
    list_select_related = ["private_app", "member", "created_by"]
    fields = ["name", "prefix_display", "private_app", "member", "created_by", "created_at", "last_used_at",
              "expires_at", "revoked_at"]
    readonly_fields = ["prefix_display"]

    @admin.display(description="Prefix", ordering="prefix")
    def prefix_display(self, obj):
        return f"{obj.prefix}…"


@admin.register(DeveloperApiKey)
class DeveloperApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["name", "prefix_display", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__email"]
    list_select_related = ["user"]
    fields = ["name", "prefix_display", "user", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix_display"]

    @admin.display(description="Prefix", ordering="prefix")
    def prefix_display(self, obj):
        return f"{obj.prefix}…"
