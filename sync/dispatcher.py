"""The dispatcher: runnable streams to workers, round-robin, at most one slice per stream.

Beat runs :func:`dispatch_once` every second, and every slice runs it again as it ends, so a freed
worker is refilled at once. A pass takes the runnable streams (active connection, ``next_run_at`` due,
no live lease) least recently dispatched first, as many as there are free places
(``MAX_IN_FLIGHT`` minus live leases), leases each with a new epoch and enqueues ``sync_slice(id, epoch)``
after commit. Ordering by ``last_dispatched_at`` gives every stream its turn (A, B, C, A, B, C …), so a
huge account's backlog never holds back small ones: it gets one slice per turn like everyone else.

Streams are picked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and passes are serialised by a Redis lock,
so several beat or worker processes never lease a stream twice.
"""

import logging
from datetime import timedelta

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
            .filter(connection__status=Connection.Status.ACTIVE, next_run_at__lte=now)
            # Managed connections run while the app's managed sync is on; external ones always.
            .filter(Q(connection__kind=Connection.Kind.EXTERNAL) | Q(connection__app__sync_spec__is_enabled=True))
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
            .order_by(F("last_dispatched_at").asc(nulls_first=True), "id"))


def in_flight_count(now) -> int:
    return SyncStream.objects.filter(lease_expires_at__gt=now).count()


def _enqueue(leased: list[tuple[int, int]]) -> None:
    queue = sync_settings.QUEUE
    for stream_id, epoch in leased:
        current_app.signature(SLICE_TASK, args=(stream_id, epoch)).apply_async(queue=queue)


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


def _dispatch() -> int:
    now = timezone.now()
    free = sync_settings.MAX_IN_FLIGHT - in_flight_count(now)
    if free <= 0:
        return 0
    lease_until = now + timedelta(seconds=sync_settings.LEASE_SECONDS)
    leased: list[tuple[int, int]] = []
    with transaction.atomic():
        candidates = runnable_streams(now)
        if db_connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        for stream_id, epoch in candidates.values_list("id", "epoch")[:free]:
            # Fenced on the epoch we read: a concurrent writer that bumped it wins, we skip the stream.
            if SyncStream.objects.filter(pk=stream_id, epoch=epoch).update(
                    epoch=epoch + 1, lease_expires_at=lease_until, last_dispatched_at=now):
                leased.append((stream_id, epoch + 1))
        if leased:
            transaction.on_commit(lambda: _enqueue(leased))
    return len(leased)
