"""Celery tasks of the sync engine.

Slices run on the "sync" queue (CELERY_TASK_ROUTES); each is bounded (SLICE_MAX_PAGES / _SECONDS) and ends by
dispatching again so that its worker place is refilled at once. No countdowns: a stream that must wait records
next_run_at and the dispatcher (beat, every second) picks it up when due. Webhooks go out with the other signed
deliveries (integrations.tasks.deliver_due).

The dispatcher's beat tick logs at INFO only when it did something; Celery's own "received"/"succeeded" lines
for beat tasks are lowered to DEBUG by config.logs.QuietTicks.
"""

import logging
from contextvars import ContextVar

from celery import shared_task

from sync import dispatcher, engine, metrics

logger = logging.getLogger(__name__)

# Set while a slice's closing dispatch runs: a slice started from it (tasks run in place when they are eager)
# does not dispatch again itself, so dispatches never nest.
_refilling: ContextVar[bool] = ContextVar("sync_refilling", default=False)


@shared_task(acks_late=True, ignore_result=True)
def sync_slice(stream_id: int, epoch: int) -> str:
    """One slice of one stream under the lease of ``epoch`` (a stale epoch does nothing); then a dispatch, so
    that the worker's place is refilled at once."""
    try:
        result = engine.run_slice(stream_id=stream_id, epoch=epoch)
    except Exception:
        # The lease expires by itself and the stream is dispatched again from its checkpoint.
        logger.exception("sync slice of stream %s (epoch %s) failed", stream_id, epoch)
        metrics.slice_count("error")
        return "error"
    metrics.slice_count(result.outcome)
    if not _refilling.get():
        token = _refilling.set(True)
        try:
            dispatcher.dispatch_once(wait_s=0)
        finally:
            _refilling.reset(token)
    return result.outcome


@shared_task(ignore_result=True, expires=5)
def sync_dispatch() -> int:
    """Beat, every second: lease runnable streams and enqueue their slices."""
    leased = dispatcher.dispatch_once()
    logger.log(logging.INFO if leased else logging.DEBUG, "sync dispatch: %s slices enqueued", leased)
    return leased

