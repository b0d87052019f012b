"""The HTTP client of one connection: every call the sync engine sends goes through here — search pages
(:meth:`SyncClient.search`) and the GETs by ID set that read their full records (:meth:`SyncClient.records`).

Each call
1. takes a slot from the connection's pool in the shared Redis pacer (GCRA in reserve mode, a little
   under the pool's limit; ``integrations.ratelimit.PacedReserver``). A slot further away than
   ``MAX_SLOT_WAIT_SECONDS`` is not taken: :class:`PoolBusy` tells the caller to give its worker back;
2. makes sure the access token is fresh: refreshed a margin before it expires, single-flight (a Redis
   lock per connection, the row re-read after taking it, the new tokens written compare-and-set on
   ``token_version``), since refresh tokens rotate and a second refresh of one token must never be sent;
3. sends the request with the bearer token and the Brightpearl headers over a guarded egress session;
4. reads the answer: the throttle headers (when the server says fewer calls are left than our pace
   assumes, the whole pool slows down), 503/429 (the whole pool waits ``Retry-After``), 401 on a token
   that looked valid (one forced refresh, then one retry), other 5xx and timeouts (:class:`Transient`).

Tokens are decrypted only in memory and never logged. The client never changes a connection's status itself: it
raises :class:`ReauthNeeded` or :class:`NotActive` and the engine decides what follows.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime

import redis
import requests
from django.utils import timezone
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from integrations import egress, idsets
from integrations.ratelimit import PacedReserver
from sync import crypto, tokens
from sync.conf import sync_settings
from sync.models import Connection

logger = logging.getLogger(__name__)

DEFAULT_THROTTLE_WAIT_S = 5.0
REFRESH_LOCK_TIMEOUT_S = 30
REFRESH_LOCK_WAIT_S = 15
# The most ids one GET by ID set may name (BRIGHTPEARL-API.md §3: "at most ~200 ids" for products, contacts and
# orders; OPTIONS splits larger sets into URIs of at most 200). SYNC_IDSET_MAX may lower it, never raise it.
IDSET_MAX = 200
# OAuth errors after which only the account can help (re-authorise): the grant or the client is gone.
REAUTH_ERRORS = (oauth_errors.InvalidGrantError, oauth_errors.InvalidClientError,
                 oauth_errors.UnauthorizedClientError)


class SyncProblem(Exception):
    """Something that ends the current slice; subclasses say what the engine should do."""


class PoolBusy(SyncProblem):
    """No slot of the pool within the wait a worker may spend: come back in ``wait_s``."""

    def __init__(self, wait_s: float):
        super().__init__(f"the rate pool has no free slot for {wait_s:.1f} s")
        self.wait_s = wait_s


class Throttled(SyncProblem):
    """The server refused the call for its rate limit (503/429); the pool waits ``wait_s``."""

    def __init__(self, wait_s: float, status: int):
        super().__init__(f"throttled by the server (HTTP {status}); waiting {wait_s:.1f} s")
        self.wait_s = wait_s


class Transient(SyncProblem):
    """A timeout, a connection error or a 5xx: worth trying again later."""


class ReauthNeeded(SyncProblem):
    """The account must authorise the app again (refresh refused, or 401 after a fresh token)."""


class NotActive(SyncProblem):
    """The connection is no longer active (paused, disabled, needs re-authorisation)."""


class LeaseLost(SyncProblem):
    """The slice's stream was dispatched again meanwhile (its lease expired): this slice sends nothing more."""


class RemoteRejected(SyncProblem):
    """The server refused the request itself (4xx other than 401): retrying it will not help."""


class NotFound(RemoteRejected):
    """404: for a GET by ID set, none of the ids exists (any more)."""


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    more: bool


def idset_max() -> int:
    """Ids per GET by ID set: ``SYNC_IDSET_MAX``, at most the reference's :data:`IDSET_MAX`."""
    return max(1, min(IDSET_MAX, sync_settings.IDSET_MAX))


def pool_limit(connection: Connection) -> tuple[int, int]:
    """(calls, window seconds) of the connection's pool: the installation's current limit for managed
    connections (default or approved increase), the configured one for external connections."""
    if connection.installation_id:
        from portal.limits import installation_limit

        return installation_limit(installation=connection.installation)
    return connection.rate_limit or 200, connection.rate_window_seconds or 60


def retry_after_seconds(response: requests.Response) -> float:
    """How long the server asked us to wait: Retry-After (seconds or an HTTP date), else the
    Brightpearl next-throttle-period (milliseconds), else a default."""
    value = response.headers.get("Retry-After", "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
            except (TypeError, ValueError):
                pass
    period_ms = _int_header(response, "brightpearl-next-throttle-period")
    return period_ms / 1000 if period_ms is not None else DEFAULT_THROTTLE_WAIT_S


def _int_header(response: requests.Response, name: str) -> int | None:
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def operator_origins(connection: Connection) -> tuple[str, ...]:
    """What the egress guard lets this connection reach beyond public addresses: a managed connection calls
    the built-in platform (the operator's own, perhaps on a private network); an external one nothing."""
    return (sync_settings.PLATFORM_URL,) if connection.kind == Connection.Kind.MANAGED else ()


class SyncClient:
    """Calls of one connection. Not thread-safe: one per slice. Counts ``calls`` and ``throttled``."""

    def __init__(self, connection: Connection, *, redis_client: redis.Redis,
                 still_leased: Callable[[], bool] | None = None):
        self.connection = connection
        # Asked right before each call (after the wait for its slot): False = the slice lost its stream.
        self.still_leased = still_leased
        self.redis = redis_client
        self.reserver = PacedReserver(redis_client)
        self.calls = 0
        self.throttled = 0
        self.refreshes = 0
        self._limit: tuple[int, int] | None = None
        # One session per client: kept-alive connections; the token is set before each call.
        self._session = egress.session(purpose="sync API", allow=operator_origins(connection))
        self._session.headers.update({"User-Agent": tokens.USER_AGENT, "brightpearl-app-ref": connection.client_id})
        dev_ref = self._dev_ref()
        if dev_ref:
            self._session.headers["brightpearl-dev-ref"] = dev_ref

    def close(self) -> None:
        self._session.close()

    # --- Public ---------------------------------------------------------------------------------

    def search(self, resource, *, since: str | None, offset: int, page_size: int) -> Page:
        """One page of ``<resource>-search`` ordered by updatedOn (then id), from ``since`` on."""
        params = {"pageSize": page_size, "firstResult": offset + 1, "sort": "updatedOn.ASC"}
        if since:
            params["updatedOn"] = f"{since}/"
        response = self.get(f"/{resource.service}/{resource.name}-search", params=params)
        try:
            body = response.json()["response"]
            names = [column["name"] for column in body["metaData"]["columns"]]
            rows = [dict(zip(names, row)) for row in body["results"]]
            more = bool(body["metaData"].get("morePagesAvailable"))
        except (ValueError, KeyError, TypeError) as error:
            raise RemoteRejected(f"the search answer is not a Brightpearl search response ({error})") from error
        return Page(rows=rows, more=more and bool(rows))

    def records(self, resource, ids: list[int]) -> list[dict]:
        """The full records of ``ids`` (at most :func:`idset_max`): one ``GET /<service>/<resource>/<ID set>``
        with a compact ID set (``1-5,7``). Records deleted since the search are simply absent; a 404 (the
        answer of products and contacts when none of the ids exists) is an empty list."""
        if not ids:
            return []
        if len(ids) > idset_max():
            raise ValueError(f"{len(ids)} ids in one GET; at most {idset_max()}")
        try:
            response = self.get(f"/{resource.service}/{resource.name}/{idsets.compact(ids)}")
        except NotFound:
            return []
        try:
            records = response.json()["response"]
        except (ValueError, KeyError, TypeError) as error:
            raise RemoteRejected(f"the {resource.name} answer is not a Brightpearl GET response ({error})") from error
        if isinstance(records, dict):  # an object keyed by id (as some Brightpearl resources answer)
            records = list(records.values())
        if not isinstance(records, list) or not all(isinstance(record, dict) for record in records):
            raise RemoteRejected(f"the {resource.name} answer is not a list of records")
        return records

    def get(self, path: str, *, params: dict | None = None) -> requests.Response:
        """GET ``api_base_url + path`` under the pool's pace; returns a 2xx response or raises."""
        version_seen = self._ensure_token()
        response = self._send(path, params)
        if response.status_code == 401:
            # A token that looked valid was refused: refresh once (unless someone already did), retry once.
            self._ensure_token(force_newer_than=version_seen)
            response = self._send(path, params)
            if response.status_code == 401:
                raise ReauthNeeded("The account's API refused a freshly renewed token.")
        if response.status_code in (429, 503):
            self.throttled += 1
            wait = retry_after_seconds(response)
            self.reserver.pause(self.connection.pool_name, seconds=wait)
            raise Throttled(wait, response.status_code)
        if response.status_code >= 500:
            raise Transient(f"HTTP {response.status_code} from the account's API")
        if response.status_code == 404:
            self._believe_the_server(response)  # an ordinary answer of a GET by ID set
            raise NotFound(f"HTTP 404: {egress.excerpt(response.text)}")
        if response.status_code >= 400:
            raise RemoteRejected(f"HTTP {response.status_code}: {egress.excerpt(response.text)}")
        self._believe_the_server(response)
        return response

    # --- Pacing ---------------------------------------------------------------------------------

    def _pace(self) -> tuple[int, float]:
        if self._limit is None:
            self._limit = pool_limit(self.connection)
        calls, window_s = self._limit
        # A little under the limit: a share of it, and at least the jitter allowance per window (a call
        # that reaches the server late must not put the next one inside the server's window).
        return calls, max(window_s / sync_settings.PACE_FACTOR, window_s + sync_settings.PACE_JITTER_SECONDS)

    def _take_slot(self) -> None:
        calls, paced_window = self._pace()
        reservation = self.reserver.reserve(self.connection.pool_name, limit=calls, window_s=paced_window,
                                            max_wait_s=sync_settings.MAX_SLOT_WAIT_SECONDS)
        if not reservation.reserved:
            raise PoolBusy(reservation.wait_s)
        if reservation.wait_s > 0:
            time.sleep(reservation.wait_s)
        held = self.reserver.paused_for(self.connection.pool_name)
        if held > 0:  # the server said "wait" while we slept: the slot is void
            raise PoolBusy(held)

    def _believe_the_server(self, response: requests.Response) -> None:
        """If the server has fewer calls left before its period turns than our pace would send in
        that time (another client shares the pool, or our limit is stale), slow the whole pool down."""
        remaining = _int_header(response, "brightpearl-requests-remaining")
        period_ms = _int_header(response, "brightpearl-next-throttle-period")
        if remaining is None or period_ms is None:
            return
        calls, paced_window = self._pace()
        interval_ms = paced_window * 1000 / calls
        pause_ms = period_ms - remaining * interval_ms
        if pause_ms > 0:
            self.reserver.pause(self.connection.pool_name, seconds=pause_ms / 1000)

    # --- HTTP -----------------------------------------------------------------------------------

    def _send(self, path: str, params: dict | None) -> requests.Response:
        self._take_slot()
        self._require_active()
        connection = self.connection
        url = connection.api_base_url.rstrip("/") + path
        if not tokens.plain_http_allowed(url):
            raise RemoteRejected("Not sent: the account's API address is not https.")
        headers = {"Authorization": f"Bearer {crypto.decrypt(connection.access_token_encrypted)}"}
        self.calls += 1
        try:
            return self._session.get(url, params=params, headers=headers,
                                     timeout=sync_settings.HTTP_TIMEOUT_SECONDS)
        except egress.Refused as error:
            raise RemoteRejected(f"Not sent: {error}") from error
        except requests.RequestException as error:
            raise Transient(f"{type(error).__name__} calling the account's API") from error

    def _dev_ref(self) -> str:
        profile = getattr(self.connection.app.user, "developer_profile", None)
        return getattr(profile, "dev_ref", "") or ""

    def _require_active(self) -> None:
        """Re-read the status right before a call: turning the app off stops the very next call; and a slice
        whose stream was dispatched again while it waited for its slot does not send the call at all."""
        status = Connection.objects.filter(pk=self.connection.pk).values_list("status", flat=True).first()
        if status != Connection.Status.ACTIVE:
            raise NotActive(f"the connection is {status or 'gone'}")
        if self.still_leased is not None and not self.still_leased():
            raise LeaseLost("the stream was dispatched again; this slice stops")

    # --- Tokens ---------------------------------------------------------------------------------

    def _token_is_fresh(self, connection: Connection) -> bool:
        margin = timedelta(seconds=sync_settings.REFRESH_MARGIN_SECONDS)
        return bool(connection.access_token_encrypted and connection.token_expires_at
                    and connection.token_expires_at - margin > timezone.now())

    def _reload(self) -> Connection:
        fresh = (Connection.objects.select_related("app__user__developer_profile", "installation")
                 .get(pk=self.connection.pk))
        self.connection = fresh
        return fresh

    def _ensure_token(self, *, force_newer_than: int | None = None) -> int:
        """Make sure the connection holds a usable token; returns its token_version. With
        ``force_newer_than``, a token of that version counts as bad (the server refused it)."""
        connection = self.connection
        if force_newer_than is None and self._token_is_fresh(connection):
            return connection.token_version
        lock = self.redis.lock(f"sync:refresh:{{{connection.pool_name}}}:{connection.pk}",
                               timeout=REFRESH_LOCK_TIMEOUT_S, blocking_timeout=REFRESH_LOCK_WAIT_S)
        acquired = lock.acquire()
        try:
            # Another worker may have refreshed while we waited: re-read before deciding.
            connection = self._reload()
            if connection.status != Connection.Status.ACTIVE:
                raise NotActive(f"the connection is {connection.status}")
            newer = force_newer_than is None or connection.token_version > force_newer_than
            if newer and self._token_is_fresh(connection):
                return connection.token_version
            if not acquired:
                raise Transient("another worker is still refreshing this connection's token")
            return self._refresh(connection)
        finally:
            if acquired:
                try:
                    lock.release()
                except redis.exceptions.LockError:
                    logger.warning("refresh lock of connection %s expired before release", connection.pk)

    def _refresh(self, connection: Connection) -> int:
        """Exchange the refresh token (held under the lock) and store the new pair compare-and-set."""
        refresh_token = crypto.decrypt(connection.refresh_token_encrypted)
        if not refresh_token:
            raise ReauthNeeded("There is no refresh token to renew access with.")
        self.refreshes += 1
        try:
            token = tokens.refresh(connection=connection, refresh_token=refresh_token,
                                   allow=operator_origins(connection))
        except REAUTH_ERRORS as error:
            raise ReauthNeeded(f"The token endpoint refused to renew access ({error.error}).") from error
        except egress.Refused as error:
            raise RemoteRejected(f"Not sent: {error}") from error
        except oauth_errors.InsecureTransportError as error:
            raise RemoteRejected("Not sent: the token endpoint's address is not https.") from error
        except (requests.RequestException, oauth_errors.OAuth2Error, ValueError) as error:
            raise Transient(f"token refresh failed: {type(error).__name__}") from error
        try:
            return tokens.store_tokens(connection=connection, token=token, expected_version=connection.token_version)
        except tokens.TokensChanged as error:
            raise Transient(str(error)) from error
