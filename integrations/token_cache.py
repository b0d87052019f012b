"""Access tokens resolved without the database on the gateway's hot path, revocation still immediate.

The gateway needs, for every API call, what an access token stands for: its installation, app, account, the
developer's reference, the states that refuse it (installation off, app suspended, account suspended) and the
installation's limit. That is one database round trip per call (``gateway.bearer_token``). Each web process
keeps what that lookup returned for the tokens it serves, keyed by the token's SHA-256 checksum (never the
token itself), and checks in Redis, inside the limiter's own script, that nothing it depends on has changed
since. So a call whose token is known costs one Redis round trip and no database query.

The check: two counters in Redis, the *stamp* of a copy.

- ``credentials:{installation:<id>}`` — the installation's generation, increased after every change to one of
  its access tokens (revoked, rotated, edited) or to the installation itself (turned on or off, moved). It has
  the pool's hash tag, so it sits on the pool's Redis Cluster slot.
- ``credentials:epoch`` — increased after a change to anything shared by many installations: an app (suspended,
  its reference or developer changed), an account (code, status), a developer profile (its reference), the
  platform settings (default limit, window) and limit grants. The script sets it to Redis's clock when it is
  missing, so a Redis that lost its data (a restart) has a new epoch and every copy is read again.

A copy is used only while the script finds both counters as they were *before* the copy was read from the
database (:func:`read_stamp` runs first); otherwise the script decides nothing, and the gateway reads the
database and asks again. The counters are increased once the change is committed (``transaction.on_commit``),
by signal receivers on those models (:func:`connect`) and by the writes that bypass model signals
(``oauth_exchange``'s token rotation); the process that makes the change stops using its own copies at once. A
change is therefore seen by every process at its next call.

What this does not see: rows changed by raw SQL outside the portal, or a bump lost because Redis was unreachable
at that moment. For those, a copy lives at most ``PORTAL["TOKEN_CACHE_SECONDS"]`` (60 by default; 0 turns the
cache off) and never past the end of the limit grant it read; a process that sees Redis fail drops every copy.
Code that writes these models with ``QuerySet.update()`` must call :func:`forget_installations` or
:func:`forget_everything` itself.

Tokens never seen by a process cost what they always did: the first call reads the database and notes which
installation the token belongs to (that never changes); the second reads the stamp, then the database, and
keeps the copy once the script has confirmed the stamp; later calls use the copy.
"""

import itertools
import logging
import threading
import time
from dataclasses import dataclass

import redis
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from integrations.conf import integrations_settings
from integrations.redis_client import api_redis

logger = logging.getLogger(__name__)

EPOCH_KEY = "credentials:epoch"
GENERATION_TTL_SECONDS = 86_400  # far longer than a copy may live (TOKEN_CACHE_SECONDS is capped below)
MAX_COPY_SECONDS = 3600
MAX_ENTRIES = 20_000  # per process, for copies and for the installation of each token seen


def generation_key(installation_id: int) -> str:
    return f"credentials:{{installation:{installation_id}}}"


# The stamp: KEYS[#KEYS - 1] = the installation's generation, KEYS[#KEYS] = the epoch (set to Redis's clock
# when missing). Leaves ``generation`` and ``epoch`` (strings) in locals.
READ_STAMP = """
local generation = redis.call('GET', KEYS[#KEYS - 1]) or ''
local epoch = redis.call('GET', KEYS[#KEYS])
if not epoch then
  local t = redis.call('TIME')
  epoch = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('SET', KEYS[#KEYS], epoch)
end
"""
STAMP_SCRIPT = READ_STAMP + "return {generation, epoch}\n"
# Run first in the limiter's script (``SlidingLogLimiter``'s ``first``): ARGV[#ARGV - 1] and ARGV[#ARGV] are the
# stamp the copy was read under; when either counter moved, end at once without deciding or counting anything.
GUARD = READ_STAMP + """
if generation ~= ARGV[#ARGV - 1] or epoch ~= ARGV[#ARGV] then return {-1, 0, 0, 0} end
"""


@dataclass(frozen=True)
class Stamp:
    installation_id: int
    generation: str
    epoch: str

    def keys_args(self) -> tuple[list[str], list[str]]:
        """The guard's keys and arguments, to append after the limiter's others."""
        return [generation_key(self.installation_id), EPOCH_KEY], [self.generation, self.epoch]


@dataclass(frozen=True)
class Copy:
    """What the token lookup returned for one checksum, the stamp it was read under, and until when (epoch
    seconds) it may be used."""

    row: tuple
    stamp: Stamp
    until: float
    kept: int  # when it was kept, in this process's order of events (see _Store)


class _Store:
    """Bounded dicts of one process (oldest out first). Plain dict operations: safe under threads.

    A change made by this process takes effect here at once, before its transaction commits and before Redis
    hears of it: ``changed`` holds, per installation, the place of its latest change in the process's order of
    events (``changed_all`` for a change of everything), and a copy kept before that is not used."""

    def __init__(self):
        self.copies: dict[str, Copy] = {}
        self.installations: dict[str, int] = {}
        self.changed: dict[int, int] = {}
        self.changed_all = 0
        self.events = itertools.count(1)

    def clear(self) -> None:
        self.changed_all = next(self.events)
        self.copies.clear()
        self.installations.clear()
        self.changed.clear()

    def mark_changed(self, installation_ids) -> None:
        if len(self.changed) >= MAX_ENTRIES:
            self.clear()
        at = next(self.events)
        for pk in installation_ids:
            self.changed[pk] = at


_store = _Store()


def _put(mapping: dict, key, value) -> None:
    """``mapping[key] = value``, the oldest entry out first when the mapping is full."""
    if key not in mapping and len(mapping) >= MAX_ENTRIES:
        try:
            del mapping[next(iter(mapping))]
        except (StopIteration, KeyError, RuntimeError):
            pass  # another thread made room first
    mapping[key] = value


def copy_seconds() -> int:
    """How long a copy may be used (0: the cache is off)."""
    return max(0, min(int(integrations_settings.TOKEN_CACHE_SECONDS), MAX_COPY_SECONDS))


def cached(checksum: str) -> Copy | None:
    """The usable copy of a token's lookup, if this process holds one."""
    copy = _store.copies.get(checksum)
    if copy is None:
        return None
    if (copy.until <= time.time() or copy.kept < _store.changed_all
            or copy.kept < _store.changed.get(copy.stamp.installation_id, 0)):
        _store.copies.pop(checksum, None)
        return None
    return copy


def installation_of(checksum: str) -> int | None:
    """The installation a token seen by this process belongs to (a token never changes installation)."""
    return _store.installations.get(checksum)


def note_installation(checksum: str, installation_id: int) -> None:
    _put(_store.installations, checksum, installation_id)


def keep(checksum: str, row: tuple, stamp: Stamp, *, ends_at: float | None) -> None:
    """Keep a copy the script has just confirmed, until the copy's lifetime or ``ends_at`` (epoch seconds: when a
    limit grant it read ends), whichever comes first."""
    seconds = copy_seconds()
    if not seconds:
        return
    until = time.time() + seconds
    if ends_at is not None:
        until = min(until, ends_at)
    _put(_store.copies, checksum, Copy(row, stamp, until, next(_store.events)))


def clear() -> None:
    """Drop every copy of this process (Redis failed: a change may have gone unannounced)."""
    _store.clear()


_stamp_script: tuple | None = None  # (client, the stamp script registered on it)


def read_stamp(installation_id: int, client: redis.Redis | None = None) -> Stamp:
    """The installation's stamp now (one round trip); read before the database, so that a change committed
    after it moves the stamp the copy is checked against. Raises Redis's errors."""
    global _stamp_script
    client = client or api_redis()
    if _stamp_script is None or _stamp_script[0] is not client:
        _stamp_script = (client, client.register_script(STAMP_SCRIPT))
    generation, epoch = _stamp_script[1](keys=[generation_key(installation_id), EPOCH_KEY])
    return Stamp(installation_id, _text(generation), _text(epoch))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- Announcing changes ---------------------------------------------------------------------------------

_pending = threading.local()


def forget_installations(installation_ids) -> None:
    """After the current transaction commits (now, outside one), every process reads these installations'
    tokens from the database again."""
    _announce(installations=installation_ids)


def forget_everything() -> None:
    """After the current transaction commits, every process reads every token from the database again."""
    _announce(everything=True)


def _announce(*, installations=(), everything: bool = False) -> None:
    """This process stops using the copies concerned at once; Redis hears of the change (and so every other
    process) when it is committed: now outside a transaction, else when the transaction commits. (A copy read
    by another process between the two has its stamp moved under it and is read again.)"""
    if not copy_seconds():
        return
    installations = {pk for pk in installations if pk is not None}
    if everything:
        _store.clear()
    else:
        _store.mark_changed(installations)
    if not transaction.get_connection().in_atomic_block:
        _send(installations, everything)
        return
    state = _pending.__dict__
    state.setdefault("installations", set()).update(installations)
    state["everything"] = state.get("everything", False) or everything
    # One callback per change, each sending whatever is pending (the first sends all, the others nothing): a
    # callback dropped with a rolled-back savepoint cannot leave later changes unsent.
    transaction.on_commit(_send_pending)


def _send_pending() -> None:
    state = _pending.__dict__
    _send(state.pop("installations", set()), state.pop("everything", False))


def _send(installations: set, everything: bool) -> None:
    if not installations and not everything:
        return
    try:
        pipe = api_redis().pipeline(transaction=False)
        for pk in sorted(installations):
            pipe.incr(generation_key(pk))
            pipe.expire(generation_key(pk), GENERATION_TTL_SECONDS)
        if everything:
            pipe.incr(EPOCH_KEY)
        pipe.execute()
    except (redis.RedisError, OSError) as error:
        logger.error("Token cache: a change could not be announced in Redis (%s: %s); other processes may use "
                     "their copies for up to %s s", type(error).__name__, error, copy_seconds())


def _installation_changed(sender, instance, created=False, **kwargs) -> None:
    if not created:  # a new installation, like a new token, is in nobody's copies
        forget_installations([instance.pk])


def _token_changed(sender, instance, created=False, **kwargs) -> None:
    if not created:
        forget_installations([instance.installation_id])


def _shared_row_changed(sender, **kwargs) -> None:
    forget_everything()


def connect() -> None:
    """Announce every change the gateway's token lookup depends on (``IntegrationsConfig.ready``)."""
    from accounts.models import Account, DeveloperProfile
    from integrations.models import AccessToken
    from portal.models import App, Installation, PlatformSettings, RateLimitIncreaseRequest

    for name, signal in (("save", post_save), ("delete", post_delete)):
        signal.connect(_token_changed, sender=AccessToken, dispatch_uid=f"token-cache-token-{name}")
        signal.connect(_installation_changed, sender=Installation, dispatch_uid=f"token-cache-installation-{name}")
        for model in (App, Account, DeveloperProfile, PlatformSettings, RateLimitIncreaseRequest):
            signal.connect(_shared_row_changed, sender=model,
                           dispatch_uid=f"token-cache-{model._meta.label_lower}-{name}")
