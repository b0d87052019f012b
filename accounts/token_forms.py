"""Forms for private apps, staff tokens and developer API keys. They parse input; the services decide."""

from django import forms

from accounts.models import Account, PrivateApp, User
from accounts.staff_tokens import IDENTIFIER_RULE

NO_AUTOFILL = {"autocomplete": "off", "spellcheck": "false"}


class PrivateAppForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the scripts using it do, for example “Nightly stock export”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    identifier = forms.CharField(max_length=70, widget=forms.TextInput(attrs=NO_AUTOFILL))

    def __init__(self, *args, account: Account, **kwargs):
        kwargs.setdefault("auto_id", "app_%s")
        super().__init__(*args, **kwargs)
        field = self.fields["identifier"]
        field.initial = f"{account.code}_"
        field.widget.attrs["placeholder"] = f"{account.code}_scripts"
        field.help_text = (f"Sent as <code>brightpearl-app-ref</code>. Start with <code>{account.code}_</code>, "
                           f"then {IDENTIFIER_RULE}. It cannot be changed.")


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.email


class StaffTokenForm(forms.Form):
    private_app = forms.ModelChoiceField(
        label="Private app", queryset=PrivateApp.objects.none(), empty_label=None,
        help_text="Scripts send its identifier as <code>brightpearl-app-ref</code> with the token.",
    )
    member = MemberChoiceField(
        queryset=User.objects.none(), empty_label="Choose a member…",
        help_text="The token acts for this member of the account.",
    )
    name = forms.CharField(
        label="Token name", max_length=100, help_text="Where it is used, for example “Warehouse scanner”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    expires_at = forms.DateTimeField(
        label="Expires", required=False, input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Optional, in UTC. Leave it empty for a token that works until it is revoked.",
    )

    def __init__(self, *args, account: Account, **kwargs):
        kwargs.setdefault("auto_id", "token_%s")
        super().__init__(*args, **kwargs)
        self.fields["private_app"].queryset = PrivateApp.objects.filter(account=account).order_by("identifier")
        self.fields["member"].queryset = (
            User.objects.filter(memberships__account=account, is_active=True).order_by("email")
        )

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {"private_app": data["private_app"], "member": data["member"], "name": data["name"],
                "expires_at": data["expires_at"]}


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Key name", max_length=100, help_text="What uses it, for example “CI release script”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

