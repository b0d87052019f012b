from django import forms

from portal.models import App, PlatformSettings
from portal.validation import URL_MAX_LENGTH, number_in_range, parse_redirect_uris, validate_app_url, validate_icon


class AppForm(forms.Form):
    """Registration and edit form. The app reference is asked for only at registration."""

    name = forms.CharField(max_length=255)
    app_ref = forms.CharField(
        label="App reference", max_length=50,
        help_text="Lowercase letters, digits and hyphens (3–50). It becomes your OAuth client_id and cannot change.",
    )
    short_description = forms.CharField(max_length=160, help_text="One line shown in the app store (160 characters).")
    long_description = forms.CharField(
        required=False, max_length=10000, widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Markdown formatting (lists, links, emphasis). HTML is shown as text.",
    )
    icon = forms.FileField(
        required=False, widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        help_text="PNG, JPEG, GIF or WebP, up to 512 KB and 1024×1024 pixels.")
    client_type = forms.ChoiceField(
        choices=[(App.CLIENT_CONFIDENTIAL, "Confidential — runs on a server and keeps a secret"),
                 (App.CLIENT_PUBLIC, "Public — runs in a browser or on a device; uses PKCE, no secret")],
        widget=forms.RadioSelect, initial=App.CLIENT_CONFIDENTIAL,
    )
    redirect_uris = forms.CharField(
        label="Redirect URIs", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, matched exactly. https only (http is allowed for localhost).",
    )
    install_callback_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="Install callback URL",
        help_text="Called when an account turns the app on. https, up to 200 characters.",
    )
    uninstall_callback_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="Uninstall callback URL",
        help_text="Called when an account turns the app off. https, up to 200 characters.",
    )
    homepage_url = forms.URLField(required=False, assume_scheme="https", label="Homepage URL")
    support_url = forms.URLField(required=False, assume_scheme="https", label="Support URL")
    privacy_url = forms.URLField(required=False, assume_scheme="https", label="Privacy policy URL")

    URL_FIELDS = ("install_callback_url", "uninstall_callback_url", "homepage_url", "support_url", "privacy_url")

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["app_ref"]
            self.fields["icon"].help_text += " Leave empty to keep the current icon."
        for name in self.URL_FIELDS:
            # Django's URLField would refuse an over-long URL only after the scheme check; say the length first.
            self.fields[name].widget.attrs["maxlength"] = URL_MAX_LENGTH

    def _clean_url(self, name):
        value = self.cleaned_data.get(name, "")
        validate_app_url(value)
        return value

    def clean_install_callback_url(self):
        return self._clean_url("install_callback_url")

    def clean_uninstall_callback_url(self):
        return self._clean_url("uninstall_callback_url")

    def clean_homepage_url(self):
        return self._clean_url("homepage_url")

    def clean_support_url(self):
        return self._clean_url("support_url")

    def clean_privacy_url(self):
        return self._clean_url("privacy_url")

    def clean_app_ref(self):
        value = self.cleaned_data["app_ref"].strip()
        App._meta.get_field("client_id").run_validators(value)
        if App.objects.filter(client_id=value).exists():
            raise forms.ValidationError("That app reference is already taken.")
        return value

    def clean_redirect_uris(self):
        return "\n".join(parse_redirect_uris(self.cleaned_data["redirect_uris"]))

    def clean_icon(self):
        icon = self.cleaned_data.get("icon")
        validate_icon(icon)
        return icon

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("app_ref", None)
        if not data.get("icon"):
            data.pop("icon", None)
        return data


class EarlyAccessForm(forms.Form):
    account_code = forms.CharField(label="Account code", max_length=50, help_text="For example: outerheaven")


class ProgressionRequestForm(forms.Form):
    message = forms.CharField(
        label="Message for the reviewer",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What changed, how to test it, and anything the reviewer should know.",
    )


class ReviewCheckForm(forms.Form):
    stage_key = forms.SlugField(widget=forms.HiddenInput)
    checked = forms.BooleanField(required=False, widget=forms.HiddenInput)
    note = forms.CharField(required=False, max_length=500)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.HiddenInput)
    note = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Note to the developer",
        help_text="Required when rejecting.",
    )


class SuspensionForm(forms.Form):
    action = forms.ChoiceField(choices=[("suspend", "Suspend"), ("unsuspend", "Unsuspend")], widget=forms.HiddenInput)
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to suspend; the developer sees it.",
    )


class PlatformSettingsForm(forms.ModelForm):
    class Meta:
        model = PlatformSettings
        fields = [
            "progression_intake_open",
            "intake_closed_message",
            "early_access_cap",
            "default_instance_limit",
            "limit_period_seconds",
            "staff_token_limit",
        ]
        labels = {
            "progression_intake_open": "Progression intake is open",
            "intake_closed_message": "Message shown while intake is closed",
        }
        widgets = {"intake_closed_message": forms.Textarea(attrs={"rows": 3})}

    RANGES = {
        "default_instance_limit": (1, 1_000_000),
        "limit_period_seconds": (1, 86_400),
        "staff_token_limit": (1, 1_000_000),
        "early_access_cap": (1, 1_000),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, (low, high) in self.RANGES.items():
            number_in_range(self.fields[name], low, high)


AUDIT_ACTIONS = [
    ("", "Any action"),
    ("app.", "Apps: registered, edited, promoted, suspended, deleted"),
    ("installation.", "Apps turned on or off in accounts"),
    ("early_access.", "Early access"),
    ("progression.", "Progression requests and review checks"),
    ("limit_", "Rate-limit requests and grants"),
    ("usage_alert.", "Usage alerts (80% and 100% of a limit)"),
    ("account.", "Accounts and members"),
    ("staff_token.", "Staff tokens"),
    ("private_app.", "Private apps"),
    ("api_key.", "Developer API keys"),
    ("developer.", "Developer profiles"),
    ("partner.", "Partner applications"),
    ("sync.", "Sync connections and webhooks"),
    ("platform_settings.", "Platform settings"),
]


class AuditFilterForm(forms.Form):
    app_ref = forms.CharField(required=False, label="App reference", max_length=50)
    actor = forms.CharField(required=False, label="Actor email", max_length=254)
    action = forms.ChoiceField(required=False, label="Action", choices=AUDIT_ACTIONS)
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            self.add_error("until", "Choose a date on or after the “From” date.")
        return cleaned
