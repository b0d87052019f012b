"""The dispatcher: runnable streams to workers, round-robin, at most one slice per stream.

Beat runs :func:`dispatch_once` every second, and every slice runs it again as it ends, so a freed
worker is refilled at once. A pass takes the runnable streams (active connection, ``next_run_at`` due,
no live lease) least recently dispatched first, as many as there are free places
(``MAX_IN_FLIGHT`` minus live leases), leases each with a new epoch and enqueues ``sync_slice(id, epoch)``
after commit. Ordering by ``last_dispatched_at`` gives every stream its turn (A, B, C, A, B, C …), so a
huge account's backlog never holds back small ones: it gets one slice per turn like everyone else.

Streams are picked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and passes are serialised by a Redis lock,
so several beat or worker processes never lease a stream twice.

At scale (docs/scaling.md, ``make bench-scale``) a pass reads a few index entries, not every runnable
stream: the never-dispatched streams, then the others, are each read in the order of the index
``(last_dispatched_at, id)`` and only as many as there are free places; the in-flight count reads the
partial index of live leases; and the picked streams are leased by one ``UPDATE``. The streams of inactive
connections are parked (``SyncStream.parked``, kept in step by ``sync.services``) and are not in the order
index at all, so a pass never steps over them.
"""

import logging
import operator
from datetime import timedelta
from functools import reduce

from celery import current_app
from django.db import connection as db_connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from sync.conf import sync_settings
from sync.models import Connection, SyncStream

logger = logging.getLogger(__name__)

SLICE_TASK = "sync.tasks.sync_slice"
DISPATCH_LOCK = "sync:dispatcher"
DISPATCH_AGAIN = "sync:dispatcher:again"
MAX_PASSES = 5


def runnable_streams(now):
    return (SyncStream.objects
            # Parked streams (their connection is not active) are not in the order index: ``parked=False`` lets
            # the database walk it; the status stays the rule.
            .filter(parked=False, connection__status=Connection.Status.ACTIVE, next_run_at__lte=now)
            # Managed connections run while the app's managed sync is on; external ones always.
            .filter(Q(connection__kind=Connection.Kind.EXTERNAL) | Q(connection__app__sync_spec__is_enabled=True))
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
            .order_by(F("last_dispatched_at").asc(nulls_first=True), "id"))


def in_flight_count(now) -> int:
    return SyncStream.objects.filter(lease_expires_at__gt=now).count()


def _enqueue(leased: list[tuple[int, int]]) -> None:
    queue = sync_settings.QUEUE
    # One producer (one broker connection) for the whole pass: acquiring one per message cost more than the
    # message itself (make bench-scale).
    with current_app.producer_or_acquire() as producer:
        for stream_id, epoch in leased:
            current_app.signature(SLICE_TASK, args=(stream_id, epoch)).apply_async(queue=queue, producer=producer)


def dispatch_once(*, redis_client=None, wait_s: float = 1.0) -> int:
    """Lease and enqueue as many runnable streams as there are free places; returns how many.

    Passes are serialised by a Redis lock. A caller that cannot take it within ``wait_s`` (0: do not wait,
    as slices ending do) leaves a note instead, and the pass holding the lock goes round once more, so
    that no freed place waits for the next beat tick and nobody queues on the lock."""
    from sync.engine import sync_redis

    client = redis_client or sync_redis()
    lock = client.lock(DISPATCH_LOCK, timeout=30, blocking_timeout=wait_s if wait_s > 0 else None)
    if not lock.acquire(blocking=wait_s > 0):
        client.set(DISPATCH_AGAIN, 1, ex=10)
        return 0
    try:
        leased = 0
        for _ in range(MAX_PASSES):
            client.delete(DISPATCH_AGAIN)
            leased += _dispatch()
            if not client.exists(DISPATCH_AGAIN):
                break
        return leased
    finally:
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - an expired lock is harmless here
            logger.warning("dispatcher lock expired before release")


def pick_queries(now) -> list:
    """The queries of :func:`pick_streams`: the runnable streams never dispatched, then the others."""
    return [runnable_streams(now).filter(last_dispatched_at__isnull=never).order_by("last_dispatched_at", "id")
            for never in (True, False)]


def pick_streams(now, free: int) -> list[tuple[int, int]]:
    """(id, epoch) of up to ``free`` runnable streams in :func:`runnable_streams`' order, locked (``SKIP
    LOCKED``) where the database can. Two queries, never-dispatched streams first, each reading the index
    ``(last_dispatched_at, id)`` in order and stopping at ``free`` rows: one ``ORDER BY ... NULLS FIRST``
    made the database sort every runnable stream (PostgreSQL keeps NULLs last in an index, SQLite cannot
    index NULLS FIRST). Must run in a transaction."""
    picked: list[tuple[int, int]] = []
    for part in pick_queries(now):
        if len(picked) >= free:
            break
        if db_connection.features.has_select_for_update_skip_locked:
            part = part.select_for_update(skip_locked=True, of=("self",))
        picked += part.values_list("id", "epoch")[:free - len(picked)]
    return picked


def _dispatch() -> int:
    now = timezone.now()
    free = sync_settings.MAX_IN_FLIGHT - in_flight_count(now)
    if free <= 0:
        return 0
    lease_until = now + timedelta(seconds=sync_settings.LEASE_SECONDS)
    with transaction.atomic():
        picked = pick_streams(now, free)
        if not picked:
            return 0
        # One UPDATE for all, fenced on the epochs we read: a concurrent writer that bumped one wins (on
        # PostgreSQL the rows are locked since the pick, so none can), and that stream is not leased.
        fence = reduce(operator.or_, (Q(pk=stream_id, epoch=epoch) for stream_id, epoch in picked))
        ids = [stream_id for stream_id, _ in picked]
        updated = SyncStream.objects.filter(pk__in=ids).filter(fence).update(
            epoch=F("epoch") + 1, lease_expires_at=lease_until, last_dispatched_at=now)
        if updated == len(picked):
            leased = [(stream_id, epoch + 1) for stream_id, epoch in picked]
        else:
            ours = dict(SyncStream.objects.filter(pk__in=ids, last_dispatched_at=now, lease_expires_at=lease_until)
                        .values_list("id", "epoch"))
            leased = [(stream_id, ours[stream_id]) for stream_id in ids if stream_id in ours]
        if leased:
            transaction.on_commit(lambda: _enqueue(leased))
    return len(leased)
