"""Writes of the sync engine that people (and the engine itself) make.

Every service is atomic, checks who may do it, and writes an audit event in its transaction.
Who may do what:
- the app's developer: managed sync settings, external connections, sync now, full resync, pause/resume
  of any connection of the app, webhook resume and redelivery;
- an owner or admin of the account: pause/resume, sync now and re-authorise the managed connections of
  apps turned on in their account.
"""

import logging
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from oauthlib.oauth2 import InsecureTransportError

from accounts.audit import audit_record
from accounts.models import Account
from accounts.notifications import notify
from accounts.roles import account_managers, is_account_manager
from integrations import deliveries, egress
from portal.models import App, Installation
from sync import crypto, tokens
from sync.conf import sync_settings
from sync.models import Connection, SyncResource, SyncRun, SyncSpec, SyncStream, WebhookDelivery

logger = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 60
MAX_INTERVAL_SECONDS = 7 * 24 * 3600
STATE_MAX_AGE_SECONDS = 15 * 60
EXTERNAL_STATE_SALT = "sync-external-connect"


class ConnectFailed(Exception):
    """The OAuth exchange that would create a connection did not succeed (the message says why)."""


# --- Who may act ---------------------------------------------------------------------------------------

def _require_developer(app: App, actor) -> None:
    if app.user_id != getattr(actor, "pk", None):
        raise PermissionDenied("Only the app's developer can do this.")


def can_manage_connection(*, connection: Connection, user) -> bool:
    """The app's developer, or an owner/admin of the account of a managed connection."""
    if connection.app.user_id == getattr(user, "pk", None):
        return True
    return connection.kind == Connection.Kind.MANAGED and is_account_manager(user, account_code=connection.account_code)


def _require_manager(connection: Connection, actor) -> None:
    if not can_manage_connection(connection=connection, user=actor):
        raise PermissionDenied("Only the app's developer or the account's owners and admins can do this.")


def _set_status(connection: Connection, status: str, reason: str = "") -> None:
    connection.status, connection.status_reason, connection.status_changed_at = status, reason[:300], timezone.now()
    connection.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    _park_streams([connection.pk], parked=status != Connection.Status.ACTIVE)


def _park_streams(connection_ids, *, parked: bool) -> None:
    """Park (or unpark) the streams of the connections whose status the caller has just changed, in its
    transaction: a stream is parked exactly while its connection is not active, and parked streams are left
    out of the dispatcher's order index (docs/scaling.md). Every status change calls this after its write to
    the connections, whose row locks it then holds, so a stream being made meanwhile (:func:`_ensure_streams`
    reads the status under that lock) is parked right too."""
    SyncStream.objects.filter(connection_id__in=connection_ids).exclude(parked=parked).update(parked=parked)


def _lock_to_act(connection: Connection, actor, *, status: str, refusal: str) -> Connection:
    """Lock the connection for a change by ``actor``, who must manage it, while it has ``status``;
    otherwise ValidationError(``refusal``, where {status} is the status it has)."""
    connection = _locked(connection)
    _require_manager(connection, actor)
    if connection.status != status:
        raise ValidationError(refusal.format(status=connection.get_status_display().lower()))
    return connection


def _locked(connection: Connection) -> Connection:
    locked = Connection.objects.select_for_update(of=("self",)).select_related("app", "installation")
    return locked.get(pk=connection.pk)


# --- URLs of the built-in platform -------------------------------------------------------------------------

def platform_url() -> str:
    return sync_settings.PLATFORM_URL


def callback_uri() -> str:
    """The portal's own OAuth redirect URI (the browser comes back here)."""
    return settings.SITE_URL + reverse("sync:oauth_callback")


def builtin_endpoints(account_code: str) -> dict:
    base = platform_url()
    return {"authorize_url": f"{settings.SITE_URL}/oauth/authorize/{account_code}",
            "token_url": f"{base}/oauth/token/{account_code}",
            "api_base_url": f"{base}/public-api/{account_code}"}


# --- Managed sync settings (developer) ------------------------------------------------------------------

def _clean_spec(*, app: App, resources, interval_seconds: int, webhook_url: str, client_secret: str,
                spec: SyncSpec, enabling: bool) -> dict:
    problems = {}
    resources = [r for r in dict.fromkeys(resources or []) if r]
    if (enabling and not resources) or set(resources) - set(SyncResource.values):
        problems["resources"] = f"Choose at least one of: {', '.join(SyncResource.values)}."
    if not MIN_INTERVAL_SECONDS <= int(interval_seconds) <= MAX_INTERVAL_SECONDS:
        problems["interval_seconds"] = (f"Between {MIN_INTERVAL_SECONDS} seconds and "
                                        f"{MAX_INTERVAL_SECONDS // 86400} days.")
    webhook_url = (webhook_url or "").strip()
    if webhook_url:
        try:
            URLValidator(schemes=["https", "http"])(webhook_url)
        except ValidationError:
            problems["webhook_url"] = "Enter a full http(s) URL, or leave it empty for no webhooks."
        else:
            if refusal := egress.url_refusal(webhook_url, purpose="webhook"):
                problems["webhook_url"] = refusal
    secret_stale = not spec.client_secret_encrypted or (
        app.secret_rotated_at is not None and spec.secret_saved_at is not None
        and app.secret_rotated_at > spec.secret_saved_at)
    if client_secret:
        if not check_password(client_secret.strip(), app.client_secret):
            problems["client_secret"] = "That is not the app's current client secret."
    elif enabling and secret_stale:
        problems["client_secret"] = ("Enter the app's current client secret: the portal needs it to exchange "
                                     "the accounts' authorisations for tokens.")
    if enabling and app.client_type != App.CLIENT_CONFIDENTIAL:
        problems["is_enabled"] = "Managed sync needs a confidential app (one with a client secret)."
    if problems:
        raise ValidationError(problems)
    return {"resources": resources, "interval_seconds": int(interval_seconds), "webhook_url": webhook_url}


@transaction.atomic
def sync_spec_save(*, app: App, actor, is_enabled: bool, resources, interval_seconds: int, webhook_url: str = "",
                   client_secret: str = "") -> SyncSpec:
    """The developer sets the app's managed sync. Enabling it needs the current client secret (stored
    encrypted) and adds the portal's callback to the app's redirect URIs, so that accounts turning the
    app on are connected by the portal. Raises ValidationError (nothing changes) or PermissionDenied."""
    app = App.objects.select_for_update().get(pk=app.pk)
    _require_developer(app, actor)
    spec, _ = SyncSpec.objects.select_for_update().get_or_create(app=app)
    cleaned = _clean_spec(app=app, resources=resources, interval_seconds=interval_seconds, webhook_url=webhook_url,
                          client_secret=client_secret, spec=spec, enabling=is_enabled)
    before = {"is_enabled": spec.is_enabled, "resources": spec.resources, "interval_seconds": spec.interval_seconds,
              "webhook_url": spec.webhook_url}
    spec.is_enabled = is_enabled
    spec.resources, spec.interval_seconds, spec.webhook_url = (cleaned["resources"], cleaned["interval_seconds"],
                                                               cleaned["webhook_url"])
    if client_secret:
        spec.client_secret_encrypted, spec.secret_saved_at = crypto.encrypt(client_secret.strip()), timezone.now()
    spec.save()
    uris = app.redirect_uri_list
    if is_enabled and callback_uri() not in uris:
        app.redirect_uris = " ".join([*uris, callback_uri()])
        app.save(update_fields=["redirect_uris"])
    for connection in app.sync_connections.filter(kind=Connection.Kind.MANAGED):
        _ensure_streams(connection, spec.resources)
        if spec.resources:  # resources no longer chosen stop syncing (their mirrored records stay)
            connection.streams.exclude(resource__in=spec.resources).delete()
    after = {"is_enabled": spec.is_enabled, "resources": spec.resources, "interval_seconds": spec.interval_seconds,
             "webhook_url": spec.webhook_url}
    audit_record(actor=actor, verb="sync.spec_saved", target=app, app_ref=app.client_id,
                 data={"changed": {k: [before[k], after[k]] for k in after if before[k] != after[k]},
                       "secret_saved": bool(client_secret)})
    return spec


def _ensure_streams(connection: Connection, resources) -> None:
    """One stream per chosen resource (existing streams and their checkpoints are kept); a new stream is
    parked if the connection is not active, as read under its row lock (see :func:`_park_streams`)."""
    have = set(connection.streams.values_list("resource", flat=True))
    missing = [r for r in resources if r not in have]
    if not missing:
        return
    status = Connection.objects.select_for_update().filter(pk=connection.pk).values_list("status", flat=True).get()
    parked = status != Connection.Status.ACTIVE
    SyncStream.objects.bulk_create([SyncStream(connection=connection, resource=r, parked=parked) for r in missing])


# --- Managed connections (an account turns the app on) -----------------------------------------------------

# Signs the OAuth state of a managed-sync turn-on; the portal's own callback checks it.
MANAGED_SYNC_STATE_SALT = "managed-sync-turn-on"


def managed_sync_redirect(*, app: App, account: Account, user) -> tuple[str, str] | None:
    """(redirect URI, state) for turning on an app whose managed sync is on: the portal's own callback
    receives the code and connects the account. None for other apps."""
    spec = SyncSpec.objects.filter(app=app, is_enabled=True).first()
    if spec is None:
        return None
    state = signing.dumps({"app": app.pk, "account": account.code, "user": user.pk}, salt=MANAGED_SYNC_STATE_SALT)
    return settings.SITE_URL + reverse("sync:oauth_callback"), state


def managed_authorize_url(*, app: App, account: Account, user) -> str:
    """Where an owner re-authorises the portal's managed sync of an app (the consent page)."""
    managed = managed_sync_redirect(app=app, account=account, user=user)
    if managed is None:
        raise ValidationError("This app does not use managed sync any more.")
    redirect_uri, state = managed
    query = urlencode({"response_type": "code", "client_id": app.client_id, "redirect_uri": redirect_uri,
                       "state": state})
    return reverse("integrations:authorize", args=[account.code]) + "?" + query


def _exchange_code(*, token_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str,
                   allow: tuple[str, ...] = ()) -> dict:
    """The authorization-code exchange (``sync.tokens``). Raises ConnectFailed."""
    try:
        return tokens.exchange_code(token_url=token_url, client_id=client_id, client_secret=client_secret,
                                    code=code, redirect_uri=redirect_uri, allow=allow)
    except egress.Refused as error:
        raise ConnectFailed(f"Not sent: {error}") from error
    except InsecureTransportError as error:
        raise ConnectFailed("Not sent: the token endpoint's address is not https.") from error
    except Exception as error:  # noqa: BLE001 - any failure of the exchange is reported the same way
        description = getattr(error, "description", "") or getattr(error, "error", "") or type(error).__name__
        raise ConnectFailed(f"The token endpoint did not accept the authorisation: "
                            f"{egress.excerpt(description)}") from error


def managed_connection_complete(*, state: str, code: str, actor) -> Connection:
    """The owner approved the app on the consent page and the browser came back with a code: exchange it
    (over HTTP, against the built-in token endpoint) and create or re-activate the app's connection to
    the account, with streams for the spec's resources, runnable at once. Raises ConnectFailed,
    PermissionDenied or ValidationError."""
    try:
        data = signing.loads(state, salt=MANAGED_SYNC_STATE_SALT, max_age=STATE_MAX_AGE_SECONDS)
    except signing.BadSignature as error:
        raise ValidationError("This authorisation link is not valid or has expired. Turn the app on again.") from error
    if data.get("user") != actor.pk:
        raise PermissionDenied("This authorisation was started by someone else.")
    app = App.objects.filter(pk=data.get("app")).first()
    installation = (Installation.objects.select_related("account", "app")
                    .filter(app=app, account__code=data.get("account"), is_enabled=True).first())
    if app is None or installation is None:
        raise ValidationError("The app is not turned on in this account.")
    if not is_account_manager(actor, account=installation.account):
        raise PermissionDenied("Only owners and admins of this account can connect apps.")
    spec = SyncSpec.objects.filter(app=app, is_enabled=True).first()
    if spec is None:
        raise ValidationError("This app does not use managed sync.")
    token = _exchange_code(token_url=builtin_endpoints(installation.account.code)["token_url"], client_id=app.client_id,
                           client_secret=crypto.decrypt(spec.client_secret_encrypted), code=code,
                           redirect_uri=callback_uri(), allow=(platform_url(),))
    with transaction.atomic():
        connection, created = _connect_installation(installation=installation, token=token, actor=actor,
                                                    resources=spec.resources)
        connection.streams.update(next_run_at=timezone.now())
        audit_record(actor=actor, verb="sync.connection_authorised", target=connection, app_ref=app.client_id,
                     data={"account": connection.account_code, "created": created})
        _dispatch_after_commit()
    return connection


def _connect_installation(*, installation: Installation, token: dict, actor, resources) -> tuple[Connection, bool]:
    """Create or re-activate the managed connection of an installation with a fresh token response, and
    its streams. Must run in the caller's transaction. Returns (connection, created)."""
    endpoints = builtin_endpoints(installation.account.code)
    app = installation.app
    connection, created = Connection.objects.select_for_update().get_or_create(
        installation=installation,
        defaults={"app": app, "kind": Connection.Kind.MANAGED, "account_code": installation.account.code,
                  "client_id": app.client_id, "created_by": actor, **endpoints},
    )
    for name, value in endpoints.items():
        setattr(connection, name, value)
    connection.save()
    _set_status(connection, Connection.Status.ACTIVE)
    tokens.store_tokens(connection=connection, token=token, expected_version=None)
    _ensure_streams(connection, resources)
    return connection, created


def _dispatch_after_commit() -> None:
    from celery import current_app

    transaction.on_commit(lambda: current_app.signature("sync.tasks.sync_dispatch").delay())


# --- External connections (a developer connects an account elsewhere) -------------------------------------

@transaction.atomic
def external_connection_start(*, app: App, actor, name: str, account_code: str, authorize_url: str,
                              token_url: str, api_base_url: str, client_id: str, client_secret: str,
                              rate_limit: int, rate_window_seconds: int) -> tuple[Connection, str]:
    """Register an external Brightpearl-protocol account for the app and return it with the URL to send
    the browser to (the provider's consent page). The connection waits, needing authorisation, until the
    browser comes back to :func:`external_connection_complete`."""
    _require_developer(app, actor)
    problems = {}
    for field, url in (("authorize_url", authorize_url), ("token_url", token_url), ("api_base_url", api_base_url)):
        try:
            URLValidator(schemes=["https", "http"])(url)
        except ValidationError:
            problems[field] = "Enter a full http(s) URL."
        else:
            if refusal := egress.url_refusal(url, purpose=field.replace("_", " ")):
                problems[field] = refusal
    if not account_code.strip():
        problems["account_code"] = "Enter the account code."
    if not client_id.strip() or not client_secret.strip():
        problems["client_id"] = "Enter the client id and secret the provider issued for this app."
    if not 1 <= int(rate_limit) <= 100_000 or not 1 <= int(rate_window_seconds) <= 86_400:
        problems["rate_limit"] = "Give the provider's limit: 1–100,000 calls per 1–86,400 seconds."
    if problems:
        raise ValidationError(problems)
    connection = Connection.objects.create(
        app=app, kind=Connection.Kind.EXTERNAL, name=name.strip()[:100], account_code=account_code.strip(),
        authorize_url=authorize_url.strip(), token_url=token_url.strip(), api_base_url=api_base_url.strip().rstrip("/"),
        client_id=client_id.strip(), client_secret_encrypted=crypto.encrypt(client_secret.strip()),
        rate_limit=int(rate_limit), rate_window_seconds=int(rate_window_seconds),
        status=Connection.Status.NEEDS_REAUTH, status_reason="Waiting for the account to authorise the app.",
        created_by=actor,
    )
    audit_record(actor=actor, verb="sync.connection_registered", target=connection, app_ref=app.client_id,
                 data={"account": connection.account_code, "api": connection.api_base_url})
    return connection, external_authorize_url(connection=connection, actor=actor)


def external_authorize_url(*, connection: Connection, actor) -> str:
    state = signing.dumps({"connection": connection.pk, "user": actor.pk, "nonce": secrets.token_hex(8)},
                          salt=EXTERNAL_STATE_SALT)
    query = urlencode({"response_type": "code", "client_id": connection.client_id, "redirect_uri": callback_uri(),
                       "state": state})
    separator = "&" if "?" in connection.authorize_url else "?"
    return f"{connection.authorize_url}{separator}{query}"


def external_connection_complete(*, state: str, code: str, actor) -> Connection:
    """The provider sent the browser back with a code: exchange it and activate the connection."""
    try:
        data = signing.loads(state, salt=EXTERNAL_STATE_SALT, max_age=STATE_MAX_AGE_SECONDS)
    except signing.BadSignature as error:
        raise ValidationError("This authorisation link is not valid or has expired. Connect again.") from error
    connection = Connection.objects.select_related("app").filter(pk=data.get("connection")).first()
    if connection is None or data.get("user") != actor.pk:
        raise PermissionDenied("This authorisation was started by someone else.")
    _require_developer(connection.app, actor)
    token = _exchange_code(token_url=connection.token_url, client_id=connection.client_id,
                           client_secret=crypto.decrypt(connection.client_secret_encrypted), code=code,
                           redirect_uri=callback_uri())
    spec = SyncSpec.objects.filter(app=connection.app).first()
    resources = spec.resources if spec and spec.resources else list(SyncResource.values)
    with transaction.atomic():
        connection = _locked(connection)
        _set_status(connection, Connection.Status.ACTIVE)
        tokens.store_tokens(connection=connection, token=token, expected_version=None)
        _ensure_streams(connection, resources)
        connection.streams.update(next_run_at=timezone.now())
        audit_record(actor=actor, verb="sync.connection_authorised", target=connection,
                     app_ref=connection.app.client_id, data={"account": connection.account_code})
        _dispatch_after_commit()
    return connection


def oauth_callback_complete(*, state: str, code: str, actor) -> Connection:
    """The portal's one OAuth callback: a managed or an external connection, told apart by the state."""
    try:
        signing.loads(state, salt=EXTERNAL_STATE_SALT, max_age=STATE_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return managed_connection_complete(state=state, code=code, actor=actor)
    return external_connection_complete(state=state, code=code, actor=actor)


def reauthorize_url(*, connection: Connection, actor) -> str:
    """Where to send ``actor`` to authorise the connection again."""
    _require_manager(connection, actor)
    if connection.kind == Connection.Kind.EXTERNAL:
        _require_developer(connection.app, actor)
        return external_authorize_url(connection=connection, actor=actor)
    if not is_account_manager(actor, account_code=connection.account_code):
        raise PermissionDenied("An owner or admin of the account must authorise the app again.")
    return managed_authorize_url(app=connection.app, account=connection.installation.account, user=actor)


# --- Status changes ----------------------------------------------------------------------------------------

def connections_disable(*, connections, reason: str) -> int:
    """Disable ``connections`` (a queryset) in the caller's transaction: the portal turned their installation
    off or suspended their app. Returns how many were not disabled already."""
    # Locked first, so that exactly the connections changed here have their streams parked (the streams of
    # connections already disabled are parked already); in chunks, as an app may have many.
    ids = list(connections.exclude(status=Connection.Status.DISABLED).select_for_update().values_list("pk", flat=True))
    now, disabled = timezone.now(), 0
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        disabled += Connection.objects.filter(pk__in=chunk).update(
            status=Connection.Status.DISABLED, status_reason=reason[:300], status_changed_at=now)
        _park_streams(chunk, parked=True)
    return disabled


def connection_needs_reauth(*, connection: Connection, reason: str) -> bool:
    """The engine found the authorisation gone (refresh refused): stop syncing and tell the account's
    owners/admins and the developer. Streams keep their checkpoints, so re-authorising resumes."""
    with transaction.atomic():
        changed = Connection.objects.filter(pk=connection.pk, status=Connection.Status.ACTIVE).update(
            status=Connection.Status.NEEDS_REAUTH, status_reason=reason[:300], status_changed_at=timezone.now())
        if not changed:
            return False
        _park_streams([connection.pk], parked=True)
        connection = Connection.objects.select_related("app__user").get(pk=connection.pk)
        audit_record(actor=None, verb="sync.connection_needs_reauth", target=connection,
                     app_ref=connection.app.client_id, data={"reason": reason[:300]})
        subject = f"{connection.app.name}: the sync of {connection.account_code} needs re-authorising"
        link = reverse("sync:connection", args=[connection.pk])
        recipients = {connection.app.user}
        if connection.kind == Connection.Kind.MANAGED:
            managers = account_managers(account_code=connection.account_code).select_related("user")
            recipients |= {m.user for m in managers}
        for user in recipients:
            notify(user=user, subject=subject, body=reason, link=link)
    return True


@transaction.atomic
def connection_pause(*, connection: Connection, actor) -> Connection:
    """Stop dispatching the connection's streams (a slice in flight ends before its next call)."""
    connection = _lock_to_act(connection, actor, status=Connection.Status.ACTIVE,
                              refusal="Only an active sync can be paused; this one is {status}.")
    _set_status(connection, Connection.Status.PAUSED, f"Paused by {actor.email}")
    audit_record(actor=actor, verb="sync.connection_paused", target=connection, app_ref=connection.app.client_id)
    return connection


@transaction.atomic
def connection_resume(*, connection: Connection, actor) -> Connection:
    """Resume a paused connection from its checkpoints."""
    connection = _lock_to_act(connection, actor, status=Connection.Status.PAUSED,
                              refusal="Only a paused sync can be resumed; this one is {status}.")
    _set_status(connection, Connection.Status.ACTIVE)
    connection.streams.filter(next_run_at__gt=timezone.now(), current_run__isnull=False).update(
        next_run_at=timezone.now())
    audit_record(actor=actor, verb="sync.connection_resumed", target=connection, app_ref=connection.app.client_id)
    _dispatch_after_commit()
    return connection


@transaction.atomic
def connection_sync_now(*, connection: Connection, actor) -> int:
    """Start a run of every stream that is not already running; returns how many runs started."""
    connection = _lock_to_act(connection, actor, status=Connection.Status.ACTIVE,
                              refusal="This sync is {status}; it cannot run now.")
    started = 0
    for stream in connection.streams.select_for_update().filter(current_run__isnull=True):
        run = SyncRun.objects.create(
            stream=stream, connection=connection, resource=stream.resource, trigger="manual", requested_by=actor,
            kind=SyncRun.Kind.FULL if stream.next_run_is_full else SyncRun.Kind.INCREMENTAL,
        )
        stream.current_run, stream.next_run_at = run, timezone.now()
        stream.save(update_fields=["current_run", "next_run_at"])
        started += 1
    audit_record(actor=actor, verb="sync.run_requested", target=connection, app_ref=connection.app.client_id,
                 data={"runs": started})
    _dispatch_after_commit()
    return started


@transaction.atomic
def connection_full_resync(*, connection: Connection, actor) -> Connection:
    """Read every record again from the start. Runs in progress are cancelled, and any slice still
    working on them is fenced out (the epoch moves on), so its next checkpoint is refused."""
    connection = _lock_to_act(connection, actor, status=Connection.Status.ACTIVE,
                              refusal="This sync is {status}; it cannot run now.")
    now = timezone.now()
    SyncRun.objects.filter(connection=connection, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.CANCELLED, finished_at=now, last_error="Cancelled by a full resync.")
    connection.streams.update(epoch=F("epoch") + 1, lease_expires_at=None, cursor={}, current_run=None,
                              full_resync_requested=True, next_run_at=now, failures=0, last_error="")
    audit_record(actor=actor, verb="sync.full_resync_requested", target=connection, app_ref=connection.app.client_id)
    _dispatch_after_commit()
    return connection


# --- Webhooks ----------------------------------------------------------------------------------------------

@transaction.atomic
def webhook_resume(*, app: App, actor) -> SyncSpec:
    """Send webhooks again after they were paused for failing; due deliveries go out at once."""
    _require_developer(app, actor)
    spec = SyncSpec.objects.select_for_update().filter(app=app).first()
    if spec is None or spec.webhook_paused_at is None:
        raise ValidationError("Webhooks of this app are not paused.")
    spec.webhook_paused_at, spec.webhook_pause_reason, spec.webhook_failures = None, "", 0
    spec.save(update_fields=["webhook_paused_at", "webhook_pause_reason", "webhook_failures", "updated_at"])
    WebhookDelivery.objects.filter(connection__app=app, status=WebhookDelivery.Status.PENDING).update(
        next_attempt_at=timezone.now())
    audit_record(actor=actor, verb="sync.webhooks_resumed", target=app, app_ref=app.client_id)
    return spec


def webhook_redeliver(*, delivery: WebhookDelivery, actor) -> WebhookDelivery:
    """Send a delivery again (the same body, newly signed), whatever became of it before."""
    connection = Connection.objects.select_related("app").get(pk=delivery.connection_id)
    _require_developer(connection.app, actor)
    return deliveries.redeliver(delivery=delivery, actor=actor, verb="sync.webhook_redelivery", target=connection,
                                app_ref=connection.app.client_id)


# --- Provisioning without a browser (demo data, benchmarks) -------------------------------------------------

def managed_connection_provision(*, installation: Installation, actor) -> Connection:
    """Connect an installation of a managed-sync app without the consent page: the authorization server
    issues the tokens in-process (as the token endpoint would after consent). For demo seeding and
    benchmarks, where the account is ours; requires the actor to manage the account."""
    from oauth2_provider.settings import oauth2_settings
    from oauthlib.common import generate_token

    from integrations.models import AccessToken, RefreshToken

    installation = Installation.objects.select_related("app", "account").get(pk=installation.pk)
    if not is_account_manager(actor, account=installation.account):
        raise PermissionDenied("Only owners and admins of this account can connect apps.")
    spec = SyncSpec.objects.filter(app=installation.app, is_enabled=True).first()
    if spec is None or not installation.is_enabled:
        raise ValidationError("The app must be turned on and use managed sync.")
    lifetime = oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
    access, refresh = generate_token(), generate_token()
    with transaction.atomic():
        access_row = AccessToken.objects.create(
            user=actor, application=installation.app, token=access, scope="", installation=installation,
            expires=timezone.now() + timedelta(seconds=lifetime))
        RefreshToken.objects.create(user=actor, application=installation.app, token=refresh, access_token=access_row,
                                    installation=installation)
        connection, _ = _connect_installation(
            installation=installation, actor=actor, resources=spec.resources,
            token={"access_token": access, "refresh_token": refresh, "expires_in": lifetime})
        audit_record(actor=actor, verb="sync.connection_provisioned", target=connection,
                     app_ref=installation.app.client_id, data={"account": connection.account_code})
    connection.refresh_from_db()
    return connection
