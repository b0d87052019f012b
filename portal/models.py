from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from oauth2_provider.models import AbstractApplication, ApplicationManager

from accounts.models import Account, ReviewedRequest

app_ref_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{1,48}[a-z0-9])$",
    "Use 3–50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)


class Stage(models.TextChoices):
    IN_DEVELOPMENT = "in_development", "In development"
    ALPHA = "alpha", "Alpha"
    BETA = "beta", "Beta"
    RELEASED = "released", "Released"


class App(AbstractApplication):
    """A developer's app. It is also the OAuth client (django-oauth-toolkit's swapped Application):
    the app reference is the client id."""

    client_id = models.CharField(
        "app reference", max_length=50, unique=True, validators=[app_ref_validator],
        help_text="Lowercase letters, digits and hyphens. It is your OAuth client_id and cannot change.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="apps", verbose_name="developer"
    )
    short_description = models.CharField(max_length=160)
    long_description = models.TextField(blank=True, max_length=10000)
    icon = models.ImageField(upload_to="app-icons/", blank=True)
    install_callback_url = models.URLField(blank=True)
    uninstall_callback_url = models.URLField(blank=True)
    homepage_url = models.URLField(blank=True)
    support_url = models.URLField(blank=True)
    privacy_url = models.URLField(blank=True)
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.IN_DEVELOPMENT, db_index=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.TextField(blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    # After a rotation with overlap, the replaced secret (hashed like client_secret) works until then.
    previous_client_secret = models.CharField(max_length=255, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # HMAC key for signed callbacks and webhooks: SHA-256 of "callback-signing:" + client secret (hex).
    # The developer derives the same key from the secret they were shown; the secret itself is only hashed.
    callback_signing_key = models.CharField(max_length=64, blank=True)
    # The developer does not want usage alerts (80% / 100% of the limit) for this app.
    usage_alerts_muted = models.BooleanField(default=False, db_default=False)

    objects = ApplicationManager()

    class Meta(AbstractApplication.Meta):
        ordering = ["name", "id"]

    def __str__(self):
        return self.name or self.client_id

    @property
    def app_ref(self) -> str:
        return self.client_id

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def lifecycle_state(self) -> str:
        """The stage, or "suspended" while suspended (the stage is kept for unsuspending)."""
        return "suspended" if self.suspended_at else self.stage

    @property
    def redirect_uri_list(self) -> list[str]:
        return self.redirect_uris.split()

    @property
    def previous_secret_is_live(self) -> bool:
        return bool(self.previous_client_secret and self.previous_secret_expires_at
                    and self.previous_secret_expires_at > timezone.now())

    def previous_secret_matches(self, secret: str) -> bool:
        """True while a rotation's overlap lasts and ``secret`` is the replaced secret."""
        return self.previous_secret_is_live and bool(secret) and check_password(secret, self.previous_client_secret)


class RetiredAppRef(models.Model):
    """The reference of a deleted app. It stays reserved for the developer who had it: audit events and
    other history are kept by app reference, so handing it to someone else would show them the old
    app's history (and let them answer for it)."""

    app_ref = models.CharField(max_length=100, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    retired_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.app_ref


class PlatformSettings(models.Model):
    """One row of platform-wide settings, editable by reviewers."""

    progression_intake_open = models.BooleanField(default=True)
    intake_closed_message = models.TextField(
        blank=True,
        default="Progression requests are paused while we revise our review systems and processes. "
        "Please check back soon.",
    )
    default_instance_limit = models.PositiveIntegerField(
        default=200, help_text="API calls per period per installation."
    )
    limit_period_seconds = models.PositiveIntegerField(default=60)
    staff_token_limit = models.PositiveIntegerField(
        default=200, help_text="Fixed calls per period per account, shared by its staff tokens."
    )
    early_access_cap = models.PositiveIntegerField(default=25, help_text="Most early-access accounts per app.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "platform settings"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="platform_settings_single_row")]

    def __str__(self):
        return "Platform settings"


class EarlyAccess(models.Model):
    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="early_access")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="early_access")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "early access"
        ordering = ["added_at", "id"]
        constraints = [models.UniqueConstraint(fields=["app", "account"], name="early_access_once_per_account")]

    def __str__(self):
        return f"{self.account.code} for {self.app.client_id}"


class ReviewStage(models.Model):
    """A kind of review (design, code, security…) and the target stages it is required for."""

    key = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    required_for = models.JSONField(
        default=list, blank=True, help_text='Target stages that need this review, e.g. ["beta", "released"].'
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.label


class ProgressionRequest(ReviewedRequest):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="progression_requests")
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    message = models.TextField(max_length=5000)
    submitted_at = models.DateTimeField(default=timezone.now)
    # The conformance report (what the app did in its early-access accounts) as it stood at submission.
    conformance = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["submitted_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["app"], condition=models.Q(status="pending"), name="one_pending_progression_per_app"
            )
        ]

    def __str__(self):
        return f"{self.app.client_id}: {self.from_stage} → {self.to_stage}"


class ReviewCheck(models.Model):
    """One review stage of one progression request, ticked by a reviewer."""

    request = models.ForeignKey(ProgressionRequest, on_delete=models.CASCADE, related_name="checks")
    stage = models.ForeignKey(ReviewStage, on_delete=models.PROTECT, related_name="+")
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["stage__position", "id"]
        constraints = [models.UniqueConstraint(fields=["request", "stage"], name="one_check_per_stage")]

    @property
    def is_checked(self) -> bool:
        return self.checked_at is not None


class Installation(models.Model):
    """One app turned on in one account (an "installation instance")."""

    app = models.ForeignKey(App, on_delete=models.PROTECT, related_name="installations")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="installations")
    is_enabled = models.BooleanField(default=True)
    installed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    installed_at = models.DateTimeField(default=timezone.now)
    disabled_at = models.DateTimeField(null=True, blank=True)
    last_call_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-installed_at", "id"]
        constraints = [models.UniqueConstraint(fields=["app", "account"], name="one_installation_per_account")]

    def __str__(self):
        return f"{self.app.client_id} in {self.account.code}"

    @property
    def instance_id(self) -> str:
        return str(self.pk)


class RateLimitIncreaseRequest(ReviewedRequest):
    """A developer asks for more API calls per minute, for all installations or one account."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class Period(models.TextChoices):
        MINUTE = "minute", "per minute"
        HOUR = "hour", "per hour"
        DAY = "day", "per day"

    app = models.ForeignKey(App, on_delete=models.CASCADE, related_name="limit_requests")
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: every installation of the app.",
    )
    use_case = models.TextField("what the app is doing", max_length=4000)
    calls_per_period = models.PositiveIntegerField("how many calls it makes")
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.HOUR)
    processing_time = models.CharField("how fast those calls must be processed", max_length=300)
    optimisations = models.TextField("what was already optimised", max_length=4000)
    requested_limit = models.PositiveIntegerField(help_text="Calls per minute wanted.")
    requested_until = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    granted_limit = models.PositiveIntegerField(null=True, blank=True)
    granted_until = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(default=timezone.now)
    # The optimisation report (with its what-if at the requested limit) as it stood when the request was
    # submitted: the reviewer sees it beside the developer's answers, and a link to the live one.
    evidence = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]

    def __str__(self):
        return f"{self.app.client_id}: {self.requested_limit}/min"


class UsageFigures(models.Model):
    """What the gateway counted for one rate pool in one period (rolled up from its Redis counters).

    ``calls`` were admitted into the pool, ``throttled`` refused because it was full, ``failed`` named the
    installation without valid credentials (counted apart, in a pool of their own). Of the admitted calls,
    ``status_4xx`` and ``status_5xx`` were answered with those statuses (the gateway's own refusals, such as
    an expired token, included); the rest succeeded. ``in_retry_wait`` counts requests (admitted or not)
    sent before a Retry-After the pool had been given ran out; ``expired_token`` requests sent with an
    access token past its expiry. ``endpoints`` maps an endpoint class (``"GET product-service/product
    single"``: method, service/resource, and ``single``, ``idset``, ``search`` or ``collection``) to its
    requests; ``repeated_searches`` maps a search endpoint to the requests that repeated an identical
    search (same path and query) already sent in the same minute. ``while_off`` counts, of the failed
    requests, those that named the installation while it was turned off (the app kept calling)."""

    # The counters, and the figures that map an endpoint class to its requests (summed key by key).
    COUNTERS = ("calls", "throttled", "failed", "status_4xx", "status_5xx", "in_retry_wait", "expired_token",
                "while_off")
    BY_ENDPOINT = ("endpoints", "repeated_searches")

    calls = models.PositiveIntegerField(default=0, db_default=0)
    throttled = models.PositiveIntegerField(default=0, db_default=0)
    failed = models.PositiveIntegerField(default=0, db_default=0)
    status_4xx = models.PositiveIntegerField(default=0, db_default=0)
    status_5xx = models.PositiveIntegerField(default=0, db_default=0)
    in_retry_wait = models.PositiveIntegerField(default=0, db_default=0)
    expired_token = models.PositiveIntegerField(default=0, db_default=0)
    while_off = models.PositiveIntegerField(default=0, db_default=0)
    endpoints = models.JSONField(default=dict, db_default={}, blank=True)
    repeated_searches = models.JSONField(default=dict, db_default={}, blank=True)

    class Meta:
        abstract = True


class UsageMinute(UsageFigures):
    """API calls of one installation in one minute. Kept ``PORTAL["USAGE_MINUTE_RETENTION_DAYS"]`` days,
    then folded into :class:`UsageHour`."""

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="usage")
    minute = models.DateTimeField()

    class Meta:
        ordering = ["minute"]
        constraints = [models.UniqueConstraint(fields=["installation", "minute"], name="one_usage_row_per_minute")]


class UsageHour(UsageFigures):
    """API calls of one installation in one hour: minutes older than the minute retention, folded. The
    busiest minute of the hour is kept, since limits are per minute."""

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="usage_hours")
    hour = models.DateTimeField()
    peak_calls = models.PositiveIntegerField(default=0)
    peak_throttled = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["hour"]
        constraints = [models.UniqueConstraint(fields=["installation", "hour"], name="one_usage_row_per_hour")]


class StaffUsageMinute(UsageFigures):
    """API calls of one account's staff-token pool in one minute."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="staff_usage")
    minute = models.DateTimeField()

    class Meta:
        ordering = ["minute"]
        constraints = [models.UniqueConstraint(fields=["account", "minute"], name="one_staff_usage_row_per_minute")]


class UsageAlert(models.Model):
    """An installation reached a share of its limit within a minute, and its developer and account owners
    were told. One row per installation, level and day: the unique constraint is what keeps alerts to one a
    day."""

    class Level(models.IntegerChoices):
        NEAR = 80, "80% of the limit"
        AT = 100, "100% of the limit"

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="usage_alerts")
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    day = models.DateField()
    minute = models.DateTimeField()  # the minute that reached the level
    calls = models.PositiveIntegerField()  # calls in that minute (admitted and throttled)
    limit = models.PositiveIntegerField()  # the limit per minute then
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["installation", "level", "day"], name="one_alert_per_level_a_day"),
        ]

