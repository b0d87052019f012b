"""Forms for the accounts pages. They parse input and give friendly messages; services decide."""

from django import forms
from django.core.exceptions import ValidationError

from accounts.conf import accounts_settings
from accounts.models import DeveloperProfile, Membership, slug_validator


class DeveloperContactForm(forms.Form):
    company = forms.CharField(
        max_length=200, help_text="The company (or your own name) that publishes your apps."
    )
    contact_name = forms.CharField(
        label="Contact name", max_length=150, help_text="Who we contact about your apps and reviews."
    )
    contact_phone = forms.CharField(label="Contact phone", max_length=40, required=False)
    website = forms.URLField(
        required=False, assume_scheme="https", help_text="For example https://example.com.",
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )


class DeveloperRegisterForm(DeveloperContactForm):
    """Register as a developer: the contact details plus the permanent developer reference."""

    dev_ref = forms.CharField(
        label="Developer reference", max_length=50,
        help_text="Your public developer reference, sent as <code>brightpearl-dev-ref</code> with every API call. "
                  "Lowercase letters, digits and hyphens; it cannot be changed later.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "acme-apps"}),
    )

    field_order = ["dev_ref", "company", "contact_name", "contact_phone", "website"]

    def clean_dev_ref(self):
        dev_ref = self.cleaned_data["dev_ref"].strip().lower()
        slug_validator(dev_ref)
        if DeveloperProfile.objects.filter(dev_ref=dev_ref).exists():
            raise ValidationError("That developer reference is taken; choose another.")
        return dev_ref


class PartnerApplicationForm(forms.Form):
    company_name = forms.CharField(label="Company name", max_length=200)
    company_number = forms.CharField(
        label="Company registration number", max_length=50, required=False,
        help_text="If your company is registered, for example at Companies House.",
    )
    country = forms.CharField(max_length=100, help_text="Where the company is registered.")
    website = forms.URLField(
        assume_scheme="https", widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    description = forms.CharField(
        label="What your company builds", max_length=4000, widget=forms.Textarea(attrs={"rows": 5}),
        help_text="The apps you build or plan to build, and who uses them (up to 4000 characters).",
    )
    agreement_accepted = forms.BooleanField(
        label="I accept the partner agreement", required=True,
        error_messages={"required": "You must accept the partner agreement to apply."},
    )


class MemberAddForm(forms.Form):
    email = forms.EmailField(
        label="Email address", help_text="They must have signed up to the portal with this address.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        choices=Membership.Role.choices, initial=Membership.Role.STAFF,
        help_text="Owners manage members; owners and admins turn apps on and off; staff can use the account.",
    )


class ShowBetaAppsForm(forms.Form):
    show = forms.BooleanField(required=False)


class UsageAlertsMuteForm(forms.Form):
    """Mute usage alerts (``muted=yes``) or turn them back on (``muted=no``), for an app or an account."""

    muted = forms.TypedChoiceField(choices=[("yes", "Muted"), ("no", "On")], coerce=lambda value: value == "yes",
                                   error_messages={"required": "Choose whether to mute usage alerts.",
                                                   "invalid_choice": "Choose whether to mute usage alerts."})


class NotificationReadForm(forms.Form):
    """Mark one notification (``id``) or, without it, all of them read; ``open`` follows its link."""

    id = forms.IntegerField(required=False, min_value=1)
    open = forms.BooleanField(required=False)


class PartnerDecisionForm(forms.Form):
    """One form per decision on the review page; ``decision`` travels as a hidden field."""

    DECISIONS = [("approve", "Approve"), ("reject", "Reject")]

    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.HiddenInput)
    note = forms.CharField(max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, decision: str, **kwargs):
        kwargs.setdefault("auto_id", f"{decision}_%s")
        super().__init__(*args, initial={"decision": decision}, **kwargs)
        self.decision = decision
        note = self.fields["note"]
        if decision == "reject":
            note.required = True
            note.label = "Reason for rejecting"
            note.help_text = "Sent to the developer, so say what would make a new application succeed."
            note.error_messages["required"] = "Say why the application is rejected."
        else:
            note.label = "Note to the developer (optional)"

    def clean_decision(self):
        if self.cleaned_data["decision"] != self.decision:
            raise ValidationError("Unexpected decision.")
        return self.decision


def datacentre_choices() -> list[tuple[str, str]]:
    return list(accounts_settings.DATACENTRES)
