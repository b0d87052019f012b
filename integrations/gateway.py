"""The platform API gateway: every ``/public-api/<account_code>/...`` request passes through here.

One decorator, :func:`api_endpoint`, wraps each API view. For every request it

1. identifies the caller and the rate pool the request names (an OAuth installation, an account's
   staff-token pool, or, when nothing usable is named, the client address's anonymous pool). An access
   token this process has served before is resolved from its copy of the token's lookup, without the
   database; the limiter's script checks first that nothing the copy depends on has changed
   (``integrations.token_cache``), so a revoked token or a changed limit applies at the next call;
2. takes one slot from that pool in the exact sliding-log limiter (``integrations.ratelimit``), on
   Redis, before running anything. Requests that fail authentication are counted in a pool of their
   own (per account, app reference and client address, see :func:`unauthenticated_pool`), never in
   the pool their headers name: app references and account codes are not secret, so nobody can
   use up an installation's or an account's calls without its credentials;
3. refuses over-limit requests with 503 (or 429, ``PORTAL["THROTTLE_STATUS"]``), ``Retry-After``
   and a ``TOO_MANY_REQUESTS`` envelope, without running the view;
4. refuses bad credentials (401) and calls for another account (403);
5. runs the view, or forwards the request to ``PORTAL["UPSTREAM_API_URL"]`` when one is set;
6. adds the throttle headers to every response, errors included. The call is counted in the usage
   counters of the installation (or of the account's staff-token pool) by the limiter's own script, in the
   same Redis round trip as the decision: outcome, endpoint class, repeated searches, Retry-After waits
   and expired tokens (``integrations.usage``). Only a view's own 4xx or 5xx, known after the view, costs
   one more small pipeline (never sent for a 2xx).

Views receive ``(request, caller, **url_kwargs)``; ``caller`` is an authorised :class:`Caller`.
They may raise :class:`ApiError` for a clean error envelope. If Redis is unreachable, the gateway
admits requests and logs an error (``PORTAL["LIMITER_FAIL_OPEN"]``, the default) or answers 503.

A new API view::

    @api_endpoint
    def warehouse_list(request, caller, *, warehouse_id):
        rows = Warehouse.objects.filter(account=caller.account, pk=warehouse_id)  # scope to the caller
        return JsonResponse({"response": [...]})

    path("public-api/<str:account_code>/warehouse-service/warehouse/<int:warehouse_id>", warehouse_list)

Code that is not a view can use :func:`handle` with a callable instead.
"""

import functools
import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass

import redis
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts.client_ip import client_ip
from accounts.models import Account, DeveloperProfile, StaffToken
from accounts.prepared import aware_datetime, fetch_one, partial_instance
from accounts.tokens import staff_token_lookup
from integrations import forwarding, metrics, token_cache, usage
from integrations.conf import integrations_settings
from integrations.models import AccessToken
from integrations.oauth import token_checksum
from integrations.ratelimit import Decision, SlidingLogLimiter, installation_pool_name
from integrations.redis_client import api_redis
from portal.limits import installation_limit_sql, limit_of
from portal.models import App, Installation, PlatformSettings
from portal.selectors import platform_settings

logger = logging.getLogger(__name__)

APP_REF_HEADER = "brightpearl-app-ref"
DEV_REF_HEADER = "brightpearl-dev-ref"
STAFF_TOKEN_HEADER = "brightpearl-staff-token"
# The legacy name of the staff-token header (Brightpearl's private "system" apps): the same staff tokens,
# the same account pool and checks. Half of the real clients send only this one.
ACCOUNT_TOKEN_HEADER = "brightpearl-account-token"
EXPIRED_TOKEN_BODY = {"response": "Authorization token expired"}
LIMITER_ERROR_LOG_INTERVAL_S = 10
STAFF_TOKEN_TOUCH_INTERVAL_S = 60
FAILED_AUTH_WINDOW_S = 60  # the window of PORTAL["FAILED_AUTH_LIMIT"]


class ApiError(Exception):
    """An error a view (or the gateway) answers with the protocol's errors envelope."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict | None = None,
                 errors: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
        # Several problems at once (validation): each {"code": ..., "message": ...}.
        self.errors = errors or [{"code": code, "message": message}]

    def response(self) -> JsonResponse:
        response = JsonResponse({"errors": self.errors}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def error_response(status: int, code: str, message: str) -> JsonResponse:
    """``{"errors": [{"code": ..., "message": ...}]}`` with the given status. A 401 is the exception:
    Brightpearl answers ``{"response": "<message>"}`` there, and clients show ``json["response"]``."""
    if status == 401:
        return JsonResponse({"response": message}, status=401)
    return JsonResponse({"errors": [{"code": code, "message": message}]}, status=status)


@dataclass(frozen=True)
class Caller:
    """Who an admitted, authorised API request acts for: an OAuth installation or a staff token."""

    account: Account
    app_ref: str
    installation: Installation | None = None
    staff_token: StaffToken | None = None

    @property
    def kind(self) -> str:
        return "installation" if self.installation is not None else "staff"


@dataclass(frozen=True)
class Pool:
    """A rate pool: its name (the limiter key), its limit per window, and whose usage it is."""

    name: str
    limit: int
    window_s: int
    installation_id: int | None = None
    # The installation a request that failed authentication named: counted apart in its usage (and, when it
    # is turned off, as a request made while it was off).
    failed_for_installation_id: int | None = None
    failed_while_off: bool = False
    # The account whose staff-token pool this is (its usage is counted like an installation's).
    staff_account_id: int | None = None
    # What the usage details count of the request taking a slot (see :func:`_with_usage_detail`): (the gateway
    # refuses it itself, its token had expired, ``usage.request_fields``); None to count calls only.
    detail: tuple | None = None
    # The stamp the caller's token lookup was read under: the limiter's script first checks it is still
    # current (``integrations.token_cache``); None when the lookup came straight from the database.
    stamp: token_cache.Stamp | None = None
    from_copy: bool = False  # the lookup is this process's copy, not read for this request


@dataclass(frozen=True)
class Identity:
    """What the headers of a request amount to: the pool it names, and either an authorised
    caller or the response that refuses it."""

    pool: Pool
    caller: Caller | None = None
    refusal: HttpResponse | None = None
    expired_token: bool = False  # sent with an access token past its expiry (counted in the usage)
    held: "Held | None" = None  # the token lookup to keep once the limiter's script has confirmed its stamp


@dataclass(frozen=True)
class Held:
    """A token lookup read from the database under a stamp, kept as this process's copy once confirmed."""

    checksum: str
    row: tuple
    stamp: token_cache.Stamp


def api_endpoint(view):
    """Decorate an API view ``view(request, caller, **kwargs) -> HttpResponse``.

    The URL pattern must capture ``account_code``; the decorator takes it, authenticates and
    rate-limits the request (see the module docstring), calls the view with the authorised
    :class:`Caller` and the remaining URL kwargs, and adds the throttle headers. The view is CSRF
    exempt (API clients send tokens, not cookies). An :class:`ApiError` raised by the view becomes
    its errors envelope."""

    @csrf_exempt
    @functools.wraps(view)
    def endpoint(request: HttpRequest, account_code: str, *args, **kwargs) -> HttpResponse:
        return handle(request, account_code=account_code, run=lambda caller: view(request, caller, *args, **kwargs))

    return endpoint


def handle(request: HttpRequest, *, account_code: str, run) -> HttpResponse:
    """The gateway for one request: identify, admit, authorise, then ``run(caller)`` (or forward
    upstream). Returns the response with the throttle headers. ``run`` is not called when the
    request is refused for any reason."""
    identity = identify(request, account_code=account_code)
    pool = _with_usage_detail(identity, request)
    decision = _admit(pool)
    if decision is STALE:  # the token lookup changed since it was read, or Redis failed while using a copy
        metrics.token_lookup("stale")
        identity = identify(request, account_code=account_code, fresh=True)
        pool = _with_usage_detail(identity, request)
        decision = _admit(pool)
    elif identity.held is not None and decision is not None and decision.at_us:
        _keep(identity.held)
    if decision is None:  # limiter unreachable and failing closed
        response = error_response(503, "SERVICE_UNAVAILABLE",
                                  "The API is temporarily unavailable. Please retry shortly.")
        response["Retry-After"] = "1"
        return _with_throttle_headers(response, Decision(False, pool.limit, 0, 1000))
    if not decision.allowed:
        response = error_response(
            throttle_status(), "TOO_MANY_REQUESTS",
            f"You have sent too many requests: this pool allows {pool.limit} calls per {pool.window_s} seconds. "
            f"Retry after {decision.retry_after_s} seconds; the request was not executed.",
        )
        response["Retry-After"] = str(decision.retry_after_s)
        # Throttling is the limiter working, not a server fault: keep it out of django.request's
        # error log (it logs every 5xx), which a busy client would otherwise flood.
        response._has_been_logged = True
    elif identity.refusal is not None:
        response = identity.refusal
    else:
        try:
            response = _run(request, identity.caller, run)
        except Exception:
            _count_status(pool, decision, 500)
            raise
        if response.status_code >= 400:
            _count_status(pool, decision, response.status_code)
    return _with_brightpearl_headers(_with_throttle_headers(response, decision), identity.caller)


def _run(request: HttpRequest, caller: Caller, run) -> HttpResponse:
    if caller.staff_token is not None:
        _touch_staff_token(caller.staff_token)
    try:
        if forwarding.is_enabled():
            return forwarding.forward(request, caller=caller)
        return run(caller)
    except ApiError as error:
        return error.response()
    except RequestDataTooBig:
        return error_response(413, "BODY_TOO_LARGE", "The request body is too large.")


def throttle_status() -> int:
    """HTTP status of an over-limit refusal: 503 like the reference platform, or 429 by setting
    (the settings refuse anything else)."""
    return 429 if integrations_settings.THROTTLE_STATUS == 429 else 503


# --- Who is calling, and which pool does the request name ----------------------------------------------

def identify(request: HttpRequest, *, account_code: str, fresh: bool = False) -> Identity:
    """Read the credentials of an API request. Never raises for bad credentials: the refusal is
    part of the returned identity, with the pool the refused request is counted in (the caller's
    own pool when it holds a real token, the unauthenticated pool otherwise). ``fresh``: read the access
    token from the database, not from this process's copy."""
    app_ref = request.headers.get(APP_REF_HEADER, "").strip()
    authorization = request.headers.get("Authorization", "")
    staff_secret = staff_token_secret(request)
    if "\x00" in app_ref or "\x00" in account_code:
        # No app reference or account code holds one, and PostgreSQL refuses NUL in text parameters.
        return Identity(pool=unauthenticated_pool(request, account_code.replace("\x00", ""), ""),
                        refusal=error_response(401, "UNAUTHORIZED", "No app reference or account code holds a "
                                               "NUL character."))
    if authorization:
        scheme, _, bearer = authorization.partition(" ")
        if scheme.lower() == "bearer" and bearer.strip():
            return _identify_bearer(request, account_code, app_ref, bearer.strip(), fresh=fresh)
        return Identity(pool=unauthenticated_pool(request, account_code, app_ref),
                        refusal=error_response(401, "UNAUTHORIZED",
                                               "Send the access token as 'Authorization: Bearer <token>'."))
    if staff_secret:
        return _identify_staff(request, account_code, app_ref, staff_secret)
    return Identity(pool=unauthenticated_pool(request, account_code, app_ref),
                    refusal=error_response(401, "UNAUTHORIZED", "Authentication required: send an OAuth access "
                                           "token, or a brightpearl-staff-token with its brightpearl-app-ref."))


def staff_token_secret(request: HttpRequest) -> str:
    """The staff token a request sends, under its name or its legacy name ``brightpearl-account-token``."""
    return (request.headers.get(STAFF_TOKEN_HEADER, "").strip()
            or request.headers.get(ACCOUNT_TOKEN_HEADER, "").strip())


TOKEN_STATEMENT = "portal_gateway_token"  # the token lookup's name as a prepared statement


@functools.cache
def _token_sql(vendor: str) -> str:
    q = connection.ops.quote_name
    default, period, granted, grant_ends = installation_limit_sql(q, "i")
    return (
        f"SELECT t.{q('id')}, t.{q('expires')}, i.{q('id')} AS installation_pk, i.{q('is_enabled')} AS is_enabled, "
        f"i.{q('app_id')} AS app_pk, i.{q('account_id')} AS account_pk, a.{q('client_id')} AS app_ref, "
        f"a.{q('suspended_at')} AS suspended_at, a.{q('user_id')} AS developer_pk, c.{q('code')} AS account_code, "
        f"c.{q('status')} AS account_status, d.{q('dev_ref')} AS dev_ref, "
        f"{default} AS limit_default, {period} AS limit_period, {granted} AS limit_granted, "
        f"{grant_ends} AS grant_ends "
        f"FROM {q(AccessToken._meta.db_table)} t "
        f"JOIN {q(Installation._meta.db_table)} i ON i.{q('id')} = t.{q('installation_id')} "
        f"JOIN {q(App._meta.db_table)} a ON a.{q('id')} = i.{q('app_id')} "
        f"JOIN {q(Account._meta.db_table)} c ON c.{q('id')} = i.{q('account_id')} "
        f"LEFT JOIN {q(DeveloperProfile._meta.db_table)} d ON d.{q('user_id')} = a.{q('user_id')} "
        f"WHERE t.{q('token_checksum')} = %s"
    )


def bearer_token(raw: str) -> AccessToken | None:
    """The access token for a raw bearer secret (looked up by its SHA-256 checksum), if it was issued
    for an installation; None otherwise. It comes with ``installation`` (and its ``app`` and
    ``account``) attached, holding only what the gateway checks (other fields load on access),
    ``dev_ref``, the reference of the app's developer, ``app_is_suspended``, and ``limit``: the
    installation's (calls, window seconds) now, as ``portal.limits.installation_limit`` gives it.
    Always from the database (the gateway itself may use its copy: :func:`_resolve_bearer`)."""
    row = _token_row(token_checksum(raw))
    return None if row is None else _token_from_row(row)


def _token_row(checksum: str) -> tuple | None:
    """The token lookup's row. This is the hottest query of the API, so it is one hand-written join, the
    installation's limit included (the platform settings row and the best grant as subqueries): the ORM spends
    about a millisecond compiling the equivalent queries. On PostgreSQL it is a prepared statement
    (``accounts.prepared``)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return fetch_one(TOKEN_STATEMENT, _token_sql(connection.vendor), [now, now, checksum])


def _token_from_row(row: tuple) -> AccessToken:
    """Fresh model instances (never shared between requests) from a row of the token lookup."""
    (token_pk, expires, installation_pk, is_enabled, app_pk, account_pk, app_ref, suspended_at, developer_pk,
     account_code, account_status, dev_ref, limit_default, limit_period, limit_granted, _grant_ends) = row
    db = connection.alias
    token = partial_instance(AccessToken, db, id=token_pk, expires=aware_datetime(expires))
    account = partial_instance(Account, db, id=account_pk, code=account_code, status=account_status)
    app = partial_instance(App, db, id=app_pk, client_id=app_ref, user_id=developer_pk)
    installation = partial_instance(Installation, db, id=installation_pk, app_id=app_pk, account_id=account_pk,
                                    is_enabled=bool(is_enabled))
    installation.app, installation.account = app, account
    token.installation = installation
    token.dev_ref = dev_ref or ""
    token.app_is_suspended = suspended_at is not None
    token.limit = limit_of(limit_default, limit_period, limit_granted)
    return token


def _resolve_bearer(raw: str, *, fresh: bool) -> tuple[AccessToken | None, token_cache.Stamp | None, Held | None]:
    """(The access token, the stamp the limiter's script must find, the lookup to keep once it has): the stamp
    without a lookup to keep when the token came from this process's copy; neither when it came from the
    database alone.

    A copy that is still within its lifetime is used as it is (the limiter's script checks its stamp). Else,
    for a token whose installation this process has seen, the stamp is read first, then the database; a token
    never seen is read from the database only, and its installation noted (``integrations.token_cache``)."""
    checksum = token_checksum(raw)
    if fresh or not token_cache.copy_seconds():
        metrics.token_lookup("database")
        row = _token_row(checksum)
        return (None if row is None else _token_from_row(row)), None, None
    copy = token_cache.cached(checksum)
    if copy is not None:
        metrics.token_lookup("copy")
        return _token_from_row(copy.row), copy.stamp, None
    metrics.token_lookup("database")
    stamp = None
    installation_id = token_cache.installation_of(checksum)
    if installation_id is not None:
        try:
            stamp = token_cache.read_stamp(installation_id, api_redis())
        except (redis.RedisError, OSError):
            token_cache.clear()  # the limiter reports the failure
    row = _token_row(checksum)
    if row is None:
        return None, None, None
    token = _token_from_row(row)
    if stamp is None or stamp.installation_id != token.installation.pk:
        token_cache.note_installation(checksum, token.installation.pk)
        return token, None, None
    return token, stamp, Held(checksum, row, stamp)


def _keep(held: Held) -> None:
    ends = aware_datetime(held.row[-1])
    token_cache.keep(held.checksum, held.row, held.stamp, ends_at=ends.timestamp() if ends is not None else None)


def _identify_bearer(request, account_code: str, app_ref: str, bearer: str, *, fresh: bool = False) -> Identity:
    token, stamp, held = _resolve_bearer(bearer, fresh=fresh)
    installation = token.installation if token is not None else None
    if installation is None:
        return Identity(pool=unauthenticated_pool(request, account_code, app_ref),
                        refusal=error_response(401, "UNAUTHORIZED", f"Invalid instance token: {bearer[:200]}"))
    limit, window_s = token.limit
    pool = Pool(installation_pool_name(installation.pk), limit, window_s, installation_id=installation.pk,
                stamp=stamp, from_copy=stamp is not None and held is None)
    app = installation.app
    refusal = None
    expired = token.is_expired()
    if expired:
        refusal = JsonResponse(EXPIRED_TOKEN_BODY, status=401)
    elif app_ref != app.client_id:
        refusal = error_response(401, "INVALID_APP_REF",
                                 "brightpearl-app-ref must be the app reference the token was issued to.")
    elif request.headers.get(DEV_REF_HEADER) is not None and request.headers[DEV_REF_HEADER].strip() != token.dev_ref:
        refusal = error_response(401, "INVALID_DEV_REF",
                                 "brightpearl-dev-ref is not the reference of the app's developer.")
    elif not installation.is_enabled:
        refusal = error_response(401, "INSTALLATION_DISABLED", "The app is turned off in this account.")
    elif token.app_is_suspended:
        refusal = error_response(401, "APP_SUSPENDED", "The app is suspended; its tokens do not work.")
    elif installation.account.code != account_code:
        refusal = error_response(403, "ACCOUNT_MISMATCH", "This token is not valid for this account.")
    elif installation.account.status != Account.Status.ACTIVE:
        refusal = error_response(403, "ACCOUNT_SUSPENDED", "This account is suspended.")
    if refusal is not None:
        return Identity(pool=pool, refusal=refusal, expired_token=expired, held=held)
    return Identity(pool=pool, caller=Caller(account=installation.account, app_ref=app.client_id,
                                             installation=installation), held=held)


def _identify_staff(request, account_code: str, app_ref: str, secret: str) -> Identity:
    token = staff_token_lookup(app_ref=app_ref, raw_token=secret)
    if token is None or not token.member.is_active:
        return Identity(pool=unauthenticated_pool(request, account_code, app_ref), refusal=error_response(
            401, "UNAUTHORIZED", "Unknown, revoked or expired staff token for this brightpearl-app-ref."))
    account = token.private_app.account
    pool = staff_pool(account.pk)
    if account.code != account_code:
        return Identity(pool=pool, refusal=error_response(403, "ACCOUNT_MISMATCH",
                                                          "This staff token belongs to another account."))
    if account.status != Account.Status.ACTIVE:
        return Identity(pool=pool, refusal=error_response(403, "ACCOUNT_SUSPENDED", "This account is suspended."))
    return Identity(pool=pool, caller=Caller(account=account, app_ref=app_ref, staff_token=token))


@functools.cache
def _staff_limit_sql(vendor: str) -> str:
    q = connection.ops.quote_name
    return (f"SELECT {q('staff_token_limit')}, {q('limit_period_seconds')} "
            f"FROM {q(PlatformSettings._meta.db_table)} WHERE {q('id')} = 1")


def staff_pool(account_id: int) -> Pool:
    """The one fixed pool shared by all staff tokens of an account (the limit read with one prepared query)."""
    row = fetch_one("portal_staff_limit", _staff_limit_sql(connection.vendor), [])
    if row is None:  # the settings row has not been created yet
        settings_row = platform_settings()
        row = (settings_row.staff_token_limit, settings_row.limit_period_seconds)
    limit, window_s = row
    return Pool(f"staff:{account_id}", limit, window_s, staff_account_id=account_id)


def unauthenticated_pool(request: HttpRequest, account_code: str, app_ref: str) -> Pool:
    """The pool of requests without valid credentials: one per account, app reference and client
    address, at ``PORTAL["FAILED_AUTH_LIMIT"]`` calls per minute. It never is an
    installation's or an account's staff pool, whatever the request names. When the app reference
    names an installation in the account, the pool says so, so that the installation's usage can
    show these calls apart from its own."""
    address = client_ip(request)
    named = hashlib.sha256(f"{account_code}\n{app_ref}".encode("utf-8", "replace")).hexdigest()[:24]
    installation_id, is_enabled = _installation_named(account_code, app_ref) if app_ref else (None, True)
    limit = max(1, integrations_settings.FAILED_AUTH_LIMIT)
    return Pool(f"unauthenticated:{named}:{address}", limit, FAILED_AUTH_WINDOW_S,
                failed_for_installation_id=installation_id, failed_while_off=not is_enabled)


@functools.cache
def _installation_named_sql() -> str:
    q = connection.ops.quote_name
    return (
        f"SELECT i.{q('id')}, i.{q('is_enabled')} FROM {q(Installation._meta.db_table)} i "
        f"JOIN {q(App._meta.db_table)} a ON a.{q('id')} = i.{q('app_id')} "
        f"JOIN {q(Account._meta.db_table)} c ON c.{q('id')} = i.{q('account_id')} "
        f"WHERE a.{q('client_id')} = %s AND c.{q('code')} = %s"
    )


def _installation_named(account_code: str, app_ref: str) -> tuple[int | None, bool]:
    """(The id of the installation of the app ``app_ref`` in the account ``account_code`` or None, whether it
    is turned on): one hand-written query, since a flood of failed requests must cost little."""
    with connection.cursor() as cursor:
        cursor.execute(_installation_named_sql(), [app_ref, account_code])
        row = cursor.fetchone()
    return (row[0], bool(row[1])) if row else (None, True)


def _touch_staff_token(token: StaffToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= STAFF_TOKEN_TOUCH_INTERVAL_S:
        StaffToken.objects.filter(pk=token.pk).update(last_used_at=now)


# --- The limiter, its failure policy, headers and usage ------------------------------------------------

_limiter_lock = threading.Lock()
_limiter: tuple[redis.Redis, SlidingLogLimiter, SlidingLogLimiter, SlidingLogLimiter] | None = None
_last_limiter_error_at = 0.0


def _limiters_for(client: redis.Redis) -> tuple[redis.Redis, SlidingLogLimiter, SlidingLogLimiter, SlidingLogLimiter]:
    """(client, the plain limiter, the limiter that also counts usage, the same checking a token lookup's
    stamp first) on the shared client (rebuilt only when the client is)."""
    global _limiter
    current = _limiter
    if current is None or current[0] is not client:
        with _limiter_lock:
            if _limiter is None or _limiter[0] is not client:
                _limiter = (client, SlidingLogLimiter(client),
                            SlidingLogLimiter(client, then=usage.RECORD_AFTER_DECISION),
                            SlidingLogLimiter(client, first=token_cache.GUARD, then=usage.RECORD_AFTER_DECISION))
            current = _limiter
    return current


# Count the usage details (endpoint, outcome, waits, expired tokens, alerts). Always on in service: the
# benchmark (tools/gateway_bench.py) turns it off on every other call to measure what the details cost.
_usage_detail = True


def _with_usage_detail(identity: Identity, request: HttpRequest) -> Pool:
    """The identity's pool, holding what the usage details count of this request when the pool has usage (an
    installation's or an account's staff pool): whether the gateway refuses the request itself, whether its
    token had expired, and its endpoint class and search (plain string work, no routing)."""
    pool = identity.pool
    if not _usage_detail or (pool.installation_id is None and pool.staff_account_id is None):
        return pool
    fields = usage.request_fields(request.method, request.path_info, request.META.get("QUERY_STRING", ""))
    # Built field by field: dataclasses.replace costs a few microseconds more, on every call.
    return Pool(pool.name, pool.limit, pool.window_s, pool.installation_id, pool.failed_for_installation_id,
                pool.failed_while_off, pool.staff_account_id,
                (identity.refusal is not None, identity.expired_token, fields), pool.stamp, pool.from_copy)


class _Stale:
    """What :func:`_admit` answers when the pool's stamp is no longer current: nothing was decided or counted."""


STALE = _Stale()


def _admit(pool: Pool) -> Decision | None | _Stale:
    """One slot from the pool, and the request counted in the usage of the installation (or staff pool)
    it is for, or of the installation it named when it failed authentication, in one script: one Redis
    round trip. When the pool carries a stamp, the script first checks it (:data:`STALE` when it moved). When
    Redis fails, an admitting decision (fail open) or None; the request is not counted then, and a copy of a
    token lookup is not trusted (:data:`STALE`: the caller reads the database)."""
    try:
        _, plain, counting, guarded = _limiters_for(api_redis())
        if pool.installation_id is not None or (pool.staff_account_id is not None and pool.detail is not None):
            refused, expired, fields = pool.detail or (False, False, None)
            keys, args = usage.record_keys_args(installation_id=pool.installation_id,
                                                staff_account_id=pool.staff_account_id, refused=refused,
                                                expired_token=expired, fields=fields)
            if pool.stamp is not None:
                guard_keys, guard_args = pool.stamp.keys_args()
                decision = guarded.hit(pool.name, limit=pool.limit, window_s=pool.window_s,
                                       then_keys=[*keys, *guard_keys], then_args=[*args, *guard_args])
                return STALE if decision is None else decision
        elif pool.failed_for_installation_id is not None:
            keys, args = usage.record_keys_args(installation_id=pool.failed_for_installation_id, failed=True,
                                                while_off=pool.failed_while_off)
        else:
            return plain.hit(pool.name, limit=pool.limit, window_s=pool.window_s)
        return counting.hit(pool.name, limit=pool.limit, window_s=pool.window_s, then_keys=keys, then_args=args)
    except (redis.RedisError, OSError) as error:
        token_cache.clear()  # a change announced meanwhile may not have reached this process
        if pool.from_copy:
            return STALE
        fail_open = integrations_settings.LIMITER_FAIL_OPEN
        metrics.limiter_error(fail_open=fail_open)  # /metrics: portal_api_limiter_errors_total
        _log_limiter_error(error, fail_open=fail_open)
        if not fail_open:
            return None
        return Decision(allowed=True, limit=pool.limit, remaining=pool.limit, reset_ms=pool.window_s * 1000)


def _count_status(pool: Pool, decision: Decision, status: int) -> None:
    """Count a view's own 4xx or 5xx answer in the usage the call was counted in (one small pipeline). A
    Redis failure here is logged, never the request's problem."""
    if not _usage_detail or not decision.at_us or (pool.installation_id is None and pool.staff_account_id is None):
        return  # not counted by the script (Redis failed open), or a pool without usage
    try:
        usage.record_status(status=status, at_us=decision.at_us, installation_id=pool.installation_id,
                            staff_account_id=pool.staff_account_id, client=api_redis())
    except (redis.RedisError, OSError) as error:
        logger.warning("API usage: the %s answer of a call was not counted (%s: %s)", status,
                       type(error).__name__, error)


def _log_limiter_error(error: Exception, *, fail_open: bool) -> None:
    global _last_limiter_error_at
    now = time.monotonic()
    if now - _last_limiter_error_at < LIMITER_ERROR_LOG_INTERVAL_S and _last_limiter_error_at:
        return
    _last_limiter_error_at = now
    logger.error(
        "API rate limiter unreachable (%s: %s); %s. Check REDIS_URL and Redis. "
        "(Logged at most every %s s.)", type(error).__name__, error,
        "ADMITTING requests without rate limits (LIMITER_FAIL_OPEN)" if fail_open else "refusing requests with 503",
        LIMITER_ERROR_LOG_INTERVAL_S,
    )


def _with_throttle_headers(response: HttpResponse, decision: Decision) -> HttpResponse:
    response["brightpearl-requests-remaining"] = str(decision.remaining)
    response["brightpearl-next-throttle-period"] = str(decision.reset_ms)
    response["RateLimit-Limit"] = str(decision.limit)
    response["RateLimit-Remaining"] = str(decision.remaining)
    response["RateLimit-Reset"] = str(-(-decision.reset_ms // 1000))
    return response


JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


def _with_brightpearl_headers(response: HttpResponse, caller: Caller | None) -> HttpResponse:
    """The headers Brightpearl sends on every API answer (BRIGHTPEARL-API.md §7): the JSON content type
    without a space, a fresh ``Ruid``, ``Message-Type`` (the view names the operation; ``api-proxy`` when
    the gateway answered alone), no caching, and the installation id on OAuth calls that got through."""
    if response.get("Content-Type", "").startswith("application/json"):
        response["Content-Type"] = JSON_CONTENT_TYPE
    response["Ruid"] = str(uuid.uuid4())
    if not response.has_header("Message-Type"):
        response["Message-Type"] = "api-proxy"
    response["Cache-Control"] = "no-cache, must-revalidate"
    response["Pragma"] = "no-cache"
    response["Expires"] = "Mon, 20 Dec 1998 01:00:00 GMT"
    if caller is not None and caller.installation is not None and response.status_code != 401:
        response["Brightpearl-Installed-Integration-Instance-Id"] = str(caller.installation.pk)
    return response
