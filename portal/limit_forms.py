"""Forms of the rate-limit pages: the developer's increase request and the reviewer's decision."""

from django import forms

from portal.models import RateLimitIncreaseRequest
from portal.validation import number_in_range

ALL_INSTALLATIONS = ""
MAX_LIMIT = 1_000_000


class LimitRequestForm(forms.Form):
    scope = forms.ChoiceField(label="For which installations", required=False)
    use_case = forms.CharField(
        label="What is the app doing?", max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The job these calls do, e.g. “sends every new order to the warehouse as it is placed”.",
    )
    calls_per_period = forms.IntegerField(label="How many calls does that take?", min_value=1, max_value=10**9)
    period = forms.ChoiceField(label="Over what period", choices=RateLimitIncreaseRequest.Period.choices,
                               initial=RateLimitIncreaseRequest.Period.HOUR)
    processing_time = forms.CharField(
        label="How fast must those calls be processed?", max_length=300,
        help_text="e.g. “within 2 minutes of the order being placed”.",
    )
    optimisations = forms.CharField(
        label="What have you already optimised?", max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="e.g. ID sets and ranges instead of single GETs, searches filtered by updatedOn, caching.",
    )
    requested_limit = forms.IntegerField(label="Limit wanted (calls per minute)", min_value=1, max_value=MAX_LIMIT)
    requested_until = forms.DateField(
        label="Until (optional)", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty if the app needs it for good.",
    )

    def __init__(self, *args, scope_accounts=(), default_limit: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.accounts = {account.code: account for account in scope_accounts}
        self.fields["scope"].choices = [(ALL_INSTALLATIONS, "All installations of this app"),
                                        *[(code, f"Only {code}") for code in self.accounts]]
        self.fields["scope"].help_text = "One account: one that has turned the app on or has early access."
        number_in_range(self.fields["calls_per_period"], 1, 10**9)
        number_in_range(self.fields["requested_limit"], 1, MAX_LIMIT)
        if default_limit:
            self.fields["requested_limit"].help_text = f"The default is {default_limit:,} calls per minute."

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["account"] = self.accounts.get(data.pop("scope") or "")
        return data


class LimitApproveForm(forms.Form):
    granted_limit = forms.IntegerField(label="Grant (calls per minute)", min_value=1, max_value=MAX_LIMIT)
    granted_until = forms.DateTimeField(
        label="Until (optional, UTC)", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="After this the installations fall back to the default by themselves. Empty: no end.",
    )
    note = forms.CharField(label="Note to the developer (optional)", required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        number_in_range(self.fields["granted_limit"], 1, MAX_LIMIT)


class LimitRejectForm(forms.Form):
    note = forms.CharField(label="Why it is rejected", max_length=2000, widget=forms.Textarea(attrs={"rows": 4}),
                           help_text="Required; the developer reads it.")


class ReportQueryForm(forms.Form):
    """The optimisation report's period and installation (``?days=`` and ``?account=``). A value that is not
    one of the choices falls back (the default period, every installation) with a note instead of failing."""

    days = forms.TypedChoiceField(label="Period", coerce=int, required=False,
                                  choices=[(1, "Last 24 hours"), (7, "Last 7 days"), (14, "Last 14 days")])
    account = forms.ChoiceField(label="Installation", required=False)

    def __init__(self, data=None, *, accounts=(), default_days: int = 7, **kwargs):
        super().__init__(data, **kwargs)
        self.default_days = default_days
        self.accounts = {account.code: account for account in accounts}
        self.fields["account"].choices = [(ALL_INSTALLATIONS, "All installations"),
                                          *[(code, code) for code in self.accounts]]

    def chosen(self) -> tuple[int, object, list[str]]:
        """(days, account or None, notes on values that fell back)."""
        notes = []
        data = self.data or {}
        raw_days = str(data.get("days", "") or "").strip()
        days = int(raw_days) if raw_days in {str(value) for value, _ in self.fields["days"].choices} else None
        if days is None:
            if raw_days:
                notes.append(f"Reports cover the last 1, 7 or 14 days; showing the last {self.default_days}.")
            days = self.default_days
        raw_account = str(data.get("account", "") or "").strip().lower()
        account = self.accounts.get(raw_account)
        if raw_account and account is None:
            notes.append("This app is not installed in that account; showing every installation.")
        return days, account, notes

    def shown(self, days: int, account) -> "ReportQueryForm":
        """The form to draw: unbound, set to what is shown."""
        return ReportQueryForm(accounts=self.accounts.values(), default_days=self.default_days,
                               initial={"days": days, "account": account.code if account else ALL_INSTALLATIONS})
