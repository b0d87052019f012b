"""Install and uninstall callbacks: a signed GET to the app's callback URL when an account turns the app
on (again on re-enable) or off.

The query carries ``accountCode``, ``appRef``, ``timestamp`` (unix seconds) and ``signature``, the hex
HMAC-SHA256 of the canonical string ``accountCode=<code>&appRef=<ref>&timestamp=<ts>`` keyed with the
app's callback signing key: the hex SHA-256 of ``"callback-signing:" + client secret``, used as ASCII
text (see ``portal.credentials.callback_signing_key``). Public apps have no secret and get no signature.

Each attempt is logged as a ``CallbackAttempt`` the developer sees; ``integrations.tasks.send_callback``
retries failures with a growing delay. Requests go out through ``integrations.egress`` (public addresses
only, unless the egress allowance is on); a refused URL is logged as "Not sent: …" and not retried.
"""

import hashlib
import hmac
import logging
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from integrations import egress
from portal.models import CallbackAttempt, Installation

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
EXCERPT_CHARS = 500
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "PartnerPortal-Callbacks/1.0"
Kind = CallbackAttempt.Kind


def canonical_string(*, account_code: str, app_ref: str, timestamp: int) -> str:
    return f"accountCode={account_code}&appRef={app_ref}&timestamp={timestamp}"


def callback_signature(*, key: str, account_code: str, app_ref: str, timestamp: int) -> str:
    message = canonical_string(account_code=account_code, app_ref=app_ref, timestamp=timestamp)
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def callback_url_of(*, installation: Installation, kind: str) -> str:
    app = installation.app
    return (app.install_callback_url if kind == Kind.INSTALL else app.uninstall_callback_url).strip()


def signed_callback_url(*, url: str, installation: Installation, timestamp: int) -> str:
    """``url`` with the callback's query added to any query it already has."""
    app, account_code = installation.app, installation.account.code
    params = {"accountCode": account_code, "appRef": app.client_id, "timestamp": str(timestamp)}
    if app.callback_signing_key:
        params["signature"] = callback_signature(key=app.callback_signing_key, account_code=account_code,
                                                 app_ref=app.client_id, timestamp=timestamp)
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


def callback_send(*, installation: Installation, kind: str, attempt: int) -> CallbackAttempt | None:
    """Call the installation's ``kind`` callback once and log the attempt. Returns None (nothing sent,
    nothing logged) when the app has no URL for this kind; never raises for network failures. The
    attempt's ``refused`` is true when the URL may not be called at all."""
    url = callback_url_of(installation=installation, kind=kind)
    if not url:
        return None
    target = signed_callback_url(url=url, installation=installation, timestamp=int(time.time()))
    status_code, error, excerpt, refused = None, "", "", False
    started = time.monotonic()
    try:
        response = egress.send("GET", target, purpose=f"{kind} callback", timeout=TIMEOUT_SECONDS,
                               max_bytes=MAX_RESPONSE_BYTES, max_seconds=2 * TIMEOUT_SECONDS,
                               headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
        status_code = response.status_code
        excerpt = response.content.decode(response.encoding or "utf-8", errors="replace")[:EXCERPT_CHARS]
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code} {response.reason or ''}".strip()
    except egress.Refused as exc:
        error, refused = f"Not sent: {exc}", True
    except requests.Timeout:
        error = f"No response within {TIMEOUT_SECONDS} seconds."
    except egress.ResponseTooLarge:
        error = f"The answer was larger than {MAX_RESPONSE_BYTES // 1024} KB."
    except requests.RequestException as exc:
        error = f"Could not connect: {type(exc).__name__}"
        logger.info("callback %s of installation %s failed: %s", kind, installation.pk, exc)
    duration_ms = int((time.monotonic() - started) * 1000)
    logged = CallbackAttempt.objects.create(
        installation=installation, kind=kind, url=target[:500], attempt=attempt, status_code=status_code,
        error=error[:300], response_excerpt=excerpt, duration_ms=duration_ms,
    )
    logged.refused = refused  # not worth retrying: the same URL would be refused again
    return logged


def callback_succeeded(attempt: CallbackAttempt | None) -> bool:
    return attempt is not None and attempt.status_code is not None and 200 <= attempt.status_code < 300


def callback_is_stale(*, installation: Installation, kind: str) -> bool:
    """The installation has changed state since: an install callback for an app turned off again (or
    the reverse) would tell the app something that is no longer true."""
    return installation.is_enabled != (kind == Kind.INSTALL)

