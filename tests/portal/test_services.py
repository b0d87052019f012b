"""Portal services: app registration and credentials, early access, progression review, platform settings."""

import io
import os

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import AuditEvent, Notification
from portal import services
from portal.models import App, EarlyAccess, Installation, PlatformSettings, ProgressionRequest, ReviewCheck, Stage
from tests.factories import AccountFactory, AppFactory, DeveloperFactory, UserFactory, make_reviewer

REVIEW_STAGES_FOR = {
    Stage.ALPHA: ["functionality"],
    Stage.BETA: ["functionality", "design", "code", "security"],
    Stage.RELEASED: ["functionality", "design", "code", "security", "documentation"],
}


def _register(actor, **overrides) -> tuple[App, str]:
    fields = {
        "app_ref": "stock-sync",
        "name": "Stock Sync",
        "short_description": "Keeps stock levels in step.",
        "redirect_uris": "https://stock.example.com/oauth/callback",
        "client_type": App.CLIENT_CONFIDENTIAL,
        **overrides,
    }
    return services.app_register(actor=actor, **fields)


def _png(size=(64, 64), noise=False) -> SimpleUploadedFile:
    image = Image.new("RGB", size, "white")
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile("icon.png", buffer.getvalue(), content_type="image/png")


def _partner_app(stage=Stage.IN_DEVELOPMENT, **kwargs) -> App:
    return AppFactory(user=DeveloperFactory(partner=True).user, stage=stage, **kwargs)


def _pending_request(app: App) -> ProgressionRequest:
    return services.progression_request_submit(app=app, actor=app.user, message="New sync screen; test with SKU 42.")


def _nothing_created():
    assert not App.objects.exists()
    assert not AuditEvent.objects.exists()


# --- app_register -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_app_register_returns_a_secret_that_is_stored_only_hashed():
    # given
    developer = DeveloperFactory().user

    # when
    app, secret = _register(developer)

    # then
    stored = App.objects.get(pk=app.pk)
    assert secret
    assert secret not in stored.client_secret
    assert identify_hasher(stored.client_secret).algorithm == "portal_secret_sha256"
    assert stored.client_secret.startswith("portal_secret_sha256$")
    assert check_password(secret, stored.client_secret) is True
    assert check_password(secret + "x", stored.client_secret) is False
    assert (stored.client_id, stored.user, stored.stage) == ("stock-sync", developer, Stage.IN_DEVELOPMENT)
    assert stored.suspended_at is None
    assert stored.redirect_uri_list == ["https://stock.example.com/oauth/callback"]
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.app_ref) == ("app.registered", developer, "stock-sync")
    assert event.data == {"client_type": App.CLIENT_CONFIDENTIAL}


@pytest.mark.django_db
def test_app_register_gives_a_public_client_no_secret():
    # given
    developer = DeveloperFactory().user

    # when
    app, secret = _register(developer, client_type=App.CLIENT_PUBLIC)

    # then
    assert secret == ""
    assert App.objects.get(pk=app.pk).client_type == App.CLIENT_PUBLIC
    assert AuditEvent.objects.get().data == {"client_type": App.CLIENT_PUBLIC}


@pytest.mark.django_db
def test_app_register_refuses_a_user_without_a_developer_profile():
    # given
    user = UserFactory()

    # when
    with pytest.raises(PermissionDenied):
        _register(user)

    # then
    _nothing_created()


@pytest.mark.django_db
@pytest.mark.parametrize("app_ref", ["Bad Ref", "a", "-x-", "with_underscore", "", "UPPER", "x" * 51])
def test_app_register_refuses_a_bad_app_ref_and_creates_nothing(app_ref):
    # given
    developer = DeveloperFactory().user

    # when
    with pytest.raises(ValidationError) as exc:
        _register(developer, app_ref=app_ref)

    # then
    assert "client_id" in exc.value.message_dict
    _nothing_created()


@pytest.mark.django_db
def test_app_register_refuses_a_duplicate_app_ref_and_creates_nothing():
    # given
    first, _ = _register(DeveloperFactory().user, app_ref="stock-sync")
    other_developer = DeveloperFactory().user

    # when
    with pytest.raises(ValidationError) as exc:
        _register(other_developer, app_ref="stock-sync", name="Another")

    # then
    assert "client_id" in exc.value.message_dict
    assert list(App.objects.values_list("pk", flat=True)) == [first.pk]
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("redirect_uris,reason", [
    ("http://example.com/cb", "must use https"),
    ("https://example.com/cb#fragment", "must not contain a #fragment"),
    ("https://example.com/cb http://example.com/other", "must use https"),
    ("not a url", "is not a valid URL"),
    ("", "Add at least one redirect URI"),
    ("javascript:alert(1)", "is not a valid URL"),
])
def test_app_register_refuses_a_bad_redirect_uri_and_creates_nothing(redirect_uris, reason):
    # given
    developer = DeveloperFactory().user

    # when
    with pytest.raises(ValidationError) as exc:
        _register(developer, redirect_uris=redirect_uris)

    # then
    assert any(reason in message for message in exc.value.message_dict["redirect_uris"])
    _nothing_created()


@pytest.mark.django_db
@pytest.mark.parametrize("redirect_uri", [
    "http://localhost:8080/cb", "http://127.0.0.1/cb", "https://example.com/cb?tenant=1",
])
def test_app_register_accepts_https_and_loopback_http_redirects(redirect_uri):
    # given
    developer = DeveloperFactory().user

    # when
    app, _ = _register(developer, redirect_uris=redirect_uri)

    # then
    assert App.objects.get(pk=app.pk).redirect_uri_list == [redirect_uri]


@pytest.mark.django_db
def test_app_register_stores_a_valid_icon():
    # given
    developer = DeveloperFactory().user

    # when
    app, _ = _register(developer, icon=_png())

    # then
    stored = App.objects.get(pk=app.pk)
    assert stored.icon.name.startswith("app-icons/")
    with stored.icon.open("rb") as icon:
        assert Image.open(icon).format == "PNG"


@pytest.mark.django_db
def test_app_register_refuses_an_oversized_icon_and_creates_nothing(settings):
    # given
    settings.PORTAL = {**settings.PORTAL, "ICON_MAX_BYTES": 1024}
    developer = DeveloperFactory().user
    icon = _png(size=(64, 64), noise=True)
    assert icon.size > 1024

    # when
    with pytest.raises(ValidationError) as exc:
        _register(developer, icon=icon)

    # then
    assert "icon" in exc.value.message_dict
    assert "too large" in exc.value.message_dict["icon"][0]
    _nothing_created()


@pytest.mark.django_db
def test_app_register_refuses_an_icon_with_too_many_pixels_and_creates_nothing():
    # given
    developer = DeveloperFactory().user

    # when
    with pytest.raises(ValidationError) as exc:
        _register(developer, icon=_png(size=(1025, 8)))

    # then
    assert "icon" in exc.value.message_dict
    _nothing_created()


@pytest.mark.django_db
def test_app_register_refuses_a_non_image_icon_and_creates_nothing():
    # given
    developer = DeveloperFactory().user
    icon = SimpleUploadedFile("icon.png", b"#!/bin/sh\necho not an image\n", content_type="image/png")

    # when
    with pytest.raises(ValidationError) as exc:
        _register(developer, icon=icon)

    # then
    assert exc.value.message_dict["icon"] == ["The icon must be a PNG, JPEG, GIF or WebP image."]
    _nothing_created()


@pytest.mark.django_db
def test_app_register_stores_script_in_descriptions_as_plain_text():
    # given
    developer = DeveloperFactory().user
    script = "<script>alert('x')</script>"

    # when
    app, _ = _register(developer, name=f"Sync {script}", short_description=script,
                       long_description=f"**Bold** {script}")

    # then
    stored = App.objects.get(pk=app.pk)
    assert stored.name == f"Sync {script}"
    assert stored.short_description == script
    assert stored.long_description == f"**Bold** {script}"


# --- app_update ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_app_update_by_the_developer_changes_fields_and_audits_the_change():
    # given
    app = AppFactory(name="Old name")

    # when
    services.app_update(app=app, actor=app.user, name="New name", redirect_uris="https://new.example.com/cb")

    # then
    stored = App.objects.get(pk=app.pk)
    assert (stored.name, stored.redirect_uris) == ("New name", "https://new.example.com/cb")
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor) == ("app.updated", app.user)
    assert event.data == {"changed": {
        "name": ["Old name", "New name"],
        "redirect_uris": ["https://app.example.com/callback", "https://new.example.com/cb"],
    }}


@pytest.mark.django_db
def test_app_update_by_another_developer_is_refused_and_changes_nothing():
    # given
    app = AppFactory(name="Mine")
    intruder = DeveloperFactory().user
    before = App.objects.values().get(pk=app.pk)

    # when
    with pytest.raises(PermissionDenied):
        services.app_update(app=app, actor=intruder, name="Pwned", redirect_uris="https://evil.example.com/cb")

    # then
    assert App.objects.values().get(pk=app.pk) == before
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_app_update_cannot_turn_a_public_client_into_a_confidential_one():
    # given
    developer = DeveloperFactory().user
    app, _ = _register(developer, client_type=App.CLIENT_PUBLIC)

    # when
    with pytest.raises(ValidationError) as exc:
        services.app_update(app=app, actor=developer, client_type=App.CLIENT_CONFIDENTIAL)

    # then
    assert "client_type" in exc.value.message_dict
    assert App.objects.get(pk=app.pk).client_type == App.CLIENT_PUBLIC
    assert AuditEvent.objects.filter(verb="app.updated").count() == 0


@pytest.mark.django_db
def test_app_update_refuses_an_http_redirect_and_changes_nothing():
    # given
    app = AppFactory()

    # when
    with pytest.raises(ValidationError):
        services.app_update(app=app, actor=app.user, redirect_uris="http://example.com/cb")

    # then
    assert App.objects.get(pk=app.pk).redirect_uris == "https://app.example.com/callback"
    assert not AuditEvent.objects.exists()


# --- app_delete ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_app_delete_removes_an_uninstalled_app_in_development():
    # given
    app = AppFactory(stage=Stage.IN_DEVELOPMENT)
    pk, developer = app.pk, app.user

    # when
    services.app_delete(app=app, actor=developer)

    # then
    assert not App.objects.filter(pk=pk).exists()
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.target_id, event.app_ref) == (
        "app.deleted", developer, str(pk), app.client_id)


@pytest.mark.django_db
def test_a_deleted_apps_reference_is_never_handed_to_another_developer():
    # given a developer's app with some history, deleted
    first = DeveloperFactory().user
    app, _ = _register(first)
    services.app_rotate_secret(app=app, actor=first)
    services.app_delete(app=app, actor=first)
    history = AuditEvent.objects.filter(app_ref="stock-sync").count()

    # when another developer registers the same reference
    with pytest.raises(ValidationError) as refused:
        _register(DeveloperFactory().user)

    # then it is refused as taken, and nothing is created
    assert "already taken" in str(refused.value)
    assert not App.objects.filter(client_id="stock-sync").exists()
    assert AuditEvent.objects.filter(app_ref="stock-sync").count() == history


@pytest.mark.django_db
def test_a_developer_may_take_back_the_reference_of_their_own_deleted_app():
    # given
    developer = DeveloperFactory().user
    app, _ = _register(developer)
    services.app_delete(app=app, actor=developer)

    # when
    again, _ = _register(developer)

    # then
    assert again.client_id == "stock-sync" and again.user == developer
    event = AuditEvent.objects.filter(verb="app.registered").latest("pk")
    assert event.data["reused_retired_ref"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("stage", [Stage.ALPHA, Stage.BETA, Stage.RELEASED])
def test_app_delete_is_refused_once_the_app_left_development(stage):
    # given
    app = AppFactory(stage=stage)

    # when
    with pytest.raises(ValidationError):
        services.app_delete(app=app, actor=app.user)

    # then
    assert App.objects.filter(pk=app.pk, stage=stage).exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_app_delete_is_refused_when_suspended():
    # given
    from django.utils import timezone

    app = AppFactory(stage=Stage.IN_DEVELOPMENT, suspended_at=timezone.now(), suspended_reason="Abuse.")

    # when
    with pytest.raises(ValidationError):
        services.app_delete(app=app, actor=app.user)

    # then
    assert App.objects.filter(pk=app.pk).exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_app_delete_is_refused_when_an_installation_exists():
    # given
    app = AppFactory(stage=Stage.IN_DEVELOPMENT)
    Installation.objects.create(app=app, account=AccountFactory(), is_enabled=False)

    # when
    with pytest.raises(ValidationError):
        services.app_delete(app=app, actor=app.user)

    # then
    assert App.objects.filter(pk=app.pk).exists()
    assert Installation.objects.filter(app=app).count() == 1
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_app_delete_by_another_developer_is_refused():
    # given
    app = AppFactory()

    # when
    with pytest.raises(PermissionDenied):
        services.app_delete(app=app, actor=DeveloperFactory().user)

    # then
    assert App.objects.filter(pk=app.pk).exists()
    assert not AuditEvent.objects.exists()


# --- app_rotate_secret --------------------------------------------------------------------------


@pytest.mark.django_db
def test_app_rotate_secret_replaces_the_old_secret():
    # given
    developer = DeveloperFactory().user
    app, old_secret = _register(developer)

    # when
    new_secret = services.app_rotate_secret(app=app, actor=developer)

    # then
    stored = App.objects.get(pk=app.pk)
    assert new_secret and new_secret != old_secret
    assert check_password(old_secret, stored.client_secret) is False
    assert check_password(new_secret, stored.client_secret) is True
    assert identify_hasher(stored.client_secret).algorithm == "portal_secret_sha256"
    assert stored.secret_rotated_at is not None
    event = AuditEvent.objects.get(verb="app.secret_rotated")
    assert (event.actor, event.app_ref) == (developer, "stock-sync")
    assert new_secret not in str(event.data)


@pytest.mark.django_db
def test_app_rotate_secret_is_refused_for_a_public_client():
    # given
    developer = DeveloperFactory().user
    app, _ = _register(developer, client_type=App.CLIENT_PUBLIC)
    stored_before = App.objects.get(pk=app.pk).client_secret

    # when
    with pytest.raises(ValidationError):
        services.app_rotate_secret(app=app, actor=developer)

    # then
    assert App.objects.get(pk=app.pk).client_secret == stored_before
    assert not AuditEvent.objects.filter(verb="app.secret_rotated").exists()


@pytest.mark.django_db
def test_app_rotate_secret_by_another_developer_is_refused():
    # given
    developer = DeveloperFactory().user
    app, secret = _register(developer)

    # when
    with pytest.raises(PermissionDenied):
        services.app_rotate_secret(app=app, actor=DeveloperFactory().user)

    # then
    assert check_password(secret, App.objects.get(pk=app.pk).client_secret) is True
    assert not AuditEvent.objects.filter(verb="app.secret_rotated").exists()


# --- early access -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_early_access_add_grants_an_existing_account():
    # given
    app = AppFactory()
    account = AccountFactory(code="outerheaven")

    # when
    grant = services.early_access_add(app=app, account_code="  OuterHeaven ", actor=app.user)

    # then
    assert EarlyAccess.objects.get() == grant
    assert (grant.app, grant.account, grant.added_by) == (app, account, app.user)
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.app_ref, event.data) == (
        "early_access.added", app.user, app.client_id, {"account": "outerheaven"})


@pytest.mark.django_db
def test_early_access_add_refuses_an_unknown_account_code():
    # given
    app = AppFactory()

    # when
    with pytest.raises(ValidationError) as exc:
        services.early_access_add(app=app, account_code="nosuchaccount", actor=app.user)

    # then
    assert "account_code" in exc.value.message_dict
    assert not EarlyAccess.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_early_access_add_refuses_a_duplicate():
    # given
    app = AppFactory()
    account = AccountFactory()
    services.early_access_add(app=app, account_code=account.code, actor=app.user)

    # when
    with pytest.raises(ValidationError) as exc:
        services.early_access_add(app=app, account_code=account.code, actor=app.user)

    # then
    assert "already has early access" in exc.value.message_dict["account_code"][0]
    assert EarlyAccess.objects.count() == 1
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_early_access_add_enforces_the_platform_cap():
    # given
    PlatformSettings.objects.update_or_create(pk=1, defaults={"early_access_cap": 2})
    app = AppFactory()
    first, second, third = AccountFactory(), AccountFactory(), AccountFactory()
    services.early_access_add(app=app, account_code=first.code, actor=app.user)
    services.early_access_add(app=app, account_code=second.code, actor=app.user)

    # when
    with pytest.raises(ValidationError) as exc:
        services.early_access_add(app=app, account_code=third.code, actor=app.user)

    # then
    assert "at most 2" in exc.value.message_dict["account_code"][0]
    assert set(EarlyAccess.objects.values_list("account", flat=True)) == {first.pk, second.pk}
    assert AuditEvent.objects.filter(verb="early_access.added").count() == 2


@pytest.mark.django_db
def test_early_access_cap_is_per_app():
    # given
    PlatformSettings.objects.update_or_create(pk=1, defaults={"early_access_cap": 1})
    account = AccountFactory()
    full_app = AppFactory()
    services.early_access_add(app=full_app, account_code=account.code, actor=full_app.user)
    other_app = AppFactory()

    # when
    services.early_access_add(app=other_app, account_code=account.code, actor=other_app.user)

    # then
    assert EarlyAccess.objects.filter(account=account).count() == 2


@pytest.mark.django_db
def test_early_access_add_by_another_developer_is_refused():
    # given
    app = AppFactory()
    account = AccountFactory()

    # when
    with pytest.raises(PermissionDenied):
        services.early_access_add(app=app, account_code=account.code, actor=DeveloperFactory().user)

    # then
    assert not EarlyAccess.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_early_access_remove_revokes_the_grant():
    # given
    app = AppFactory()
    account = AccountFactory()
    grant = services.early_access_add(app=app, account_code=account.code, actor=app.user)

    # when
    services.early_access_remove(grant=grant, actor=app.user)

    # then
    assert not EarlyAccess.objects.exists()
    event = AuditEvent.objects.get(verb="early_access.removed")
    assert (event.actor, event.app_ref, event.data) == (app.user, app.client_id, {"account": account.code})


@pytest.mark.django_db
def test_early_access_remove_by_another_developer_is_refused():
    # given
    app = AppFactory()
    grant = services.early_access_add(app=app, account_code=AccountFactory().code, actor=app.user)

    # when
    with pytest.raises(PermissionDenied):
        services.early_access_remove(grant=grant, actor=DeveloperFactory().user)

    # then
    assert EarlyAccess.objects.filter(pk=grant.pk).exists()
    assert not AuditEvent.objects.filter(verb="early_access.removed").exists()


# --- progression_request_submit -----------------------------------------------------------------


def _nothing_requested():
    assert not ProgressionRequest.objects.exists()
    assert not ReviewCheck.objects.exists()
    assert not AuditEvent.objects.filter(verb__startswith="progression.").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("from_stage,to_stage", [
    (Stage.IN_DEVELOPMENT, Stage.ALPHA), (Stage.ALPHA, Stage.BETA), (Stage.BETA, Stage.RELEASED),
])
def test_progression_request_submit_creates_the_request_and_its_review_checks(from_stage, to_stage):
    # given
    app = _partner_app(stage=from_stage)

    # when
    request = services.progression_request_submit(app=app, actor=app.user, message="  Ready for review.  ")

    # then
    stored = ProgressionRequest.objects.get()
    assert stored == request
    assert (stored.app, stored.from_stage, stored.to_stage) == (app, from_stage, to_stage)
    assert (stored.status, stored.submitted_by, stored.message) == (
        ProgressionRequest.Status.PENDING, app.user, "Ready for review.")
    assert sorted(ReviewCheck.objects.filter(request=stored).values_list("stage__key", flat=True)) == sorted(
        REVIEW_STAGES_FOR[to_stage])
    assert not ReviewCheck.objects.filter(checked_at__isnull=False).exists()
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor, event.app_ref, event.data) == (
        "progression.requested", app.user, app.client_id, {"from": from_stage, "to": to_stage})
    assert App.objects.get(pk=app.pk).stage == from_stage


@pytest.mark.django_db
def test_progression_request_submit_skips_inactive_review_stages():
    # given
    from portal.models import ReviewStage

    ReviewStage.objects.filter(key="design").update(is_active=False)
    app = _partner_app(stage=Stage.ALPHA)

    # when
    request = _pending_request(app)

    # then
    assert sorted(request.checks.values_list("stage__key", flat=True)) == ["code", "functionality", "security"]


@pytest.mark.django_db
@pytest.mark.parametrize("partner_status", ["none", "applied", "rejected"])
def test_progression_request_submit_by_a_non_partner_is_refused(partner_status):
    # given
    profile = DeveloperFactory(partner_status=partner_status)
    app = AppFactory(user=profile.user)

    # when
    with pytest.raises(PermissionDenied):
        services.progression_request_submit(app=app, actor=profile.user, message="Please.")

    # then
    _nothing_requested()


@pytest.mark.django_db
def test_progression_request_submit_for_another_developers_app_is_refused():
    # given
    app = _partner_app()
    other_partner = DeveloperFactory(partner=True).user

    # when
    with pytest.raises(PermissionDenied):
        services.progression_request_submit(app=app, actor=other_partner, message="Please.")

    # then
    _nothing_requested()


@pytest.mark.django_db
def test_progression_request_submit_while_intake_is_closed_shows_the_platform_message():
    # given
    PlatformSettings.objects.update_or_create(
        pk=1, defaults={"progression_intake_open": False, "intake_closed_message": "Reviews resume in June."})
    app = _partner_app()

    # when
    with pytest.raises(ValidationError) as exc:
        services.progression_request_submit(app=app, actor=app.user, message="Please.")

    # then
    assert exc.value.messages == ["Reviews resume in June."]
    _nothing_requested()


@pytest.mark.django_db
def test_progression_request_submit_for_a_suspended_app_is_refused():
    # given
    from django.utils import timezone

    app = _partner_app(stage=Stage.ALPHA, suspended_at=timezone.now(), suspended_reason="Abuse.")

    # when
    with pytest.raises(ValidationError) as exc:
        services.progression_request_submit(app=app, actor=app.user, message="Please.")

    # then
    assert "suspended" in exc.value.messages[0]
    _nothing_requested()


@pytest.mark.django_db
def test_progression_request_submit_for_a_released_app_is_refused():
    # given
    app = _partner_app(stage=Stage.RELEASED)

    # when
    with pytest.raises(ValidationError) as exc:
        services.progression_request_submit(app=app, actor=app.user, message="Please.")

    # then
    assert "already released" in exc.value.messages[0]
    _nothing_requested()


@pytest.mark.django_db
def test_progression_request_submit_refuses_a_second_pending_request():
    # given
    app = _partner_app()
    first = _pending_request(app)

    # when
    with pytest.raises(ValidationError) as exc:
        services.progression_request_submit(app=app, actor=app.user, message="Again.")

    # then
    assert "already waiting" in exc.value.messages[0]
    assert list(ProgressionRequest.objects.all()) == [first]
    assert ReviewCheck.objects.count() == 1
    assert AuditEvent.objects.filter(verb="progression.requested").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("message", ["", "   \n\t "])
def test_progression_request_submit_refuses_an_empty_message(message):
    # given
    app = _partner_app()

    # when
    with pytest.raises(ValidationError) as exc:
        services.progression_request_submit(app=app, actor=app.user, message=message)

    # then
    assert "message" in exc.value.message_dict
    _nothing_requested()


# --- progression_request_withdraw ---------------------------------------------------------------


@pytest.mark.django_db
def test_progression_request_withdraw_by_the_developer():
    # given
    app = _partner_app()
    request = _pending_request(app)

    # when
    services.progression_request_withdraw(request=request, actor=app.user)

    # then
    request.refresh_from_db()
    assert request.status == ProgressionRequest.Status.WITHDRAWN
    assert request.decided_at is not None
    assert AuditEvent.objects.filter(verb="progression.withdrawn", actor=app.user, app_ref=app.client_id).count() == 1
    # a new request can now be made
    assert _pending_request(app).status == ProgressionRequest.Status.PENDING


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["another-developer", "reviewer"])
def test_progression_request_withdraw_by_someone_else_is_refused(who):
    # given
    app = _partner_app()
    request = _pending_request(app)
    actor = DeveloperFactory(partner=True).user if who == "another-developer" else make_reviewer()

    # when
    with pytest.raises(PermissionDenied):
        services.progression_request_withdraw(request=request, actor=actor)

    # then
    request.refresh_from_db()
    assert request.status == ProgressionRequest.Status.PENDING
    assert not AuditEvent.objects.filter(verb="progression.withdrawn").exists()


@pytest.mark.django_db
def test_progression_request_withdraw_twice_is_refused():
    # given
    app = _partner_app()
    request = _pending_request(app)
    services.progression_request_withdraw(request=request, actor=app.user)

    # when
    with pytest.raises(ValidationError):
        services.progression_request_withdraw(request=request, actor=app.user)

    # then
    assert AuditEvent.objects.filter(verb="progression.withdrawn").count() == 1


# --- review checks, approval and rejection ------------------------------------------------------


def _tick_all(request: ProgressionRequest, reviewer, *, except_key: str | None = None) -> None:
    for key in request.checks.values_list("stage__key", flat=True):
        if key != except_key:
            services.review_check_set(request=request, stage_key=key, checked=True, actor=reviewer)


@pytest.mark.django_db
def test_review_check_set_ticks_and_unticks_a_stage():
    # given
    app = _partner_app(stage=Stage.ALPHA)
    request = _pending_request(app)
    reviewer = make_reviewer()

    # when
    services.review_check_set(request=request, stage_key="design", checked=True, actor=reviewer, note="Looks good.")

    # then
    check = ReviewCheck.objects.get(request=request, stage__key="design")
    assert (check.checked_by, check.note, check.is_checked) == (reviewer, "Looks good.", True)
    assert AuditEvent.objects.filter(verb="progression.check_ticked", actor=reviewer, data={"stage": "design"}).exists()

    # when
    services.review_check_set(request=request, stage_key="design", checked=False, actor=reviewer)

    # then
    check.refresh_from_db()
    assert (check.checked_by, check.checked_at) == (None, None)
    assert AuditEvent.objects.filter(verb="progression.check_unticked").count() == 1


@pytest.mark.django_db
def test_review_check_set_refuses_a_stage_the_request_does_not_need():
    # given
    request = _pending_request(_partner_app(stage=Stage.IN_DEVELOPMENT))

    # when
    with pytest.raises(ValidationError):
        services.review_check_set(request=request, stage_key="documentation", checked=True, actor=make_reviewer())

    # then
    assert not ReviewCheck.objects.filter(checked_at__isnull=False).exists()
    assert list(request.checks.values_list("stage__key", flat=True)) == ["functionality"]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["developer", "staff-not-reviewer"])
def test_review_check_set_by_a_non_reviewer_is_refused(who):
    # given
    app = _partner_app()
    request = _pending_request(app)
    actor = app.user if who == "developer" else UserFactory(is_staff=True)

    # when
    with pytest.raises(PermissionDenied):
        services.review_check_set(request=request, stage_key="functionality", checked=True, actor=actor)

    # then
    assert not ReviewCheck.objects.filter(checked_at__isnull=False).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["developer", "staff-not-reviewer", "inactive-reviewer"])
def test_progression_request_approve_by_a_non_reviewer_is_refused(who):
    # given
    app = _partner_app()
    request = _pending_request(app)
    _tick_all(request, make_reviewer())
    actor = {"developer": lambda: app.user, "staff-not-reviewer": lambda: UserFactory(is_staff=True),
             "inactive-reviewer": lambda: make_reviewer(is_active=False)}[who]()

    # when
    with pytest.raises(PermissionDenied):
        services.progression_request_approve(request=request, actor=actor)

    # then
    assert App.objects.get(pk=app.pk).stage == Stage.IN_DEVELOPMENT
    request.refresh_from_db()
    assert (request.status, request.reviewer) == (ProgressionRequest.Status.PENDING, None)
    assert not AuditEvent.objects.filter(verb__in=["app.promoted", "progression.approved"]).exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("from_stage,open_key", [
    (Stage.IN_DEVELOPMENT, "functionality"), (Stage.ALPHA, "security"), (Stage.BETA, "documentation"),
])
def test_progression_request_approve_is_refused_while_a_check_is_open(from_stage, open_key):
    # given
    app = _partner_app(stage=from_stage)
    request = _pending_request(app)
    reviewer = make_reviewer()
    _tick_all(request, reviewer, except_key=open_key)

    # when
    with pytest.raises(ValidationError) as exc:
        services.progression_request_approve(request=request, actor=reviewer)

    # then
    assert "Tick every review stage" in exc.value.messages[0]
    assert App.objects.get(pk=app.pk).stage == from_stage
    assert ProgressionRequest.objects.get(pk=request.pk).status == ProgressionRequest.Status.PENDING
    assert not AuditEvent.objects.filter(verb__in=["app.promoted", "progression.approved"]).exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_progression_request_approve_is_refused_after_a_check_is_unticked():
    # given
    app = _partner_app(stage=Stage.ALPHA)
    request = _pending_request(app)
    reviewer = make_reviewer()
    _tick_all(request, reviewer)
    services.review_check_set(request=request, stage_key="code", checked=False, actor=reviewer)

    # when
    with pytest.raises(ValidationError):
        services.progression_request_approve(request=request, actor=reviewer)

    # then
    assert App.objects.get(pk=app.pk).stage == Stage.ALPHA


@pytest.mark.django_db
@pytest.mark.parametrize("from_stage,to_stage", [
    (Stage.IN_DEVELOPMENT, Stage.ALPHA), (Stage.ALPHA, Stage.BETA), (Stage.BETA, Stage.RELEASED),
])
def test_progression_request_approve_moves_the_app_and_notifies_the_developer(
    from_stage, to_stage, django_capture_on_commit_callbacks, mailoutbox,
):
    # given
    app = _partner_app(stage=from_stage)
    request = _pending_request(app)
    reviewer = make_reviewer()
    _tick_all(request, reviewer)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.progression_request_approve(request=request, actor=reviewer, note=" Nice work. ")

    # then
    assert App.objects.get(pk=app.pk).stage == to_stage
    request.refresh_from_db()
    assert (request.status, request.reviewer, request.decision_note) == (
        ProgressionRequest.Status.APPROVED, reviewer, "Nice work.")
    assert request.decided_at is not None
    promoted = AuditEvent.objects.get(verb="app.promoted")
    assert (promoted.actor, promoted.app_ref) == (reviewer, app.client_id)
    assert promoted.data == {"from": from_stage, "to": to_stage, "note": "Nice work.", "request": request.pk}
    approved = AuditEvent.objects.get(verb="progression.approved")
    assert (approved.actor, approved.target_id, approved.data) == (
        reviewer, str(request.pk), {"to": to_stage, "note": "Nice work."})
    notification = Notification.objects.get()
    assert notification.user == app.user
    assert notification.subject == f"{app.name} moved to {Stage(to_stage).label.lower()}"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [app.user.email]
    assert notification.subject in mailoutbox[0].subject


@pytest.mark.django_db
def test_progression_request_approve_twice_is_refused():
    # given
    app = _partner_app()
    request = _pending_request(app)
    reviewer = make_reviewer()
    _tick_all(request, reviewer)
    services.progression_request_approve(request=request, actor=reviewer)

    # when
    with pytest.raises(ValidationError):
        services.progression_request_approve(request=request, actor=reviewer)

    # then
    assert App.objects.get(pk=app.pk).stage == Stage.ALPHA
    assert AuditEvent.objects.filter(verb="app.promoted").count() == 1


@pytest.mark.django_db
def test_a_suspended_apps_pending_request_cannot_be_approved():
    # given
    app = _partner_app(stage=Stage.ALPHA)
    request = _pending_request(app)
    reviewer = make_reviewer()
    _tick_all(request, reviewer)
    services.app_suspend(app=app, actor=reviewer, reason="Token leak.")

    # when
    with pytest.raises(ValidationError):
        services.progression_request_approve(request=request, actor=reviewer)

    # then
    app.refresh_from_db()
    assert (app.stage, app.lifecycle_state) == (Stage.ALPHA, "suspended")
    assert ProgressionRequest.objects.get(pk=request.pk).status == ProgressionRequest.Status.PENDING
    assert not AuditEvent.objects.filter(verb__in=["app.promoted", "progression.approved"]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("note", ["", "   "])
def test_progression_request_reject_requires_a_note(note):
    # given
    app = _partner_app()
    request = _pending_request(app)
    reviewer = make_reviewer()

    # when
    with pytest.raises(ValidationError) as exc:
        services.progression_request_reject(request=request, actor=reviewer, note=note)

    # then
    assert "note" in exc.value.message_dict
    request.refresh_from_db()
    assert (request.status, request.reviewer) == (ProgressionRequest.Status.PENDING, None)
    assert not AuditEvent.objects.filter(verb="progression.rejected").exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_progression_request_reject_records_the_note_and_notifies(django_capture_on_commit_callbacks, mailoutbox):
    # given
    app = _partner_app()
    request = _pending_request(app)
    reviewer = make_reviewer()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.progression_request_reject(request=request, actor=reviewer, note="Install callback returns 500.")

    # then
    request.refresh_from_db()
    assert (request.status, request.reviewer, request.decision_note) == (
        ProgressionRequest.Status.REJECTED, reviewer, "Install callback returns 500.")
    assert App.objects.get(pk=app.pk).stage == Stage.IN_DEVELOPMENT
    event = AuditEvent.objects.get(verb="progression.rejected")
    assert (event.actor, event.data) == (reviewer, {"to": Stage.ALPHA, "note": "Install callback returns 500."})
    notification = Notification.objects.get()
    assert (notification.user, notification.body) == (app.user, "Install callback returns 500.")
    assert [message.to for message in mailoutbox] == [[app.user.email]]
    assert "Install callback returns 500." in mailoutbox[0].body


@pytest.mark.django_db
def test_progression_request_reject_by_a_non_reviewer_is_refused():
    # given
    app = _partner_app()
    request = _pending_request(app)

    # when
    with pytest.raises(PermissionDenied):
        services.progression_request_reject(request=request, actor=app.user, note="Nope.")

    # then
    assert ProgressionRequest.objects.get(pk=request.pk).status == ProgressionRequest.Status.PENDING
    assert not Notification.objects.exists()


# --- platform_settings_update -------------------------------------------------------------------


def _platform_row() -> dict:
    return PlatformSettings.objects.values(
        "progression_intake_open", "intake_closed_message", "early_access_cap", "default_instance_limit",
        "limit_period_seconds", "staff_token_limit", "updated_by",
    ).get(pk=1)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["developer", "staff-not-reviewer", "superuser-not-reviewer"])
def test_platform_settings_update_by_a_non_reviewer_is_refused(who):
    # given
    PlatformSettings.objects.get_or_create(pk=1)
    before = _platform_row()
    actor = {"developer": lambda: DeveloperFactory(partner=True).user,
             "staff-not-reviewer": lambda: UserFactory(is_staff=True),
             "superuser-not-reviewer": lambda: UserFactory(is_staff=True, is_superuser=True)}[who]()

    # when
    with pytest.raises(PermissionDenied):
        services.platform_settings_update(actor=actor, early_access_cap=999)

    # then
    assert _platform_row() == before
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("message", ["", "   "])
def test_platform_settings_update_refuses_closing_intake_without_a_message(message):
    # given
    PlatformSettings.objects.get_or_create(pk=1)
    before = _platform_row()
    reviewer = make_reviewer()

    # when
    with pytest.raises(ValidationError) as exc:
        services.platform_settings_update(actor=reviewer, progression_intake_open=False, intake_closed_message=message)

    # then
    assert "intake_closed_message" in exc.value.message_dict
    assert _platform_row() == before
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_platform_settings_update_refuses_a_zero_limit():
    # given
    PlatformSettings.objects.get_or_create(pk=1)
    before = _platform_row()

    # when
    with pytest.raises(ValidationError) as exc:
        services.platform_settings_update(actor=make_reviewer(), early_access_cap=0)

    # then
    assert "early_access_cap" in exc.value.message_dict
    assert _platform_row() == before


@pytest.mark.django_db
def test_platform_settings_update_saves_and_audits_the_changed_values():
    # given
    PlatformSettings.objects.update_or_create(pk=1, defaults={
        "progression_intake_open": True, "intake_closed_message": "Old.", "early_access_cap": 25})
    reviewer = make_reviewer()

    # when
    services.platform_settings_update(
        actor=reviewer, progression_intake_open=False, intake_closed_message="Paused until June.",
        early_access_cap=10, staff_token_limit=PlatformSettings.objects.get(pk=1).staff_token_limit,
    )

    # then
    row = PlatformSettings.objects.get(pk=1)
    assert (row.progression_intake_open, row.intake_closed_message, row.early_access_cap, row.updated_by) == (
        False, "Paused until June.", 10, reviewer)
    event = AuditEvent.objects.get()
    assert (event.verb, event.actor) == ("platform_settings.updated", reviewer)
    assert event.data == {"changed": {
        "progression_intake_open": [True, False],
        "intake_closed_message": ["Old.", "Paused until June."],
        "early_access_cap": [25, 10],
    }}
    # and the closed intake now refuses requests with that message
    app = _partner_app()
    with pytest.raises(ValidationError) as exc:
        _pending_request(app)
    assert exc.value.messages == ["Paused until June."]
