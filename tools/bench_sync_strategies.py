"""The client strategies that `make bench-sync --strategy` compares. Bench only: the product runs ``paced``.

- ``paced``: the engine as it is (``sync.client.SyncClient``): every call takes a slot of its installation's
  pool from the pacer shared by all workers in Redis (GCRA, a little under the limit), believes the server's
  throttle headers, and a 503/429 pauses the whole pool for Retry-After.
- ``reactive``: what typical clients do. Calls go out as fast as the worker can send them; a 503/429 is
  answered by sleeping Retry-After and sending the same call again. Nothing is shared between workers and the
  throttle headers are ignored. A wait longer than the engine lets a slice hold its worker
  (``SYNC_MAX_SLOT_WAIT_SECONDS``) ends the slice instead: the engine gives the stream back, runnable when the
  wait is over, so the call is retried after Retry-After without holding a worker thread or outliving its lease.
- ``celery-rate-limit``: the reactive client, with Celery's own task ``rate_limit`` on ``sync_slice`` as people
  configure it: the pools' combined limit divided by the number of workers (Celery keeps one token bucket per
  task type in each worker, so the limit is per worker and knows nothing of accounts). A task is one slice of one
  page, i.e. one search and its GET by ID set, so the rate in tasks is the rate in calls divided by the calls of
  a page.

All three send their calls through the same client primitives (token refresh, egress session, headers, lease
and status checks) to the same server: only how a call waits differs.

Django must be set up before this module is imported (it imports the engine).
"""

import time

from bench_sync import STRATEGIES  # tools/ is on the path of the bench's processes

from sync import client as sync_client, engine
from sync.conf import sync_settings

SLICE_TASK = "sync.tasks.sync_slice"


class NoSharedPacing:
    """Stands in for the Redis pacer: nothing is reserved, paused or waited for across workers."""

    def reserve(self, pool: str, **_kwargs):  # pragma: no cover - ReactiveClient never takes a slot
        raise AssertionError("a reactive client takes no pace slot")

    def pause(self, pool: str, *, seconds: float) -> None:
        return None

    def paused_for(self, pool: str) -> float:
        return 0.0


class ReactiveClient(sync_client.SyncClient):
    """Calls as fast as allowed; on 503/429 sleeps Retry-After and sends the call again (see the module
    docstring). ``sleep`` is what waits (``time.sleep``)."""

    sleep = staticmethod(time.sleep)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reserver = NoSharedPacing()
        self.retries = 0

    def _take_slot(self) -> None:
        """No client-side pacing: the call goes out now."""

    def _believe_the_server(self, response) -> None:
        """The throttle headers are not read: only a refusal slows this client down."""

    def get(self, path: str, *, params: dict | None = None):
        while True:
            try:
                return super().get(path, params=params)
            except sync_client.Throttled as throttled:
                if throttled.wait_s > sync_settings.MAX_SLOT_WAIT_SECONDS:
                    raise  # the engine gives the stream back until Retry-After has passed
                self.retries += 1
                self.sleep(throttled.wait_s)


def install(strategy: str, *, rate_limit: str = "") -> None:
    """Make this process's sync worker use ``strategy`` (before the Celery worker starts)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
    if strategy == "paced":
        return
    engine.SyncClient = ReactiveClient  # run_slice builds its client from this name
    if strategy == "celery-rate-limit":
        if not rate_limit:
            raise ValueError("celery-rate-limit needs a rate_limit")
        from config.celery_app import app

        app.loader.import_default_modules()
        app.tasks[SLICE_TASK].rate_limit = rate_limit
