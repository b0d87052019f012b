"""Shapes of the developer API: input serializers validate everything a request carries before a
service runs; output serializers say what a developer sees (the same as the portal's pages)."""

from datetime import timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import AuditEvent, DeveloperApiKey, DeveloperProfile
from portal.models import (
    App,
    EarlyAccess,
    Installation,
    ProgressionRequest,
    RateLimitIncreaseRequest,
    Stage,
    UsageMinute,
    app_ref_validator,
)
from portal.validation import parse_redirect_uris

MAX_COUNT = 1_000_000_000  # keeps integers inside every database's column, whatever a client sends
USAGE_DEFAULT_RANGE = timedelta(hours=24)
USAGE_MAX_RANGE = timedelta(days=7)
LIFECYCLE_STATES = [*Stage.choices, ("suspended", "Suspended")]


class OptionalURLField(serializers.URLField):
    """A URL or the empty string (the portal's optional links); the schema says both."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)


# --- Output -----------------------------------------------------------------------------------------

class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = DeveloperApiKey
        fields = ["name", "prefix", "created_at", "last_used_at"]
        read_only_fields = fields


class DeveloperSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    is_partner = serializers.BooleanField(read_only=True)
    api_key = serializers.SerializerMethodField(help_text="The key this request was made with.")
    website = OptionalURLField(read_only=True)

    class Meta:
        model = DeveloperProfile
        fields = ["dev_ref", "email", "full_name", "company", "contact_name", "contact_phone", "website",
                  "partner_status", "is_partner", "created_at", "api_key"]
        read_only_fields = fields

    def get_api_key(self, profile) -> ApiKeySerializer:
        return ApiKeySerializer(self.context["request"].auth).data


class AppSerializer(serializers.ModelSerializer):
    app_ref = serializers.CharField(source="client_id", read_only=True,
                                    help_text="The app reference; also the OAuth client_id.")
    redirect_uris = serializers.ListField(source="redirect_uri_list", child=serializers.CharField(), read_only=True)
    lifecycle_state = serializers.ChoiceField(choices=LIFECYCLE_STATES, read_only=True,
                                              help_text="The stage, or suspended while the app is suspended.")
    icon_url = serializers.SerializerMethodField()
    installation_count = serializers.IntegerField(read_only=True, help_text="Accounts that have the app turned on.")
    early_access_count = serializers.IntegerField(read_only=True)
    has_pending_request = serializers.BooleanField(read_only=True, help_text="A progression request awaits review.")
    created_at = serializers.DateTimeField(source="created", read_only=True)
    updated_at = serializers.DateTimeField(source="updated", read_only=True)
    install_callback_url = OptionalURLField(read_only=True)
    uninstall_callback_url = OptionalURLField(read_only=True)
    homepage_url = OptionalURLField(read_only=True)
    support_url = OptionalURLField(read_only=True)
    privacy_url = OptionalURLField(read_only=True)

    class Meta:
        model = App
        fields = ["app_ref", "name", "short_description", "long_description", "client_type", "redirect_uris",
                  "install_callback_url", "uninstall_callback_url", "homepage_url", "support_url", "privacy_url",
                  "stage", "lifecycle_state", "suspended_at", "suspended_reason", "secret_rotated_at", "icon_url",
                  "installation_count", "early_access_count", "has_pending_request", "created_at", "updated_at"]
        read_only_fields = fields

    def get_icon_url(self, app) -> str | None:
        return self.context["request"].build_absolute_uri(app.icon.url) if app.icon else None


class AppWithSecretSerializer(AppSerializer):
    client_secret = serializers.SerializerMethodField(
        help_text="Shown only in this response and stored hashed: copy it now. Null for public clients.")

    class Meta(AppSerializer.Meta):
        fields = [*AppSerializer.Meta.fields, "client_secret"]
        read_only_fields = fields

    def get_client_secret(self, app) -> str | None:
        return self.context.get("client_secret") or None


class SecretSerializer(serializers.Serializer):
    app_ref = serializers.CharField(read_only=True)
    client_secret = serializers.CharField(read_only=True, help_text="Shown only in this response: copy it now.")
    secret_rotated_at = serializers.DateTimeField(read_only=True)


class EarlyAccessSerializer(serializers.ModelSerializer):
    account_code = serializers.CharField(source="account.code", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    added_by = serializers.EmailField(source="added_by.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = EarlyAccess
        fields = ["account_code", "account_name", "added_by", "added_at"]
        read_only_fields = fields


class ProgressionRequestSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProgressionRequest
        fields = ["id", "from_stage", "to_stage", "status", "message", "submitted_at", "decided_at", "decision_note"]
        read_only_fields = fields


class LimitRequestSerializer(serializers.ModelSerializer):
    account_code = serializers.CharField(source="account.code", read_only=True, allow_null=True, default=None,
                                         help_text="Null: every installation of the app.")

    class Meta:
        model = RateLimitIncreaseRequest
        fields = ["id", "account_code", "use_case", "calls_per_period", "period", "processing_time", "optimisations",
                  "requested_limit", "requested_until", "status", "granted_limit", "granted_until", "submitted_at",
                  "decided_at", "decision_note"]
        read_only_fields = fields


def limit_fields(limit) -> dict:
    """An installation's ``portal.limits.EffectiveLimit`` as LimitSerializer fields."""
    return {"calls": limit.calls, "window_seconds": limit.window_seconds, "per_minute": limit.per_minute,
            "is_default": limit.is_default, "granted_until": limit.grant.granted_until if limit.grant else None}


class LimitSerializer(serializers.Serializer):
    calls = serializers.IntegerField(read_only=True, help_text="Calls allowed per window.")
    window_seconds = serializers.IntegerField(read_only=True)
    per_minute = serializers.IntegerField(read_only=True)
    is_default = serializers.BooleanField(read_only=True, help_text="False while a granted increase applies.")
    granted_until = serializers.DateTimeField(read_only=True, allow_null=True,
                                              help_text="When the granted increase ends (null: no end).")


class InstallationSerializer(serializers.ModelSerializer):
    account_code = serializers.CharField(source="account.code", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    instance_id = serializers.CharField(read_only=True,
                                        help_text="The installation instance id sent in token responses.")
    current_limit = serializers.SerializerMethodField()

    class Meta:
        model = Installation
        fields = ["account_code", "account_name", "instance_id", "is_enabled", "installed_at", "disabled_at",
                  "last_call_at", "current_limit"]
        read_only_fields = fields

    def get_current_limit(self, installation) -> LimitSerializer:
        return LimitSerializer(limit_fields(self.context["limits"][installation.pk])).data


class UsageMinuteSerializer(serializers.ModelSerializer):
    class Meta:
        model = UsageMinute
        fields = ["minute", "calls", "throttled"]
        read_only_fields = fields


class UsageSerializer(serializers.Serializer):
    account_code = serializers.CharField(read_only=True)
    since = serializers.DateTimeField(read_only=True)
    until = serializers.DateTimeField(read_only=True)
    total_calls = serializers.IntegerField(read_only=True)
    total_throttled = serializers.IntegerField(read_only=True)
    current_limit = LimitSerializer(read_only=True)
    minutes = UsageMinuteSerializer(many=True, read_only=True,
                                    help_text="Minutes with calls, oldest first; minutes without calls are left out.")


class AccountLocationSerializer(serializers.Serializer):
    account_code = serializers.CharField(read_only=True)
    datacentre = serializers.CharField(read_only=True)
    api_domain = serializers.CharField(read_only=True, help_text="Host (no scheme) where the account's API lives.")
    api_base_url = serializers.URLField(read_only=True)
    authorize_url = serializers.URLField(read_only=True)
    token_url = serializers.URLField(read_only=True)


class HistoryEventSerializer(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", read_only=True, allow_null=True, default=None,
                                   help_text="Null when the platform did it.")
    data = serializers.DictField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = ["created_at", "actor", "verb", "target_type", "target_label", "data"]
        read_only_fields = fields


# --- Input ------------------------------------------------------------------------------------------

def _redirect_uris(values: list[str]) -> str:
    """The portal's rules (portal.validation), on a list; stored space-separated, so no spaces inside."""
    if any(len(value.split()) != 1 for value in values):
        raise serializers.ValidationError("Each redirect URI is one URL without spaces.")
    try:
        return " ".join(parse_redirect_uris(" ".join(values)))
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from error


@extend_schema_field({
    "type": "string", "format": "uri", "maxLength": 2000,
    "pattern": r"^(https://|http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?/)",
})
class RedirectURIField(serializers.CharField):
    """One redirect URI (checked with the portal's rules by the list it is in)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 2000)
        super().__init__(**kwargs)


class AppUpdateSerializer(serializers.Serializer):
    """Changes to an app: send only the fields to change."""

    name = serializers.CharField(max_length=255)
    short_description = serializers.CharField(max_length=160, help_text="One line shown in the app store.")
    long_description = serializers.CharField(max_length=10000, allow_blank=True, help_text="Markdown.")
    client_type = serializers.ChoiceField(
        choices=App.CLIENT_TYPES,
        help_text="confidential (a server that keeps a secret) or public (PKCE, no secret). "
                  "A public app cannot become confidential.",
    )
    redirect_uris = serializers.ListField(
        child=RedirectURIField(), min_length=1, max_length=10,
        help_text="Matched exactly; https only (http is allowed for localhost).",
    )
    install_callback_url = OptionalURLField(help_text="Called when an account turns the app on.")
    uninstall_callback_url = OptionalURLField(help_text="Called when an account turns the app off.")
    homepage_url = OptionalURLField()
    support_url = OptionalURLField()
    privacy_url = OptionalURLField()

    def validate_redirect_uris(self, values):
        return _redirect_uris(values)


class AppCreateSerializer(AppUpdateSerializer):
    """A new app. The answer carries its client secret, once."""

    app_ref = serializers.CharField(
        max_length=50, validators=[app_ref_validator],
        help_text="3–50 lowercase letters, digits and hyphens. It becomes the OAuth client_id and cannot change.",
    )
    long_description = serializers.CharField(max_length=10000, allow_blank=True, required=False, default="",
                                             help_text="Markdown.")
    client_type = serializers.ChoiceField(choices=App.CLIENT_TYPES, default=App.CLIENT_CONFIDENTIAL)
    install_callback_url = OptionalURLField(required=False, default="",
                                            help_text="Called when an account turns the app on.")
    uninstall_callback_url = OptionalURLField(required=False, default="",
                                              help_text="Called when an account turns the app off.")
    homepage_url = OptionalURLField(required=False, default="")
    support_url = OptionalURLField(required=False, default="")
    privacy_url = OptionalURLField(required=False, default="")


class EarlyAccessAddSerializer(serializers.Serializer):
    account_code = serializers.CharField(max_length=50, help_text="For example: outerheaven")


class ProgressionRequestCreateSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=5000, help_text="What changed, how to test it, anything to know.")


class LimitRequestCreateSerializer(serializers.Serializer):
    account_code = serializers.CharField(
        max_length=50, required=False, allow_null=True, default=None,
        help_text="One account with an installation of the app or early access; omit or null for every installation.",
    )
    use_case = serializers.CharField(max_length=4000, help_text="What the app is doing with these calls.")
    calls_per_period = serializers.IntegerField(min_value=1, max_value=MAX_COUNT)
    period = serializers.ChoiceField(choices=RateLimitIncreaseRequest.Period.choices)
    processing_time = serializers.CharField(max_length=300, help_text="How fast those calls must be processed.")
    optimisations = serializers.CharField(max_length=4000, help_text="What was already done to make fewer calls.")
    requested_limit = serializers.IntegerField(min_value=1, max_value=MAX_COUNT, help_text="Calls per minute wanted.")
    requested_until = serializers.DateField(required=False, allow_null=True, default=None,
                                            help_text="Until when it is needed; omit or null for no end.")


class UsageQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="Start (inclusive); default: 24 hours before until.")
    until = serializers.DateTimeField(required=False, help_text="End (exclusive); default: now.")

    def validate(self, data):
        try:
            until = data.get("until") or timezone.now()
            since = data.get("since") or until - USAGE_DEFAULT_RANGE
        except OverflowError:
            raise serializers.ValidationError({"since": "That range is outside the calendar."}) from None
        if since >= until:
            raise serializers.ValidationError({"since": "since must be before until."})
        if until - since > USAGE_MAX_RANGE:
            raise serializers.ValidationError({"since": "Ask for at most 7 days at a time."})
        return {"since": since, "until": until}


# --- Optimisation report (issue 11) ----------------------------------------------------------------

FINDING_CODES = ["batch_single_id_reads", "repeated_search", "calls_during_retry_after", "expired_token_calls",
                 "error_rate", "bursty_traffic"]


class OptimisationReportQuerySerializer(serializers.Serializer):
    days = serializers.ChoiceField(choices=[(1, "1"), (7, "7"), (14, "14")], default=7,
                                   help_text="The period: the last 1, 7 or 14 days (default 7).")
    account = serializers.CharField(required=False, max_length=50,
                                    help_text="An account the app is installed in; omit for every installation.")


class ReportPeriodSerializer(serializers.Serializer):
    days = serializers.IntegerField(read_only=True)
    start = serializers.DateTimeField(read_only=True)
    end = serializers.DateTimeField(read_only=True, help_text="Exclusive: the end of the current minute.")
    minutes = serializers.IntegerField(read_only=True)


class ReportLimitSerializer(serializers.Serializer):
    account = serializers.CharField(read_only=True)
    per_minute = serializers.IntegerField(read_only=True, help_text="The installation's limit now.")
    is_default = serializers.BooleanField(read_only=True)
    granted_until = serializers.DateTimeField(read_only=True, allow_null=True)


class ReportTotalsSerializer(serializers.Serializer):
    requests = serializers.IntegerField(read_only=True, help_text="Admitted and throttled.")
    admitted = serializers.IntegerField(read_only=True)
    throttled = serializers.IntegerField(read_only=True)
    failed = serializers.IntegerField(read_only=True, help_text="Requests that failed authentication (apart).")
    status_2xx = serializers.IntegerField(read_only=True)
    status_4xx = serializers.IntegerField(read_only=True)
    status_5xx = serializers.IntegerField(read_only=True)
    error_rate = serializers.FloatField(read_only=True, help_text="4xx and 5xx answers over admitted calls.")
    in_retry_wait = serializers.IntegerField(read_only=True)
    expired_token = serializers.IntegerField(read_only=True)
    active_minutes = serializers.IntegerField(read_only=True, help_text="Minutes with at least one request.")


class ReportEndpointSerializer(serializers.Serializer):
    endpoint = serializers.CharField(read_only=True, help_text="Method, resource path and kind, space-separated.")
    method = serializers.CharField(read_only=True)
    resource = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True, help_text="single, idset, search, collection or other.")
    requests = serializers.IntegerField(read_only=True)
    share = serializers.FloatField(read_only=True)
    repeated_searches = serializers.IntegerField(read_only=True)


class ReportMinuteSerializer(serializers.Serializer):
    minute = serializers.DateTimeField(read_only=True)
    account = serializers.CharField(read_only=True)
    requests = serializers.IntegerField(read_only=True)
    admitted = serializers.IntegerField(read_only=True)
    throttled = serializers.IntegerField(read_only=True)
    limit = serializers.IntegerField(read_only=True, help_text="The installation's limit in that minute.")
    share_of_limit = serializers.FloatField(read_only=True)


class ReportFindingSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=FINDING_CODES, read_only=True, help_text="Stable: scripts may rely on it.")
    title = serializers.CharField(read_only=True)
    advice = serializers.CharField(read_only=True, help_text="What to change, in plain words.")
    calls_saved_per_minute = serializers.FloatField(
        read_only=True, help_text="Requests the change would have saved over the period per active minute.")
    evidence = serializers.DictField(read_only=True, help_text="The figures behind the finding.")


class OptimisationReportSerializer(serializers.Serializer):
    app_ref = serializers.CharField(read_only=True)
    account = serializers.CharField(read_only=True, allow_null=True, help_text="Null: every installation.")
    period = ReportPeriodSerializer(read_only=True)
    limits = ReportLimitSerializer(many=True, read_only=True)
    totals = ReportTotalsSerializer(read_only=True)
    endpoints = ReportEndpointSerializer(many=True, read_only=True, help_text="Most requested first.")
    busiest_minutes = ReportMinuteSerializer(many=True, read_only=True,
                                             help_text="The five minutes nearest to (or over) their limit.")
    peak_requests_per_minute = serializers.IntegerField(read_only=True)
    mean_requests_per_minute = serializers.FloatField(
        read_only=True, help_text="From the first minute with requests to the end of the period.")
    peak_to_mean = serializers.FloatField(read_only=True, allow_null=True)
    findings = ReportFindingSerializer(many=True, read_only=True,
                                       help_text="What to change, most calls saved first; empty when nothing.")


# --- Conformance report (portal/conformance.py) ------------------------------------------------------------

from portal.conformance import CODES as CONFORMANCE_CODES  # noqa: E402 (kept with this block, apart)


@extend_schema_field({"type": "number", "nullable": True})
class FigureField(serializers.Field):
    """A figure of a check's evidence: a count, a rate from 0 to 1, or null when it has no value."""

    def to_representation(self, value):
        return value


class ConformanceEvidenceSerializer(serializers.Serializer):
    summary = serializers.CharField(help_text="One plain sentence.")
    figures = serializers.DictField(child=FigureField(), help_text="The counts behind the sentence, by name.")


class ConformanceCheckSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=list(CONFORMANCE_CODES), help_text="Stable; scripts may rely on it.")
    title = serializers.CharField()
    passed = serializers.BooleanField(allow_null=True, help_text="null: no evidence either way (no traffic, or "
                                                                 "not applicable).")
    evidence = ConformanceEvidenceSerializer()
    fix = serializers.CharField(allow_null=True, help_text="What to change; only when the check failed.")


class ConformancePeriodSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    days = serializers.IntegerField()


class ConformanceCountsSerializer(serializers.Serializer):
    passed = serializers.IntegerField()
    failed = serializers.IntegerField()
    no_evidence = serializers.IntegerField()


class ConformanceReportSerializer(serializers.Serializer):
    app_ref = serializers.CharField()
    accounts = serializers.ListField(child=serializers.CharField(), help_text="The early-access accounts looked at.")
    period = ConformancePeriodSerializer()
    counts = ConformanceCountsSerializer()
    checks = ConformanceCheckSerializer(many=True, help_text="Always every check, in the same order.")
