"""The sync engine: keeps chosen resources of connected accounts mirrored for an app.

- ``crypto``      tokens and client secrets encrypted at rest (Fernet, keys from settings)
- ``client``      the HTTP client of one connection: requests-oauthlib, pacing on the shared Redis
                  limiter, single-flight token refresh, Retry-After, backoff
- ``engine``      one bounded slice of one stream: pages, upserts and the fenced checkpoint
- ``dispatcher``  picks runnable streams round-robin, leases them with an epoch, enqueues slices
- ``webhooks``    change events to the app's webhook: batches, signatures, retries, pause
- ``services``    the writes people make: managed sync, connections, pause/resume, sync now
- ``selectors``   the reads the pages show
"""
