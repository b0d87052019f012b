"""Settings of the sync engine: ``settings.SYNC_ENGINE``, with every default here (see ``accounts/conf.py``)."""

from django.conf import settings

from accounts.conf import AppSettings, Computed


class SyncSettings(AppSettings):
    NAMESPACE = "SYNC_ENGINE"
    DEFAULTS = {
        # Fernet keys (newest first) that encrypt connection tokens at rest; when empty, one is derived from
        # SECRET_KEY (set real keys to rotate SECRET_KEY without losing connections).
        "TOKEN_KEYS": (),
        # Where workers reach the built-in platform (OAuth token endpoint and account API).
        "PLATFORM_URL": Computed(lambda: settings.SITE_URL),
        # Let OAuth token requests go over plain http (oauthlib refuses by default): demo, internal networks.
        "ALLOW_HTTP": Computed(lambda: settings.DEBUG),
        # Client-side pace as a share of the pool's limit: a little under it, so paced calls never trip it...
        "PACE_FACTOR": 0.99,
        # ... and at least this much longer than the pool's window per `limit` calls (network and scheduling
        # jitter: a call that arrives late must not squeeze the next one into the server's window).
        "PACE_JITTER_SECONDS": 0.25,
        # A slice is at most this many pages or seconds of one stream; then the worker is handed back.
        "SLICE_MAX_PAGES": 20,
        "SLICE_MAX_SECONDS": 20,
        # A slice waits in its worker for a slot at most this long; a longer wait gives the worker back, and
        # the stream comes back to the dispatcher this long (less a quarter second) before its slot.
        "MAX_SLOT_WAIT_SECONDS": 4.0,
        # A dispatched slice owns its stream this long, renewed at every page (a dead worker's lease expires).
        "LEASE_SECONDS": 60,
        # Most slices queued or running at once, over all workers (keeps the broker queue short).
        "MAX_IN_FLIGHT": 16,
        # Rows per search page; the page's records are then read by ID sets of at most IDSET_MAX ids (the
        # reference's 200 at most), so a page of PAGE_SIZE rows costs 1 + ceil(PAGE_SIZE / IDSET_MAX) calls.
        "PAGE_SIZE": 200,
        "IDSET_MAX": 200,
        # Refresh an access token this long before it expires.
        "REFRESH_MARGIN_SECONDS": 60,
        # Incremental runs start this far before the last run's newest updatedOn (the upsert drops repeats).
        "OVERLAP_SECONDS": 60,
        # Timeouts and 5xx: capped exponential backoff with full jitter, then the run fails (cursor kept).
        "MAX_FAILURES": 8,
        "BACKOFF_BASE_SECONDS": 2.0,
        "BACKOFF_CAP_SECONDS": 600.0,
        "HTTP_TIMEOUT_SECONDS": 15,
        # Webhooks: events per delivery, attempts in a row before the app's webhook is paused, timeout.
        "WEBHOOK_BATCH": 100,
        "WEBHOOK_PAUSE_AFTER_FAILURES": 10,
        # The Celery queue of sync slices (config/settings.py routes sync_slice there).
        "QUEUE": "sync",
    }
    COERCE = {
        "TOKEN_KEYS": lambda value: tuple(value or ()),
        "PLATFORM_URL": lambda value: value.rstrip("/"),
        "ALLOW_HTTP": bool,
        "PACE_FACTOR": float,
        "PACE_JITTER_SECONDS": float,
        "SLICE_MAX_PAGES": int,
        "SLICE_MAX_SECONDS": float,
        "MAX_SLOT_WAIT_SECONDS": float,
        "LEASE_SECONDS": float,
        "MAX_IN_FLIGHT": int,
        "PAGE_SIZE": int,
        "IDSET_MAX": int,
        "REFRESH_MARGIN_SECONDS": float,
        "OVERLAP_SECONDS": float,
        "MAX_FAILURES": int,
        "BACKOFF_BASE_SECONDS": float,
        "BACKOFF_CAP_SECONDS": float,
        "HTTP_TIMEOUT_SECONDS": float,
        "WEBHOOK_BATCH": int,
        "WEBHOOK_PAUSE_AFTER_FAILURES": int,
    }


sync_settings = SyncSettings()
