"""The sync engine's rows. A connection is one account's API reached for one app (the built-in platform
through the app's installation, or an external Brightpearl-protocol API). Each (connection, resource) is a
stream, the unit the dispatcher schedules; a stream's run is one pass over the resource, cut into short slices.

The tables were created by the integrations app before the sync engine became its own app; they keep their
names (``db_table``), so moving the models moved no data.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations.models import Delivery, DeliveryAttempt
from integrations.ratelimit import installation_pool_name
from portal.models import Installation


class SyncResource(models.TextChoices):
    PRODUCT = "product", "Products"
    ORDER = "order", "Orders"
    CONTACT = "contact", "Contacts"


class SyncSpec(models.Model):
    """An app's managed sync: which resources the portal mirrors, how often, and where changes go."""

    app = models.OneToOneField("portal.App", on_delete=models.CASCADE, related_name="sync_spec")
    is_enabled = models.BooleanField(default=False)
    resources = models.JSONField(default=list, blank=True)
    interval_seconds = models.PositiveIntegerField(default=900)
    webhook_url = models.URLField(max_length=500, blank=True)
    # The app's client secret, encrypted, for the portal's own token exchanges (managed connections).
    client_secret_encrypted = models.TextField(blank=True)
    secret_saved_at = models.DateTimeField(null=True, blank=True)
    webhook_paused_at = models.DateTimeField(null=True, blank=True)
    webhook_pause_reason = models.CharField(max_length=300, blank=True)
    webhook_failures = models.PositiveIntegerField(default=0, help_text="Failed attempts in a row.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "integrations_syncspec"

    def __str__(self):
        return f"managed sync of {self.app_id}"

    @property
    def webhook_is_paused(self) -> bool:
        return self.webhook_paused_at is not None


class Connection(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorisation"
        PAUSED = "paused", "Paused"
        DISABLED = "disabled", "Disabled"

    # The badge tone of each status (the CSS modifier the pages draw it with; partials/status_badge.html).
    STATUS_TONES = {Status.ACTIVE: "approved", Status.NEEDS_REAUTH: "rejected", Status.PAUSED: "beta",
                    Status.DISABLED: "withdrawn"}

    class Kind(models.TextChoices):
        MANAGED = "managed", "Managed (turned on in the app store)"
        EXTERNAL = "external", "External account"

    app = models.ForeignKey("portal.App", on_delete=models.CASCADE, related_name="sync_connections")
    installation = models.ForeignKey(
        Installation, null=True, blank=True, on_delete=models.CASCADE, related_name="sync_connections"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    account_code = models.CharField(max_length=64)
    name = models.CharField(max_length=100, blank=True)
    authorize_url = models.URLField(max_length=500)
    token_url = models.URLField(max_length=500)
    api_base_url = models.URLField(max_length=500, help_text="Up to and including /public-api/<account code>.")
    client_id = models.CharField(max_length=100)
    client_secret_encrypted = models.TextField(blank=True, help_text="External connections only.")
    access_token_encrypted = models.TextField(blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    token_version = models.PositiveIntegerField(default=0)
    # External connections: the provider's limit (calls per window). Managed ones use the installation's.
    rate_limit = models.PositiveIntegerField(null=True, blank=True)
    rate_window_seconds = models.PositiveIntegerField(default=60)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    status_reason = models.CharField(max_length=300, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "integrations_connection"
        ordering = ["account_code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["installation"], condition=models.Q(installation__isnull=False),
                                    name="one_connection_per_installation"),
        ]

    @property
    def status_badge(self) -> tuple[str, str]:
        """(tone, label) of the status, for partials/status_badge.html."""
        return self.STATUS_TONES.get(self.status, "withdrawn"), self.get_status_display()

    def __str__(self):
        return f"{self.account_code} for app {self.app_id}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def pool_name(self) -> str:
        """The rate pool the connection's calls draw on (the gateway's name for an installation)."""
        return installation_pool_name(self.installation_id) if self.installation_id else f"connection:{self.pk}"


class SyncStream(models.Model):
    """One resource of one connection: its checkpoint, schedule and lease."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="streams")
    resource = models.CharField(max_length=20, choices=SyncResource.choices)
    next_run_at = models.DateTimeField(default=timezone.now)
    last_dispatched_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Fencing token: bumped by every dispatch; a checkpoint written under an older epoch is refused.
    epoch = models.PositiveBigIntegerField(default=0)
    # Position of the run in progress: {"since": iso updatedOn or null, "offset": rows at "since" done}.
    cursor = models.JSONField(default=dict, blank=True)
    watermark = models.DateTimeField(null=True, blank=True, help_text="Newest updatedOn of the last complete run.")
    current_run = models.ForeignKey("SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    full_resync_requested = models.BooleanField(default=False)
    failures = models.PositiveSmallIntegerField(default=0, help_text="Failed attempts in a row.")
    last_error = models.CharField(max_length=500, blank=True)
    # True while the connection is not active (needs re-authorising, paused, disabled): the stream is left out of
    # the dispatcher's order index, so passes do not step over it. Kept in step by every status change
    # (sync.services._park_streams) and set when the stream is made (_ensure_streams).
    parked = models.BooleanField(default=False, db_default=False)

    class Meta:
        db_table = "integrations_syncstream"
        ordering = ["connection_id", "resource"]
        constraints = [models.UniqueConstraint(fields=["connection", "resource"], name="one_stream_per_resource")]
        indexes = [
            models.Index(fields=["next_run_at", "last_dispatched_at"]),
            # The dispatcher's order (sync/dispatcher.py): walked, not sorted, when every stream is due. Parked
            # streams (inactive connections) are not in it, so a pass never reads past them.
            models.Index(fields=["last_dispatched_at", "id"], name="sync_stream_dispatch_order",
                         condition=models.Q(parked=False)),
            # Live leases only (a finished slice clears its lease): the in-flight count reads a few rows.
            models.Index(fields=["lease_expires_at"], name="sync_stream_leased",
                         condition=models.Q(lease_expires_at__isnull=False)),
        ]

    def __str__(self):
        return f"{self.resource} of connection {self.connection_id}"

    @property
    def next_run_is_full(self) -> bool:
        """A new run reads everything the first time and when a full resync was asked for."""
        return self.watermark is None or self.full_resync_requested


class SyncRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    # The badge tone of each status (the CSS modifier the pages draw it with; partials/status_badge.html).
    STATUS_TONES = {Status.RUNNING: "pending", Status.SUCCEEDED: "approved", Status.FAILED: "rejected",
                    Status.CANCELLED: "withdrawn"}

    class Kind(models.TextChoices):
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"

    stream = models.ForeignKey(SyncStream, on_delete=models.CASCADE, related_name="runs")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    resource = models.CharField(max_length=20, choices=SyncResource.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    trigger = models.CharField(max_length=20, default="schedule")  # schedule | manual | connected | resync
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING, db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    records_seen = models.PositiveIntegerField(default=0)
    records_created = models.PositiveIntegerField(default=0)
    records_updated = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    throttled = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "integrations_syncrun"
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["connection", "-started_at"])]

    @property
    def status_badge(self) -> tuple[str, str]:
        """(tone, label) of the status, for partials/status_badge.html."""
        return self.STATUS_TONES.get(self.status, "withdrawn"), self.get_status_display()

    def __str__(self):
        return f"{self.kind} run of {self.resource} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class SyncRecord(models.Model):
    """One mirrored record of a connection's account."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="records")
    resource = models.CharField(max_length=20, choices=SyncResource.choices)
    remote_id = models.CharField(max_length=64)
    payload = models.JSONField()
    payload_hash = models.CharField(max_length=64)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "integrations_syncrecord"
        constraints = [
            models.UniqueConstraint(fields=["connection", "resource", "remote_id"], name="one_record_per_remote_id")
        ]


class WebhookDelivery(Delivery):
    """A batch of change events sent (or to be sent) to the app's webhook URL (integrations/deliveries.py
    sends it; sync/webhooks.py makes it and keeps a connection's deliveries in order)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="deliveries")
    request_body = models.TextField()
    event_count = models.PositiveIntegerField(default=0)

    class Meta(Delivery.Meta):
        db_table = "integrations_webhookdelivery"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]


class WebhookAttempt(DeliveryAttempt):
    """One POST of a delivery, with what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")

    class Meta(DeliveryAttempt.Meta):
        db_table = "integrations_webhookattempt"


class ChangeEvent(models.Model):
    """A record created or changed by a sync, waiting for (or sent in) a webhook delivery."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="change_events")
    resource = models.CharField(max_length=20, choices=SyncResource.choices)
    remote_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    delivery = models.ForeignKey(WebhookDelivery, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="events")

    class Meta:
        db_table = "integrations_changeevent"
        ordering = ["id"]
        indexes = [models.Index(fields=["connection", "delivery", "id"])]
