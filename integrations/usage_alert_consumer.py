"""Usage alerts from the gateway's limiter into the portal (beat, every 10 s: ``integrations.tasks.usage_alerts``).

When a request brings an installation's pool to 80% of its limit within the limiter's rolling minute, or to the
limit itself, the limiter script sets ``usage:{<installation id>}:alert:<level>:<epoch day>`` with NX (it expires
after 25 hours) and, only when that key was new, appends one entry to the Redis list ``usage:alerts``::

    <installation id>:<level>:<epoch seconds>:<requests in the window>:<limit>

so the list holds about one entry per installation, level and UTC day. The Redis key may be lost (a restart, an
eviction); the database's unique constraint on ``UsageAlert`` still keeps alerts to one a day.

Each run reads at most ``MAX_ENTRIES_PER_RUN`` entries from the head of the list, in batches. An entry is taken
off the list only once it is handled: stored (or found to be a repeat) in a committed transaction, or dropped as
malformed. A worker that dies half-way leaves its entries to the next run, which the unique constraint turns into
repeats, so nobody is told twice; two runs at once are safe for the same reason. An entry that cannot be parsed is
logged and dropped, never retried. If the database is unreachable the run stops and leaves the rest for later.
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

import redis
from django.db import DatabaseError, IntegrityError

from integrations.redis_client import worker_redis
from integrations.usage import ALERTS_KEY
from portal.usage_alerts import record_usage_alert

logger = logging.getLogger(__name__)

BATCH = 100
MAX_ENTRIES_PER_RUN = 1000

# Decimal digits only (no signs, spaces or other scripts' digits), each part bounded so that it fits its column
# and a datetime: ids up to 18 digits, seconds up to 11 (year 5138), counts up to 9 digits.
_ENTRY = re.compile(r"([1-9][0-9]{0,17}):(80|100):([1-9][0-9]{0,10}):(0|[1-9][0-9]{0,8}):([1-9][0-9]{0,8})",
                    re.ASCII)


@dataclass(frozen=True)
class AlertEntry:
    """One entry of the list, parsed."""

    installation_id: int
    level: int
    at: datetime
    calls: int
    limit: int


class MalformedEntry(ValueError):
    """The entry does not follow ``<installation id>:<level>:<epoch seconds>:<calls>:<limit>``."""


def parse_entry(raw: bytes | str) -> AlertEntry:
    """The entry as an :class:`AlertEntry`; raises :class:`MalformedEntry` for anything else (wrong number of
    parts, a level other than 80 or 100, signs, spaces, leading zeros, a zero limit, numbers too big)."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedEntry("not ASCII") from None
    if not isinstance(raw, str):
        raise MalformedEntry(f"not text: {type(raw).__name__}")
    match = _ENTRY.fullmatch(raw)
    if match is None:
        raise MalformedEntry("expected <installation id>:<80|100>:<epoch seconds>:<calls>:<limit>")
    installation_id, level, seconds, calls, limit = (int(part) for part in match.groups())
    return AlertEntry(installation_id=installation_id, level=level, calls=calls, limit=limit,
                      at=datetime.fromtimestamp(seconds, tz=dt_timezone.utc))


def _shown(raw) -> str:
    """An entry as it may appear in a log line: short, and printable."""
    text = raw.decode("ascii", "backslashreplace") if isinstance(raw, bytes) else str(raw)
    return ascii(text[:120] + ("…" if len(text) > 120 else ""))


def _handle(raw) -> str:
    """Store one entry; what happened to it: "recorded", "ignored" (a repeat of an alert recorded earlier that UTC
    day, or an installation that does not exist), "malformed" or "failed".
    Raises DatabaseError (other than IntegrityError) when the database cannot be reached, so the caller keeps
    the entry."""
    try:
        entry = parse_entry(raw)
    except MalformedEntry as error:
        logger.warning("usage alerts: dropped a malformed entry %s (%s)", _shown(raw), error)
        return "malformed"
    try:
        alert = record_usage_alert(installation_id=entry.installation_id, level=entry.level, at=entry.at,
                                   calls=entry.calls, limit=entry.limit)
    except IntegrityError:
        # The installation went away between the read and the commit: nothing to tell anyone.
        logger.info("usage alerts: installation %s is gone; dropped %s", entry.installation_id, _shown(raw))
        return "ignored"
    except DatabaseError:
        raise
    except Exception:
        # A bug, not a bad entry or an outage: retrying it every 10 s would not help. Logged with its traceback.
        logger.exception("usage alerts: could not record %s; dropped", _shown(raw))
        return "failed"
    return "recorded" if alert is not None else "ignored"


def consume_usage_alerts(*, client: redis.Redis | None = None, max_entries: int = MAX_ENTRIES_PER_RUN,
                         batch: int = BATCH) -> dict:
    """Read up to ``max_entries`` entries from the head of the alerts list and record them; returns how many
    entries ended each way (``recorded``, ``ignored``, ``malformed``, ``failed``: see :func:`_handle`) and
    whether the run stopped on a database error (``stopped``)."""
    client = client or worker_redis()
    figures = dict.fromkeys(("recorded", "ignored", "malformed", "failed"), 0)
    figures["stopped"] = False
    read = 0
    while read < max_entries:
        entries = client.lrange(ALERTS_KEY, 0, min(batch, max_entries - read) - 1)
        if not entries:
            break
        handled = []
        try:
            for raw in entries:
                figures[_handle(raw)] += 1
                handled.append(raw)
        except DatabaseError:
            logger.warning("usage alerts: the database failed; %s entries left for the next run",
                           len(entries) - len(handled), exc_info=True)
            figures["stopped"] = True
        finally:
            if handled:
                pipe = client.pipeline(transaction=False)
                for raw in handled:
                    pipe.lrem(ALERTS_KEY, 1, raw)
                pipe.execute()
        read += len(entries)
        if figures["stopped"] or len(entries) < batch:
            break
    return figures
