from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1–50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False, help_text="Can sign in to the Django admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class DeveloperProfile(models.Model):
    class PartnerStatus(models.TextChoices):
        NONE = "none", "Not a partner"
        APPLIED = "applied", "Partner application pending"
        APPROVED = "approved", "Partner"
        REJECTED = "rejected", "Partner application rejected"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="developer_profile")
    dev_ref = models.CharField(
        "developer reference", max_length=50, unique=True, validators=[slug_validator],
        help_text="Your public developer reference, sent as brightpearl-dev-ref.",
    )
    company = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=150)
    contact_phone = models.CharField(max_length=40, blank=True)
    website = models.URLField(blank=True)
    partner_status = models.CharField(max_length=20, choices=PartnerStatus.choices, default=PartnerStatus.NONE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.dev_ref

    @property
    def is_partner(self) -> bool:
        return self.partner_status == self.PartnerStatus.APPROVED


class ReviewedRequest(models.Model):
    """What every request a reviewer decides shares (partner applications here; progression and rate-limit
    increase requests in the portal): who decided, when, and the note the requester is sent."""

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def is_decided(self) -> bool:
        return self.decided_at is not None


class PartnerApplication(ReviewedRequest):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    profile = models.ForeignKey(DeveloperProfile, on_delete=models.CASCADE, related_name="partner_applications")
    company_name = models.CharField(max_length=200)
    company_number = models.CharField("company registration number", max_length=50, blank=True)
    country = models.CharField(max_length=100)
    website = models.URLField()
    description = models.TextField("what your company builds", max_length=4000)
    agreement_accepted_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["submitted_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile"], condition=models.Q(status="pending"), name="one_pending_partner_application"
            )
        ]

    def __str__(self):
        return f"Partner application of {self.profile_id} ({self.status})"


class Account(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    code = models.CharField("account code", max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    datacentre = models.CharField(max_length=20, default="eu1")
    show_beta_apps = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    # The owners do not want usage alerts (an app reaching 80% / 100% of its limit) for this account.
    usage_alerts_muted = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        STAFF = "staff", "Staff"

    # The roles that manage an account (turn apps on and off, staff tokens, members' syncs); the predicates
    # built on them are in ``accounts.roles``.
    MANAGER_ROLES = (Role.OWNER, Role.ADMIN)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account__code", "user__email"]
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="one_membership_per_user")]

    def __str__(self):
        return f"{self.user.email} in {self.account.code} ({self.role})"

    @property
    def can_manage(self) -> bool:
        """Owner or admin."""
        return self.role in self.MANAGER_ROLES


class AuditEvent(models.Model):
    """One row per state change, written in the same transaction as the change."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    verb = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=80)
    target_id = models.CharField(max_length=64)
    target_label = models.CharField(max_length=200, blank=True)
    # Lets the audit log be filtered by app without this app knowing what an app is.
    app_ref = models.CharField(max_length=50, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self):
        return f"{self.verb} {self.target_type}:{self.target_id}"


class Notification(models.Model):
    """A message for one person, shown in the portal (and usually also emailed)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.subject


class PrivateApp(models.Model):
    """An account's own app for scripts: staff tokens are created under it."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="private_apps")
    name = models.CharField(max_length=100)
    identifier = models.CharField(
        max_length=70, unique=True,
        help_text="<account_code>_<4–16 lowercase letters, digits or hyphens>; sent as brightpearl-app-ref.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account__code", "identifier"]

    def __str__(self):
        return self.identifier


class StaffToken(models.Model):
    """A secret a script sends as brightpearl-staff-token. Shown once; only its SHA-256 is kept.
    All staff tokens of one account share one fixed rate pool."""

    private_app = models.ForeignKey(PrivateApp, on_delete=models.CASCADE, related_name="staff_tokens")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_tokens",
        help_text="The account member the token acts for.",
    )
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise the token in lists.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class DeveloperApiKey(models.Model):
    """A developer's personal key for the developer JSON API. Shown once; only its SHA-256 is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"
