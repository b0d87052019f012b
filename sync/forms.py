"""Forms of the sync pages. They only parse; the services validate what matters and say why."""

from django import forms

from sync.models import SyncResource, SyncSpec
from sync.services import MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS


class SyncSpecForm(forms.Form):
    is_enabled = forms.BooleanField(label="Managed sync is on", required=False)
    resources = forms.MultipleChoiceField(
        label="Resources to mirror", choices=SyncResource.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    interval_seconds = forms.IntegerField(
        label="Sync every (seconds)", min_value=MIN_INTERVAL_SECONDS, max_value=MAX_INTERVAL_SECONDS, initial=900,
        help_text=f"How often each resource is read for changes: {MIN_INTERVAL_SECONDS} seconds to "
                  f"{MAX_INTERVAL_SECONDS // 86400} days.",
    )
    webhook_url = forms.CharField(
        label="Webhook URL (optional)", required=False, max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://app.example.com/portal-webhook"}),
        help_text="Created and changed records are POSTed here, signed. Leave it empty for no webhooks.",
    )
    client_secret = forms.CharField(
        label="Client secret", required=False, strip=True, max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Needed when you turn managed sync on, and again after you rotate the app's secret: the portal "
                  "exchanges the accounts' authorisations for tokens with it. It is stored encrypted and never "
                  "shown; leave it empty to keep the saved one.",
    )

    @classmethod
    def initial_from(cls, spec: SyncSpec | None) -> dict:
        if spec is None:
            return {"is_enabled": False, "resources": [SyncResource.PRODUCT], "interval_seconds": 900}
        return {"is_enabled": spec.is_enabled, "resources": spec.resources, "interval_seconds": spec.interval_seconds,
                "webhook_url": spec.webhook_url}


class ExternalConnectForm(forms.Form):
    name = forms.CharField(label="Name (optional)", required=False, max_length=100,
                           help_text="For you, e.g. “Acme live account”.")
    account_code = forms.CharField(label="Account code", max_length=64)
    authorize_url = forms.CharField(
        label="Authorize URL", max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://provider.example.com/oauth/authorize/acme"}),
        help_text="The provider's consent page; the browser is sent there next.",
    )
    token_url = forms.CharField(label="Token URL", max_length=500, widget=forms.URLInput(
        attrs={"placeholder": "https://provider.example.com/oauth/token/acme"}))
    api_base_url = forms.CharField(
        label="API base URL", max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://provider.example.com/public-api/acme"}),
        help_text="Up to and including <code>/public-api/&lt;account code&gt;</code>.",
    )
    client_id = forms.CharField(label="Client id", max_length=100,
                                help_text="The provider issued these to your app.")
    client_secret = forms.CharField(label="Client secret", max_length=200, strip=True,
                                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                                    help_text="Stored encrypted and never shown.")
    rate_limit = forms.IntegerField(label="Rate limit: calls", min_value=1, max_value=100_000, initial=200)
    rate_window_seconds = forms.IntegerField(
        label="… per (seconds)", min_value=1, max_value=86_400, initial=60,
        help_text="The provider's limit for this account. The sync never sends more than this in any window.",
    )
