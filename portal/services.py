"""Writes for apps, early access, progression review and platform settings.

Every service is atomic, checks who may act (another developer's app is refused here too, not only
in views), writes its audit event in the same transaction and schedules side effects after commit.
"""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Account, DeveloperProfile
from accounts.notifications import notify
from accounts.roles import require_reviewer
from portal import conformance, hooks, lifecycle, owner_notices
from portal.credentials import SECRET_OVERLAP_CHOICES, callback_signing_key, new_client_secret
from portal.locks import lock_own_app
from portal.models import (
    App,
    EarlyAccess,
    PlatformSettings,
    ProgressionRequest,
    RetiredAppRef,
    ReviewCheck,
    ReviewStage,
    Stage,
)
from portal.selectors import platform_settings
from portal.validation import parse_redirect_uris, validate_app_url, validate_icon, validate_outgoing_url

APP_FIELDS = (
    "name", "short_description", "long_description", "install_callback_url", "uninstall_callback_url",
    "homepage_url", "support_url", "privacy_url", "client_type",
)
# URLs the portal calls: checked by the egress guard when they are set or changed.
CALLBACK_FIELDS = ("install_callback_url", "uninstall_callback_url")


def _developer_profile(user) -> DeveloperProfile:
    profile = DeveloperProfile.objects.filter(user=user).first()
    if profile is None:
        raise PermissionDenied("Register as a developer first.")
    return profile


def _apply_fields(app: App, fields: dict) -> None:
    unknown = set(fields) - set(APP_FIELDS) - {"redirect_uris", "icon"}
    if unknown:
        raise ValueError(f"unknown app fields: {sorted(unknown)}")
    for name in APP_FIELDS:
        if name in fields:
            value = fields[name]
            value = value.strip() if isinstance(value, str) else value
            if name.endswith("_url") and value:
                try:
                    validate_app_url(value)
                except ValidationError as exc:
                    raise ValidationError({name: exc.messages}) from None
            if name in CALLBACK_FIELDS and value and value != getattr(app, name):
                try:
                    validate_outgoing_url(value, purpose=name.replace("_", " "))
                except ValidationError as exc:
                    raise ValidationError({name: exc.messages}) from exc
            setattr(app, name, value)
    if "redirect_uris" in fields:
        try:
            app.redirect_uris = " ".join(parse_redirect_uris(fields["redirect_uris"]))
        except ValidationError as exc:
            raise ValidationError({"redirect_uris": exc.messages}) from exc
    if fields.get("icon"):
        try:
            validate_icon(fields["icon"])
        except ValidationError as exc:
            raise ValidationError({"icon": exc.messages}) from exc
        app.icon = fields["icon"]


@transaction.atomic
def app_register(*, actor, app_ref: str, **fields) -> tuple[App, str]:
    """Register a new app for a developer. Returns the app and its client secret, which is shown
    once and stored only hashed (public clients get no secret). Raises ValidationError for bad or
    duplicate input; nothing is saved then."""
    _developer_profile(actor)
    app = App(
        user=actor, client_id=(app_ref or "").strip(), authorization_grant_type=App.GRANT_AUTHORIZATION_CODE,
        stage=Stage.IN_DEVELOPMENT,
    )
    _apply_fields(app, fields)
    if app.client_type not in (App.CLIENT_CONFIDENTIAL, App.CLIENT_PUBLIC):
        raise ValidationError({"client_type": "Choose confidential or public."})
    secret = new_client_secret() if app.client_type == App.CLIENT_CONFIDENTIAL else ""
    app.client_secret = secret
    app.callback_signing_key = callback_signing_key(secret) if secret else ""
    app.full_clean(exclude=["client_secret", "icon"])
    retired = RetiredAppRef.objects.select_for_update().filter(app_ref=app.client_id).first()
    if retired is not None and retired.user_id != actor.pk:
        # A deleted app's reference is never handed to someone else with its history.
        raise ValidationError({"app_ref": "That app reference is already taken."})
    try:
        with transaction.atomic():
            app.save()
    except IntegrityError:
        raise ValidationError({"app_ref": "That app reference is already taken."}) from None
    data = {"client_type": app.client_type}
    if retired is not None:
        retired.delete()  # its developer takes it back: the history was theirs
        data["reused_retired_ref"] = True
    audit_record(actor=actor, verb="app.registered", target=app, app_ref=app.client_id, data=data)
    return app, secret


@transaction.atomic
def app_update(*, app: App, actor, **fields) -> App:
    """Edit an app's details (the app reference never changes)."""
    app = lock_own_app(app, actor)
    before = {name: getattr(app, name) for name in (*APP_FIELDS, "redirect_uris")}
    _apply_fields(app, fields)
    # Compare with the stored type: a public app's client_secret is not empty (the field hashes
    # the empty string), so it cannot tell us whether the app ever had a real secret.
    if before["client_type"] == App.CLIENT_PUBLIC and app.client_type == App.CLIENT_CONFIDENTIAL:
        raise ValidationError({"client_type": "A public app cannot become confidential; register a new app instead."})
    app.full_clean(exclude=["client_secret", "icon"])
    app.save()
    changed = {name: [before[name], getattr(app, name)] for name in before if before[name] != getattr(app, name)}
    if fields.get("icon"):
        changed["icon"] = ["", app.icon.name]
    audit_record(actor=actor, verb="app.updated", target=app, app_ref=app.client_id, data={"changed": changed})
    return app


@transaction.atomic
def app_delete(*, app: App, actor) -> None:
    """Delete an app: only while in development and never installed. Its reference stays reserved for
    its developer (``RetiredAppRef``): nobody else can register it and inherit its history."""
    app = lock_own_app(app, actor)
    if app.stage != Stage.IN_DEVELOPMENT or app.is_suspended:
        raise ValidationError("Only apps in development can be deleted.")
    if app.installations.exists():
        raise ValidationError("This app has been installed in an account, so it cannot be deleted.")
    audit_record(actor=actor, verb="app.deleted", target=app, app_ref=app.client_id, data={"name": app.name})
    RetiredAppRef.objects.update_or_create(app_ref=app.client_id,
                                           defaults={"user": actor, "retired_at": timezone.now()})
    app.delete()


@transaction.atomic
def app_rotate_secret(*, app: App, actor, overlap_seconds: int = 0) -> str:
    """Issue a new client secret and return it. The replaced secret stops working at once
    (``overlap_seconds=0``) or keeps working beside the new one for 1 or 24 hours, so that the app can
    be redeployed without downtime; a secret still overlapping from an earlier rotation ends now.
    Raises ValidationError for a public client or an overlap that is not offered."""
    app = lock_own_app(app, actor)
    if app.client_type != App.CLIENT_CONFIDENTIAL:
        raise ValidationError("Public clients have no secret to rotate.")
    if overlap_seconds not in SECRET_OVERLAP_CHOICES:
        raise ValidationError("Choose when the old secret stops working: at once, in 1 hour or in 24 hours.")
    now = timezone.now()
    if overlap_seconds:
        app.previous_client_secret = app.client_secret  # already hashed
        app.previous_secret_expires_at = now + timedelta(seconds=overlap_seconds)
    else:
        app.previous_client_secret, app.previous_secret_expires_at = "", None
    secret = new_client_secret()
    app.client_secret = secret
    app.callback_signing_key = callback_signing_key(secret)
    app.secret_rotated_at = now
    app.save(update_fields=["client_secret", "previous_client_secret", "previous_secret_expires_at",
                            "callback_signing_key", "secret_rotated_at", "updated"])
    audit_record(actor=actor, verb="app.secret_rotated", target=app, app_ref=app.client_id,
                 data={"old_secret_expires_at":
                       app.previous_secret_expires_at.isoformat() if overlap_seconds else None})
    return secret


@transaction.atomic
def early_access_add(*, app: App, account_code: str, actor) -> EarlyAccess:
    """Give an account early access to the app (the account must exist; a per-app cap applies)."""
    app = lock_own_app(app, actor)
    code = (account_code or "").strip().lower()
    account = Account.objects.filter(code=code).first()
    if account is None:
        raise ValidationError({"account_code": f"There is no account with the code “{code}”."})
    if app.early_access.filter(account=account).exists():
        raise ValidationError({"account_code": f"{code} already has early access."})
    cap = platform_settings().early_access_cap
    if app.early_access.count() >= cap:
        raise ValidationError({"account_code": f"An app can have at most {cap} early-access accounts."})
    grant = EarlyAccess.objects.create(app=app, account=account, added_by=actor)
    audit_record(actor=actor, verb="early_access.added", target=grant, app_ref=app.client_id,
                 data={"account": account.code})
    owner_notices.tell_owners_early_access(app=app, account=account, developer=actor)
    return grant


@transaction.atomic
def early_access_remove(*, grant: EarlyAccess, actor) -> None:
    app = lock_own_app(grant.app, actor)
    grant = EarlyAccess.objects.select_related("account").filter(pk=grant.pk, app=app).first()
    if grant is None:
        raise ValidationError("That account no longer has early access.")
    audit_record(actor=actor, verb="early_access.removed", target=grant, app_ref=app.client_id,
                 data={"account": grant.account.code})
    grant.delete()


@transaction.atomic
def progression_request_submit(*, app: App, actor, message: str) -> ProgressionRequest:
    """A partner asks a reviewer to move their app to the next stage. The conformance report as it stands now
    (what the app did in its early-access accounts) is stored with the request for the reviewer.

    Refused (nothing created) when: the actor is not the app's developer or not a partner; intake is
    closed (with the platform's message); the app is suspended or already released; a request is
    already pending; or the message is empty."""
    app = lock_own_app(app, actor)
    profile = _developer_profile(actor)
    if not profile.is_partner:
        raise PermissionDenied("Only partners can request lifecycle progression. Apply to become a partner first.")
    intake = platform_settings()
    if not intake.progression_intake_open:
        raise ValidationError(intake.intake_closed_message or "Progression requests are paused.")
    if app.is_suspended:
        raise ValidationError("A suspended app cannot progress.")
    to_stage = lifecycle.next_stage(app.stage)
    if to_stage is None:
        raise ValidationError("This app is already released.")
    if not message.strip():
        raise ValidationError({"message": "Tell the reviewer what changed and what to test."})
    if app.progression_requests.filter(status=ProgressionRequest.Status.PENDING).exists():
        raise ValidationError("A request for this app is already waiting for review.")
    report = conformance.conformance_report(app=app)
    request = ProgressionRequest.objects.create(
        app=app, from_stage=app.stage, to_stage=to_stage, submitted_by=actor, message=message.strip(),
        conformance=report.as_dict(),
    )
    stages = [stage for stage in ReviewStage.objects.filter(is_active=True) if to_stage in (stage.required_for or [])]
    ReviewCheck.objects.bulk_create([ReviewCheck(request=request, stage=stage) for stage in stages])
    audit_record(actor=actor, verb="progression.requested", target=request, app_ref=app.client_id,
                 data={"from": request.from_stage, "to": to_stage})
    return request


def _lock_pending(request: ProgressionRequest) -> ProgressionRequest:
    locked = ProgressionRequest.objects.select_for_update().select_related("app").get(pk=request.pk)
    if locked.status != ProgressionRequest.Status.PENDING:
        raise ValidationError(f"This request is already {locked.get_status_display().lower()}.")
    return locked


@transaction.atomic
def progression_request_withdraw(*, request: ProgressionRequest, actor) -> ProgressionRequest:
    """The developer withdraws their pending request."""
    lock_own_app(request.app, actor)
    request = _lock_pending(request)
    request.status, request.decided_at = ProgressionRequest.Status.WITHDRAWN, timezone.now()
    request.save(update_fields=["status", "decided_at"])
    audit_record(actor=actor, verb="progression.withdrawn", target=request, app_ref=request.app.client_id)
    return request


@transaction.atomic
def review_check_set(*, request: ProgressionRequest, stage_key: str, checked: bool, actor,
                     note: str = "") -> ReviewCheck:
    """A reviewer ticks (or unticks) one review stage of a pending request."""
    require_reviewer(actor)
    request = _lock_pending(request)
    check = request.checks.select_related("stage").filter(stage__key=stage_key).first()
    if check is None:
        raise ValidationError("That review stage does not apply to this request.")
    check.checked_by, check.checked_at = (actor, timezone.now()) if checked else (None, None)
    check.note = note.strip()[:500]
    check.save(update_fields=["checked_by", "checked_at", "note"])
    audit_record(actor=actor, verb="progression.check_ticked" if checked else "progression.check_unticked",
                 target=request, app_ref=request.app.client_id, data={"stage": stage_key})
    return check


@transaction.atomic
def progression_request_approve(*, request: ProgressionRequest, actor, note: str = "") -> ProgressionRequest:
    """A reviewer approves a pending request once every required review stage is ticked; the app
    moves to the requested stage through the lifecycle transition."""
    require_reviewer(actor)
    request = _lock_pending(request)
    missing = [check.stage.label for check in request.checks.select_related("stage") if not check.is_checked]
    if missing:
        raise ValidationError(f"Tick every review stage first (still open: {', '.join(missing)}).")
    app = App.objects.get(pk=request.app_id)
    if app.is_suspended:
        raise ValidationError("A suspended app cannot progress.")
    if app.stage != request.from_stage:
        raise ValidationError(f"The app is no longer {request.from_stage}.")
    lifecycle.apply_transition(app=app, to_state=request.to_stage, actor=actor, note=note,
                               data={"request": request.pk})
    request.status, request.reviewer = ProgressionRequest.Status.APPROVED, actor
    request.decided_at, request.decision_note = timezone.now(), note.strip()
    request.save(update_fields=["status", "reviewer", "decided_at", "decision_note"])
    audit_record(actor=actor, verb="progression.approved", target=request, app_ref=app.client_id,
                 data={"to": request.to_stage, "note": note.strip()})
    return request


@transaction.atomic
def progression_request_reject(*, request: ProgressionRequest, actor, note: str) -> ProgressionRequest:
    """A reviewer rejects a pending request; the note is required and sent to the developer."""
    require_reviewer(actor)
    request = _lock_pending(request)
    if not (note or "").strip():
        raise ValidationError({"note": "Say why the request is rejected; the developer will read it."})
    request.status, request.reviewer = ProgressionRequest.Status.REJECTED, actor
    request.decided_at, request.decision_note = timezone.now(), note.strip()
    request.save(update_fields=["status", "reviewer", "decided_at", "decision_note"])
    audit_record(actor=actor, verb="progression.rejected", target=request, app_ref=request.app.client_id,
                 data={"to": request.to_stage, "note": note.strip()})
    notify(user=request.app.user, subject=f"{request.app.name}: your {request.to_stage} request was not approved",
           body=note.strip(), link=reverse("portal:app_detail", args=[request.app_id]))
    return request


@transaction.atomic
def app_suspend(*, app: App, actor, reason: str) -> App:
    """A reviewer suspends an app from any stage, with a reason. Every token of every installation
    is revoked in the same transaction, so lifting the suspension later does not revive them."""
    app = lifecycle.apply_transition(app=app, to_state=lifecycle.SUSPENDED, actor=actor, note=reason)
    # The OAuth server revokes every token of the app and the sync engine stops every connection, external
    # ones included, in this transaction.
    revoked = hooks.tell(hooks.APP_SUSPENDED, app=app, reason="The app was suspended.")
    if any(revoked.values()):
        audit_record(actor=actor, verb="app.tokens_revoked", target=app, app_ref=app.client_id, data=revoked)
    owner_notices.tell_owners_app_suspended(app=app)
    return app


@transaction.atomic
def app_unsuspend(*, app: App, actor) -> App:
    """A reviewer lifts a suspension; the app returns to the stage it had. The owners of the accounts
    where it is on are told."""
    app = lifecycle.apply_transition(app=app, to_state=App.objects.get(pk=app.pk).stage, actor=actor)
    owner_notices.tell_owners_app_unsuspended(app=app)
    return app


SETTINGS_FIELDS = ("progression_intake_open", "intake_closed_message", "default_instance_limit",
                   "limit_period_seconds", "staff_token_limit", "early_access_cap")


@transaction.atomic
def platform_settings_update(*, actor, **fields) -> PlatformSettings:
    """Reviewers change platform settings; the change is audited with before and after values."""
    require_reviewer(actor)
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings: {sorted(unknown)}")
    platform_settings()
    row = PlatformSettings.objects.select_for_update().get(pk=1)
    changed = {}
    for name, value in fields.items():
        if getattr(row, name) != value:
            changed[name] = [getattr(row, name), value]
            setattr(row, name, value)
    if not row.progression_intake_open and not row.intake_closed_message.strip():
        raise ValidationError({"intake_closed_message": "Say why intake is closed; developers will see it."})
    for name in ("default_instance_limit", "limit_period_seconds", "staff_token_limit", "early_access_cap"):
        if getattr(row, name) < 1:
            raise ValidationError({name: "Must be at least 1."})
    row.full_clean()
    row.updated_by = actor
    row.save()
    if changed:
        audit_record(actor=actor, verb="platform_settings.updated", target=row, data={"changed": changed})
    return row
