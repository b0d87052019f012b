"""The developer JSON API (`/api/developer/`): what a developer does in the portal's pages, for scripts.

Authenticated by a personal developer API key (``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``),
never by the session, so there is no CSRF to pass. Views parse input with serializers, call the same
services and selectors as the HTML pages, and answer with JSON; every object is scoped to the key's
developer, so another developer's app is a 404. The OpenAPI schema is served at ``schema/`` and
browsable at ``docs/`` (drf-spectacular, assets from drf-spectacular-sidecar: no CDN).

Why it lives here, in integrations, and not in the portal whose services it calls: it is one of the portal's
machine-facing surfaces, beside the OAuth server and the platform API, and it tells developers where those are
(``api_domain``, the authorize and token URLs of an account), which only this layer knows. It needs nothing of the
sync engine, so it stays below it.
"""
