"""The developer JSON API (`/api/developer/`): what a developer does in the portal's pages, for scripts.

Authenticated by a personal developer API key (``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``),
never by the session, so there is no CSRF to pass. Views parse input with serializers, call the same
services and selectors as the HTML pages, and answer with JSON; every object is scoped to the key's
developer, so another developer's app is a 404. The OpenAPI schema is served at ``schema/`` and
browsable at ``docs/`` (drf-spectacular, assets from drf-spectacular-sidecar: no CDN).
"""
