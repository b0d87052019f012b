"""The token endpoint's common cases, answered in a lookup and one write: a refresh or a code exchange that is
certain to succeed.

Through django-oauth-toolkit and oauthlib a refresh costs 22 queries (the client loaded twice, the refresh
token read three times and locked twice, savepoints, a row-by-row revocation, the new access token read back
for a signal) and a code exchange 18 (the grant read six times), plus their ORM compilation. What they need
is one lookup and the writes:

1. one read, outside any transaction: the refresh token (or code) by checksum with its access token,
   installation, account and client (app); on PostgreSQL a per-session prepared statement;
2. the writes, atomic: claim the refresh token (``UPDATE ... WHERE revoked IS NULL AND access_token_id =``
   the one read) and delete its access token, or claim the code (``redeemed_at IS NULL``, recording the
   family it starts); insert the new access token and refresh token. A concurrent claim waits for the row
   lock, then finds the row taken and writes nothing. On PostgreSQL this is one statement (data-modifying
   ``WITH`` queries, atomic on its own: one round trip); elsewhere one short transaction.

Every check the toolkit, oauthlib and :class:`integrations.oauth.PortalOAuth2Validator` make on those paths is
made here on the same data: client authentication (HTTP Basic or body; the secret checked by the validator's
own ``_check_secret``; for a refresh, with ``OAUTH_REFRESH_WITHOUT_SECRET``, a named client without a secret),
the client's grant types, the token or code belonging to that client; a refresh token unrevoked, not orphaned,
not past ``REFRESH_TOKEN_EXPIRE_SECONDS``; a code unredeemed, unexpired, with the authorize-time redirect URI
and no PKCE (neither a challenge nor a client that must use one); the installation on, the app not suspended,
the account of the URL. The answers are the validator's (reference-shaped) token responses.

Anything else is not answered here (``None``) and goes to the toolkit, unchanged and under its locks: every
refusal (wrong secret, unknown, revoked, replayed, expired or foreign token or code, redirect mismatch), the
grace-period replay and reuse detection with family revocation, a replayed code's revocation, PKCE, a
rotation's previous secret, ``scope`` or ``resource`` parameters, HTTP Basic together with body credentials,
query strings, CORS requests, custom token generators or server options. Refusals are rare and cost what they
cost before; the common cases are fast. Nothing is written before every check has passed.
"""

import functools
import json
import uuid
from datetime import timedelta

from django.db import connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from oauth2_provider.models import refresh_token_expire_timedelta
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.signals import app_authorized
from oauthlib.common import generate_token
from oauthlib.oauth2 import Server

from accounts.models import Account
from accounts.prepared import aware_datetime, fetch_one
from integrations import token_cache
from integrations.conf import integrations_settings
from integrations.models import AccessToken, Grant, RefreshToken
from integrations.oauth import PortalOAuth2Validator, api_domain, decode_basic, token_checksum
from portal.models import App, Installation
from portal.oauth_policy import pkce_required

# The client's registered grant types that allow a refresh (the toolkit's GRANT_TYPE_MAPPING["refresh_token"]).
REFRESH_GRANT_TYPES = frozenset({
    App.GRANT_AUTHORIZATION_CODE, App.GRANT_DEVICE_CODE, App.GRANT_PASSWORD, App.GRANT_CLIENT_CREDENTIALS,
    App.GRANT_OPENID_HYBRID,
})
REFRESH_FIELDS = frozenset({"grant_type", "refresh_token", "client_id", "client_secret", "account_code"})
# The client's registered grant types that allow a code exchange (GRANT_TYPE_MAPPING["authorization_code"]).
CODE_GRANT_TYPES = frozenset({App.GRANT_AUTHORIZATION_CODE, App.GRANT_OPENID_HYBRID})
CODE_FIELDS = frozenset({"grant_type", "code", "redirect_uri", "client_id", "client_secret", "account_code"})

_validator = PortalOAuth2Validator()  # for _check_secret: the same secret check as the toolkit's path


def _quoted(model, *fields: str) -> tuple[str, ...]:
    quote = connection.ops.quote_name
    return tuple(quote(model._meta.get_field(name).column) for name in fields)


@functools.cache
def _statements(vendor: str) -> dict:
    """The SQL of the fast path, built from the models' metadata (tables and columns as migrated)."""
    quote = connection.ops.quote_name
    rt, at = quote(RefreshToken._meta.db_table), quote(AccessToken._meta.db_table)
    app, inst, acct = quote(App._meta.db_table), quote(Installation._meta.db_table), quote(Account._meta.db_table)
    lookup = (
        f"SELECT r.id, r.user_id, r.access_token_id, r.token_family, r.resource, r.installation_id,"
        f" a.expires, a.scope, i.is_enabled, i.app_id, c.code,"
        f" p.id, p.client_id, p.client_secret, p.authorization_grant_type, p.suspended_at,"
        f" p.registration_source"
        f" FROM {rt} r JOIN {app} p ON p.id = r.application_id"
        f" LEFT JOIN {at} a ON a.id = r.access_token_id"
        f" LEFT JOIN {inst} i ON i.id = r.installation_id"
        f" LEFT JOIN {acct} c ON c.id = i.account_id"
        f" WHERE r.token_checksum = %s AND r.revoked IS NULL LIMIT 1"
    )
    at_columns = _quoted(AccessToken, *ACCESS_FIELDS)
    rt_columns = _quoted(RefreshToken, *REFRESH_TOKEN_FIELDS)
    returning = " RETURNING id" if connection.features.can_return_columns_from_insert else ""
    # PostgreSQL: the claim, the deletion and both inserts as one statement (data-modifying WITH queries),
    # which is atomic on its own: one round trip instead of six (BEGIN ... COMMIT). If the claim finds the
    # token taken or revoked, nothing is written and no row comes back.
    at_values = ", ".join(f"%s::{_db_type(AccessToken, name)}" for name in ACCESS_FIELDS)
    rt_values = ", ".join("issued.id" if name == "access_token" else f"%s::{_db_type(RefreshToken, name)}"
                          for name in REFRESH_TOKEN_FIELDS)
    rotate = (
        f"WITH claimed AS (UPDATE {rt} SET revoked = %s, updated = %s, access_token_id = NULL"
        f" WHERE id = %s AND revoked IS NULL AND access_token_id = %s RETURNING id),"
        f" dropped AS (DELETE FROM {at} WHERE id = %s AND EXISTS (SELECT 1 FROM claimed)),"
        f" issued AS (INSERT INTO {at} ({', '.join(at_columns)}) SELECT {at_values} FROM claimed RETURNING id)"
        f" INSERT INTO {rt} ({', '.join(rt_columns)}) SELECT {rt_values} FROM issued RETURNING access_token_id"
    )
    grant = quote(Grant._meta.db_table)
    grant_lookup = (
        f"SELECT g.id, g.user_id, g.expires, g.redirect_uri, g.scope, g.code_challenge, g.resource,"
        f" g.redeemed_at, g.installation_id, i.is_enabled, i.app_id, c.code,"
        f" p.id, p.client_id, p.client_secret, p.client_type, p.authorization_grant_type, p.suspended_at,"
        f" p.registration_source"
        f" FROM {grant} g JOIN {app} p ON p.id = g.application_id"
        f" LEFT JOIN {inst} i ON i.id = g.installation_id"
        f" LEFT JOIN {acct} c ON c.id = i.account_id"
        f" WHERE g.code = %s LIMIT 1"
    )
    redeem = (
        f"WITH claimed AS (UPDATE {grant} SET redeemed_at = %s, token_family = %s"
        f" WHERE id = %s AND redeemed_at IS NULL RETURNING id),"
        f" issued AS (INSERT INTO {at} ({', '.join(at_columns)}) SELECT {at_values} FROM claimed RETURNING id)"
        f" INSERT INTO {rt} ({', '.join(rt_columns)}) SELECT {rt_values} FROM issued RETURNING access_token_id"
    )
    return {
        "lookup": lookup,
        "rotate": rotate,
        "grant_lookup": grant_lookup,
        "redeem": redeem,
        "claim_grant": f"UPDATE {grant} SET redeemed_at = %s, token_family = %s WHERE id = %s AND redeemed_at IS NULL",
        "claim": (f"UPDATE {rt} SET revoked = %s, updated = %s, access_token_id = NULL"
                  f" WHERE id = %s AND revoked IS NULL AND access_token_id = %s"),
        "delete_access": f"DELETE FROM {at} WHERE id = %s",
        "insert_access": (f"INSERT INTO {at} ({', '.join(at_columns)})"
                          f" VALUES ({', '.join(['%s'] * len(at_columns))}){returning}"),
        "insert_refresh": (f"INSERT INTO {rt} ({', '.join(rt_columns)})"
                           f" VALUES ({', '.join(['%s'] * len(rt_columns))})"),
    }


ACCESS_FIELDS = ("user", "source_refresh_token", "token", "token_checksum", "id_token", "application", "expires",
                 "scope", "resource", "created", "updated", "installation")
REFRESH_TOKEN_FIELDS = ("user", "token", "token_checksum", "application", "access_token", "token_family",
                        "resource", "created", "updated", "revoked", "installation")


def _db_type(model, name: str) -> str:
    field = model._meta.get_field(name)
    return field.rel_db_type(connection) if field.is_relation else field.db_type(connection)


def _prepped(model, names: tuple[str, ...], values: tuple) -> list:
    """Values as the ORM would write them (datetimes, UUIDs and JSON adapted for this database)."""
    get_field = model._meta.get_field
    return [get_field(name).get_db_prep_save(value, connection) for name, value in zip(names, values, strict=True)]


def _json_list(value) -> list | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, list) else None


def _lookup(checksum: str, *, statement: str = "lookup"):
    """The token (or code) row with what the checks need (a prepared statement on PostgreSQL: planning these
    joins costs more than running them)."""
    return fetch_one(f"portal_oauth_{statement}", _statements(connection.vendor)[statement], [checksum])


def _presented_client(request) -> tuple[str, str | None] | None:
    """(client id, secret or None) as the toolkit would read them; None when the fast path does not apply."""
    post = request.POST
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is not None:
        kind, _, credentials = header.partition(" ")
        if kind != "Basic" or "client_id" in post or "client_secret" in post:
            return None
        return decode_basic(credentials)
    client_id = post.get("client_id")
    if not client_id:
        return None
    return client_id, post.get("client_secret") or None


def _server_is_plain() -> bool:
    """The toolkit's server as configured here: oauthlib's own server class and token generators, rotation on
    (``OAUTH_PRE_TOKEN_VALIDATION`` only reaches the device-code grant)."""
    return (oauth2_settings.OAUTH2_SERVER_CLASS is Server and not oauth2_settings.OIDC_ENABLED
            and not (oauth2_settings.ACCESS_TOKEN_GENERATOR or oauth2_settings.REFRESH_TOKEN_GENERATOR
                     or oauth2_settings.EXTRA_SERVER_KWARGS) and oauth2_settings.ROTATE_REFRESH_TOKEN)


def _rotate(refresh_pk: int, access_pk: int, stamp, access_values: list, refresh_values: list) -> int | None:
    """Revoke the presented refresh token (claimed only if still live and paired with the access token read),
    delete its access token, write the new pair; the new access token's id, or None if the claim failed."""
    sql = _statements(connection.vendor)
    if connection.vendor == "postgresql":
        refresh_values = [value for name, value in zip(REFRESH_TOKEN_FIELDS, refresh_values, strict=True)
                          if name != "access_token"]
        with connection.cursor() as cursor:
            cursor.execute(sql["rotate"], [stamp, stamp, refresh_pk, access_pk, access_pk, *access_values,
                                           *refresh_values])
            row = cursor.fetchone()
        return None if row is None else row[0]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql["claim"], [stamp, stamp, refresh_pk, access_pk])
        if cursor.rowcount != 1:
            return None
        cursor.execute(sql["delete_access"], [access_pk])
        return _insert_pair(cursor, sql, access_values, refresh_values)


def _insert_pair(cursor, sql: dict, access_values: list, refresh_values: list) -> int:
    """Write the new access token, then its refresh token pointing at it (the path without one statement for
    all); the new access token's id."""
    cursor.execute(sql["insert_access"], access_values)
    new_access_pk = cursor.fetchone()[0] if connection.features.can_return_columns_from_insert else cursor.lastrowid
    refresh_values[REFRESH_TOKEN_FIELDS.index("access_token")] = new_access_pk
    cursor.execute(sql["insert_refresh"], refresh_values)
    return new_access_pk


def refresh_exchange(request, account_code: str, *, sender=None) -> HttpResponse | None:
    """Answer a refresh exchange that is certain to succeed, or None for the toolkit to answer."""
    post = request.POST
    if (post.get("grant_type") != "refresh_token" or request.META.get("QUERY_STRING")
            or request.META.get("HTTP_ORIGIN") or not REFRESH_FIELDS.issuperset(post)
            or any(len(values) > 1 for _key, values in post.lists()) or not _server_is_plain()):
        return None
    raw_refresh = post.get("refresh_token")
    presented = _presented_client(request)
    if not raw_refresh or presented is None:
        return None
    client_id, secret = presented
    if secret is None and not (integrations_settings.OAUTH_REFRESH_WITHOUT_SECRET
                               and "HTTP_AUTHORIZATION" not in request.META):
        return None
    row = _lookup(token_checksum(raw_refresh))
    if row is None:
        return None
    (refresh_pk, user_pk, access_pk, family, resource, installation_pk, access_expires, scope, is_enabled,
     installation_app_pk, code, app_pk, app_client_id, stored_secret, grant_type, suspended_at,
     source) = row
    now = timezone.now()
    expire_delta = refresh_token_expire_timedelta()
    access_expires = aware_datetime(access_expires)
    if (app_client_id != client_id or grant_type not in REFRESH_GRANT_TYPES
            or source == App.RegistrationSource.CIMD or access_pk is None or access_expires is None
            or (expire_delta and access_expires + expire_delta <= now)
            or installation_pk is None or installation_app_pk != app_pk or not is_enabled
            or suspended_at is not None or code != account_code or _json_list(resource) != []):
        return None
    if secret is not None and not _validator._check_secret(secret, stored_secret):
        return None  # the toolkit answers invalid_client (or accepts a rotation's previous secret)
    access_raw, refresh_raw = generate_token(), generate_token()
    expires_in = oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
    family = RefreshToken._meta.get_field("token_family").to_python(family)
    access_values = _prepped(AccessToken, ACCESS_FIELDS, (
        user_pk, refresh_pk, "", token_checksum(access_raw), None, app_pk, now + timedelta(seconds=expires_in),
        scope, [], now, now, installation_pk))
    refresh_values = _prepped(RefreshToken, REFRESH_TOKEN_FIELDS, (
        user_pk, "", token_checksum(refresh_raw), app_pk, None, family, [], now, now, None, installation_pk))
    new_access_pk = _rotate(refresh_pk, access_pk, _prepped(RefreshToken, ("revoked",), (now,))[0],
                            access_values, refresh_values)
    if new_access_pk is None:
        return None  # claimed or revoked meanwhile: the toolkit decides (grace period, reuse detection)
    token_cache.forget_installations([installation_pk])  # the old access token is gone (raw SQL: no signal)
    return _issued(request, sender, new_access_pk, {
        "access_token": access_raw, "refresh_token": refresh_raw, "api_domain": api_domain(),
        "token_type": "Bearer", "expires_in": expires_in})


def _issued(request, sender, access_pk: int, body: dict) -> HttpResponse:
    """The toolkit's answer: its signal (when anything listens), the JSON and oauthlib's headers."""
    if app_authorized.has_listeners():
        app_authorized.send(sender=sender, request=request, token=AccessToken.objects.get(pk=access_pk))
    response = HttpResponse(json.dumps(body), content_type="application/json")
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _pkce_required(client_id: str, client_type: str) -> bool:
    """The toolkit's PKCE_REQUIRED for this client; the portal's policy (public clients) from the row read."""
    setting = oauth2_settings.PKCE_REQUIRED
    if setting is pkce_required:
        return client_type == App.CLIENT_PUBLIC
    return bool(setting(client_id)) if callable(setting) else bool(setting)


def _redeem(grant_pk: int, stamp, family_value, access_values: list, refresh_values: list) -> int | None:
    """Mark the code redeemed (only if it still is not) with the family it starts, write the pair; the new
    access token's id, or None if the code was redeemed meanwhile."""
    sql = _statements(connection.vendor)
    if connection.vendor == "postgresql":
        refresh_values = [value for name, value in zip(REFRESH_TOKEN_FIELDS, refresh_values, strict=True)
                          if name != "access_token"]
        with connection.cursor() as cursor:
            cursor.execute(sql["redeem"], [stamp, family_value, grant_pk, *access_values, *refresh_values])
            row = cursor.fetchone()
        return None if row is None else row[0]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql["claim_grant"], [stamp, family_value, grant_pk])
        if cursor.rowcount != 1:
            return None
        return _insert_pair(cursor, sql, access_values, refresh_values)


def code_exchange(request, account_code: str, *, sender=None) -> HttpResponse | None:
    """Answer a code exchange that is certain to succeed (a confidential client with its secret, a live code
    of this account's installation, the authorize-time redirect URI, no PKCE), or None for the toolkit."""
    post = request.POST
    if (post.get("grant_type") != "authorization_code" or request.META.get("QUERY_STRING")
            or request.META.get("HTTP_ORIGIN") or not CODE_FIELDS.issuperset(post)
            or any(len(values) > 1 for _key, values in post.lists()) or not _server_is_plain()):
        return None
    raw_code, redirect_uri = post.get("code"), post.get("redirect_uri")
    presented = _presented_client(request)
    if not raw_code or not redirect_uri or presented is None or presented[1] is None:
        return None
    client_id, secret = presented
    row = _lookup(token_checksum(raw_code), statement="grant_lookup")
    if row is None:
        return None
    (grant_pk, user_pk, expires, grant_redirect_uri, scope, code_challenge, resource, redeemed_at, installation_pk,
     is_enabled, installation_app_pk, code, app_pk, app_client_id, stored_secret, client_type, grant_type,
     suspended_at, source) = row
    now = timezone.now()
    expires = aware_datetime(expires)
    if (app_client_id != client_id or grant_type not in CODE_GRANT_TYPES or source == App.RegistrationSource.CIMD
            or redeemed_at is not None or expires is None or now >= expires or redirect_uri != grant_redirect_uri
            or code_challenge or _pkce_required(client_id, client_type) or _json_list(resource) != []
            or installation_pk is None or installation_app_pk != app_pk or not is_enabled
            or suspended_at is not None or code != account_code):
        return None
    if not _validator._check_secret(secret, stored_secret):
        return None  # the toolkit answers invalid_client (or accepts a rotation's previous secret)
    access_raw, refresh_raw = generate_token(), generate_token()
    expires_in = oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
    family = uuid.uuid4()
    access_values = _prepped(AccessToken, ACCESS_FIELDS, (
        user_pk, None, "", token_checksum(access_raw), None, app_pk, now + timedelta(seconds=expires_in),
        scope, [], now, now, installation_pk))
    refresh_values = _prepped(RefreshToken, REFRESH_TOKEN_FIELDS, (
        user_pk, "", token_checksum(refresh_raw), app_pk, None, family, [], now, now, None, installation_pk))
    stamp, family_value = _prepped(Grant, ("redeemed_at", "token_family"), (now, family))
    new_access_pk = _redeem(grant_pk, stamp, family_value, access_values, refresh_values)
    if new_access_pk is None:
        return None  # redeemed meanwhile: the toolkit refuses the replay and revokes what the code issued
    return _issued(request, sender, new_access_pk, {
        "access_token": access_raw, "refresh_token": refresh_raw, "installation_instance_id": str(installation_pk),
        "api_domain": api_domain(), "token_type": "Bearer", "expires_in": expires_in})


def fast_exchange(request, account_code: str, *, sender=None) -> HttpResponse | None:
    """The token endpoint's common cases (a refresh or a code exchange certain to succeed), or None."""
    grant_type = request.POST.get("grant_type")
    if grant_type == "refresh_token":
        return refresh_exchange(request, account_code, sender=sender)
    if grant_type == "authorization_code":
        return code_exchange(request, account_code, sender=sender)
    return None
