"""One slice of one stream: at most ``SLICE_MAX_PAGES`` pages or ``SLICE_MAX_SECONDS`` of a resource.

A page is read as real Brightpearl connectors read: one search page (``<resource>-search`` sorted by
``updatedOn`` then id, the real column names) gives the ids, then the full records are read by ID sets of at
most ``IDSET_MAX`` ids (``GET /<service>/<resource>/1-5,7``; the reference allows 200). The mirror stores
what GET returns, keyed by the record's id; a record missing from the GET answer (deleted since the search)
is skipped. Both kinds of call go through the client, hence through the pool's pacer.

The dispatcher leased the stream and gave the slice an epoch. Every ID-set chunk's records are upserted and
the cursor advanced in one transaction whose first statement is ``UPDATE stream ... WHERE epoch = <ours>``:
if the stream was re-dispatched meanwhile (our lease expired, a new epoch exists), nothing is written
and the slice stops (fencing). A worker killed mid-slice therefore loses at most the page it was
fetching, writes nothing twice, and the stream resumes from its last checkpoint once the lease expires.

Paging follows ``updatedOn`` ascending (then id) with the cursor ``{"since": <updatedOn>, "offset": <rows
at exactly that updatedOn already read>}``: records changed while a run pages move behind the cursor
and are read again later, never skipped. Incremental runs start ``OVERLAP_SECONDS`` before the last run's
newest ``updatedOn``; the payload hash turns the repeated records into no-ops. Each search page is
checkpointed too: until its records are read, the cursor also holds ``"pending": {"ids": [...], "next":
<cursor after the page>, "more": bool}`` (ids still to GET), so that a slice stopped before or between the
GETs (no slot within the wait, a 503, a killed worker) is followed by those GETs, not by the same search.
"""

import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.redis_client import worker_redis
from integrations.resources import RESOURCES
from sync import client as sync_client, services
from sync.client import SyncClient
from sync.conf import sync_settings
from sync.models import ChangeEvent, Connection, SyncRecord, SyncRun, SyncStream

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 900


def sync_redis() -> redis.Redis:
    """The workers' Redis client (pacer, locks): patient timeouts, unlike the gateway's."""
    return worker_redis()


@dataclass
class SliceResult:
    outcome: str  # stale | inactive | fenced | more | done | waiting | throttled | retry | failed | reauth
    pages: int = 0
    records: int = 0


# --- Records ---------------------------------------------------------------------------------------

def payload_hash(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def record_id(resource, record: dict) -> str | None:
    """The id of a GET record: ``id`` (products, orders) or the search's id column (``contactId``)."""
    value = record.get(resource.id_column.name, record.get("id"))
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def record_updated_at(record: dict):
    """When the record last changed: its ``updatedOn`` (absent on a never-updated order), else ``createdOn``."""
    for key in ("updatedOn", "createdOn"):
        value = record.get(key)
        if isinstance(value, str):
            moment = parse_datetime(value)
            if moment is not None:
                return moment
    return None


def upsert_records(*, connection: Connection, resource, records: list[dict], emit_events: bool) -> tuple[int, int]:
    """Insert new records and rewrite changed ones (by payload hash); unchanged ones are left alone.
    ``records`` are full GET records. Returns (created, updated). Must run inside the checkpoint's transaction."""
    incoming = {}
    for record in records:
        remote_id = record_id(resource, record)
        if remote_id is not None:
            incoming[remote_id] = record  # an answer repeating a record keeps its last copy
    existing = dict(SyncRecord.objects.filter(connection=connection, resource=resource.name,
                                              remote_id__in=list(incoming)).values_list("remote_id", "payload_hash"))
    now = timezone.now()
    new, changed, events = [], [], []
    for remote_id, record in incoming.items():
        digest = payload_hash(record)
        if existing.get(remote_id) == digest:
            continue
        row = SyncRecord(connection=connection, resource=resource.name, remote_id=remote_id, payload=record,
                         payload_hash=digest, remote_updated_at=record_updated_at(record),
                         created_at=now, updated_at=now)
        (changed if remote_id in existing else new).append(row)
        if emit_events:
            kind = ChangeEvent.Kind.UPDATED if remote_id in existing else ChangeEvent.Kind.CREATED
            events.append(ChangeEvent(connection=connection, resource=resource.name, remote_id=remote_id,
                                      kind=kind, payload=record, created_at=now))
    if new:
        SyncRecord.objects.bulk_create(new)
    if changed:
        SyncRecord.objects.bulk_create(
            changed, update_conflicts=True, unique_fields=["connection", "resource", "remote_id"],
            update_fields=["payload", "payload_hash", "remote_updated_at", "updated_at"],
        )
    if events:
        ChangeEvent.objects.bulk_create(events)
    return len(new), len(changed)


def position(cursor: dict) -> dict:
    """Where the search stands, without the page whose records are still being read."""
    return {"since": cursor.get("since"), "offset": int(cursor.get("offset") or 0)}


def next_cursor(cursor: dict, rows: list[dict]) -> dict:
    """The cursor after a page of rows ordered by updatedOn: the newest updatedOn read, and how many
    rows at exactly that moment have been read (they come first when paging from it again)."""
    since, offset = cursor.get("since"), int(cursor.get("offset") or 0)
    if not rows:
        return {"since": since, "offset": offset}
    last = rows[-1].get("updatedOn")
    if last == since:
        return {"since": since, "offset": offset + len(rows)}
    same = 0
    for row in reversed(rows):
        if row.get("updatedOn") != last:
            break
        same += 1
    return {"since": last, "offset": same}


def pending_page(resource, cursor: dict, page) -> dict:
    """What is left to do of a search page: the ids of its rows (in order, once each), the cursor after
    it, and whether more pages follow."""
    ids = []
    for row in page.rows:
        try:
            ids.append(int(row[resource.id_column.name]))
        except (KeyError, TypeError, ValueError) as error:
            raise sync_client.RemoteRejected(f"a {resource.name} search row has no {resource.id_column.name}") \
                from error
    return {"ids": list(dict.fromkeys(ids)), "next": next_cursor(position(cursor), page.rows), "more": page.more}


# --- Stream bookkeeping (every write fenced by the epoch) -------------------------------------------

def _fenced(stream: SyncStream, epoch: int):
    return SyncStream.objects.filter(pk=stream.pk, epoch=epoch)


def _interval(connection: Connection) -> int:
    spec = getattr(connection.app, "sync_spec", None)
    return spec.interval_seconds if spec is not None else DEFAULT_INTERVAL_SECONDS


def _start_run(stream: SyncStream, epoch: int) -> SyncRun | None:
    """The stream's run in progress, or a new one (full the first time or when asked, else
    incremental from the watermark less the overlap). None when fenced."""
    if stream.current_run_id:
        run = SyncRun.objects.filter(pk=stream.current_run_id, status=SyncRun.Status.RUNNING).first()
        if run is not None:
            return run
    full = stream.next_run_is_full
    cursor = stream.cursor or {}
    if not cursor:
        since = None
        if not full:
            since = (stream.watermark - timedelta(seconds=sync_settings.OVERLAP_SECONDS))
            since = since.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        cursor = {"since": since, "offset": 0}
    with transaction.atomic():
        if not _fenced(stream, epoch).update(cursor=cursor):
            return None
        run = SyncRun.objects.create(
            stream=stream, connection_id=stream.connection_id, resource=stream.resource,
            kind=SyncRun.Kind.FULL if full else SyncRun.Kind.INCREMENTAL, trigger="schedule",
        )
        _fenced(stream, epoch).update(current_run=run)
    stream.cursor, stream.current_run = cursor, run
    return run


def _flush_counters(run: SyncRun, client: SyncClient, *, errors: int = 0, error: str = "") -> None:
    changes = {"calls": F("calls") + client.calls, "throttled": F("throttled") + client.throttled,
               "errors": F("errors") + errors}
    if error:
        changes["last_error"] = error[:500]
    SyncRun.objects.filter(pk=run.pk).update(**changes)
    client.calls = client.throttled = 0


def _checkpoint(stream: SyncStream, epoch: int, run: SyncRun, client: SyncClient, resource, records, cursor,
                *, emit_events: bool, page_done: bool = True) -> tuple[int, int] | None:
    """Upsert one chunk of records and advance the cursor, atomically; None if the stream was re-dispatched.
    ``page_done``: the chunk was the page's last (the cursor is past the page, the run counts a page)."""
    lease = timezone.now() + timedelta(seconds=sync_settings.LEASE_SECONDS)
    with transaction.atomic():
        if not _fenced(stream, epoch).update(cursor=cursor, lease_expires_at=lease, failures=0, last_error=""):
            return None
        created, updated = upsert_records(connection=stream.connection, resource=resource, records=records,
                                          emit_events=emit_events)
        SyncRun.objects.filter(pk=run.pk).update(
            pages=F("pages") + (1 if page_done else 0), records_seen=F("records_seen") + len(records),
            records_created=F("records_created") + created, records_updated=F("records_updated") + updated,
            calls=F("calls") + client.calls, throttled=F("throttled") + client.throttled,
        )
    client.calls = client.throttled = 0
    stream.cursor = cursor
    return created, updated


def _hold(stream: SyncStream, epoch: int, run: SyncRun, client: SyncClient, pending: dict) -> bool:
    """Checkpoint a search page whose records are still to be read: the cursor holds its ids, so that a
    slice that stops before the GETs (no slot, a 503, a killed worker) is followed by those GETs, not by the
    same search again. Renews the lease. False if the stream was re-dispatched."""
    cursor = {**position(stream.cursor), "pending": pending}
    lease = timezone.now() + timedelta(seconds=sync_settings.LEASE_SECONDS)
    with transaction.atomic():
        if not _fenced(stream, epoch).update(cursor=cursor, lease_expires_at=lease, failures=0, last_error=""):
            return False
        _flush_counters(run, client)
    stream.cursor = cursor
    return True


def _finish(stream: SyncStream, epoch: int, run: SyncRun, cursor: dict) -> bool:
    """The run read everything: record the watermark and schedule the next run after the interval."""
    now = timezone.now()
    watermark = parse_datetime(cursor["since"]) if cursor.get("since") else stream.watermark
    with transaction.atomic():
        if not _fenced(stream, epoch).update(
            cursor={}, watermark=watermark, current_run=None, full_resync_requested=False, lease_expires_at=None,
            next_run_at=now + timedelta(seconds=_interval(stream.connection)), failures=0, last_error="",
        ):
            return False
        SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.SUCCEEDED, finished_at=now)
    return True


def _release(stream: SyncStream, epoch: int, *, delay_s: float = 0.0, **changes) -> None:
    """Give the stream back to the dispatcher, runnable after ``delay_s``."""
    _fenced(stream, epoch).update(lease_expires_at=None,
                                  next_run_at=timezone.now() + timedelta(seconds=max(0.0, delay_s)), **changes)


def backoff_delay(failures: int) -> float:
    """Capped exponential backoff with full jitter (0 .. min(cap, base·2^failures))."""
    return random.uniform(0, min(sync_settings.BACKOFF_CAP_SECONDS, sync_settings.BACKOFF_BASE_SECONDS * 2 ** failures))


def _fail_or_retry(stream: SyncStream, epoch: int, run: SyncRun, client: SyncClient, problem: Exception) -> str:
    """A timeout, 5xx or refused request: back off and retry, or after MAX_FAILURES attempts end the run
    as failed. The cursor is kept either way, so the next attempt resumes where this one stopped."""
    failures = stream.failures + 1
    message = str(problem)[:500]
    with transaction.atomic():
        _flush_counters(run, client, errors=1, error=message)
        if failures >= sync_settings.MAX_FAILURES:
            SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.FAILED, finished_at=timezone.now())
            _release(stream, epoch, delay_s=_interval(stream.connection), failures=0, last_error=message,
                     current_run=None)
            return "failed"
        _release(stream, epoch, delay_s=backoff_delay(failures), failures=failures, last_error=message)
    return "retry"


# --- The slice ---------------------------------------------------------------------------------------

def run_slice(*, stream_id: int, epoch: int, redis_client: redis.Redis | None = None) -> SliceResult:
    """Run one bounded slice of a stream under the lease of ``epoch`` (see the module docstring)."""
    # Everything a slice reads of its connection, app (dev_ref, managed-sync spec) and installation, at once.
    stream = (SyncStream.objects.select_related("connection__app__user__developer_profile",
                                                "connection__app__sync_spec", "connection__installation")
              .filter(pk=stream_id).first())
    if stream is None or stream.epoch != epoch:
        return SliceResult("stale")
    connection = stream.connection
    if connection.status != Connection.Status.ACTIVE:
        _release(stream, epoch)
        return SliceResult("inactive")
    resource = RESOURCES.get(stream.resource)
    if resource is None:
        _release(stream, epoch, delay_s=_interval(connection), last_error=f"unknown resource {stream.resource}")
        return SliceResult("failed")
    run = _start_run(stream, epoch)
    if run is None:
        return SliceResult("fenced")
    spec = getattr(connection.app, "sync_spec", None)
    emit_events = bool(spec is not None and spec.webhook_url)
    client = SyncClient(connection, redis_client=redis_client or sync_redis(),
                        still_leased=lambda: SyncStream.objects.filter(pk=stream.pk, epoch=epoch).exists())
    try:
        return _pages(stream, epoch, run, client, resource, emit_events=emit_events)
    finally:
        client.close()


def _pages(stream: SyncStream, epoch: int, run: SyncRun, client: SyncClient, resource, *,
           emit_events: bool) -> SliceResult:
    """Read, upsert and checkpoint pages until the slice's bounds, the end of the run, or a problem."""
    deadline = time.monotonic() + sync_settings.SLICE_MAX_SECONDS
    chunk_size = sync_client.idset_max()
    result = SliceResult("more")
    while result.pages < sync_settings.SLICE_MAX_PAGES and time.monotonic() < deadline:
        pending = stream.cursor.get("pending")
        try:
            if not pending:
                cursor = position(stream.cursor)
                page = client.search(resource, since=cursor["since"], offset=cursor["offset"],
                                     page_size=sync_settings.PAGE_SIZE)
                pending = pending_page(resource, cursor, page)
                if pending["ids"] and not _hold(stream, epoch, run, client, pending):
                    result.outcome = "fenced"
                    return result
            while True:
                chunk, rest = pending["ids"][:chunk_size], pending["ids"][chunk_size:]
                records = client.records(resource, chunk)
                wanted = {str(remote_id) for remote_id in chunk}
                records = [record for record in records if record_id(resource, record) in wanted]
                page_done = not rest
                pending = {**pending, "ids": rest}
                cursor = pending["next"] if page_done else {**position(stream.cursor), "pending": pending}
                if _checkpoint(stream, epoch, run, client, resource, records, cursor, emit_events=emit_events,
                               page_done=page_done) is None:
                    result.outcome = "fenced"
                    return result
                result.records += len(records)
                if page_done:
                    break
        except sync_client.SyncProblem as problem:
            result.outcome = _stopped(stream, epoch, run, client, problem)
            return result
        result.pages += 1
        if not pending["more"]:
            result.outcome = "done" if _finish(stream, epoch, run, pending["next"]) else "fenced"
            return result
    _release(stream, epoch)
    return result


def _stopped(stream: SyncStream, epoch: int, run: SyncRun, client: SyncClient, problem: Exception) -> str:
    """A call could not be made or was refused: give the stream back as the problem asks; the outcome."""
    if isinstance(problem, sync_client.LeaseLost):  # the stream is another slice's now: leave it alone
        _flush_counters(run, client)
        return "fenced"
    if isinstance(problem, sync_client.PoolBusy):
        # Runnable again a little before the slot, so that the next slice (dispatched within a tick)
        # waits for it in its worker instead of missing it: a missed slot of a paced pool is lost.
        _flush_counters(run, client)
        lead = max(0.0, float(sync_settings.MAX_SLOT_WAIT_SECONDS) - 0.25)
        _release(stream, epoch, delay_s=problem.wait_s - lead)
        return "waiting"
    if isinstance(problem, sync_client.Throttled):
        _flush_counters(run, client)
        _release(stream, epoch, delay_s=problem.wait_s)
        return "throttled"
    if isinstance(problem, (sync_client.NotActive, sync_client.ReauthNeeded)):
        _flush_counters(run, client)
        if isinstance(problem, sync_client.ReauthNeeded):
            # Only the account can help: stop syncing, tell its owners and the developer.
            services.connection_needs_reauth(connection=stream.connection, reason=str(problem))
        _release(stream, epoch, last_error=str(problem)[:500])
        return "reauth" if isinstance(problem, sync_client.ReauthNeeded) else "inactive"
    logger.info("sync stream %s: %s", stream.pk, problem)  # Transient, RemoteRejected
    return _fail_or_retry(stream, epoch, run, client, problem)
