"""Install and uninstall callbacks: a signed GET to the app's callback URL when an account turns the app
on (again on re-enable) or off.

The query carries ``accountCode``, ``appRef``, ``timestamp`` (unix seconds) and ``signature``, the hex
HMAC-SHA256 of the canonical string ``accountCode=<code>&appRef=<ref>&timestamp=<ts>`` keyed with the
app's callback signing key: the hex SHA-256 of ``"callback-signing:" + client secret``, used as ASCII
text (see ``portal.credentials.callback_signing_key``). Public apps have no secret and get no signature.

A callback is a delivery (integrations/deliveries.py): one ``CallbackDelivery`` per turn on or off, made
in the portal's transaction and tried at once after it commits, retried with backoff by the delivery
dispatcher, every attempt logged as a ``CallbackAttempt`` the developer sees on the app's page. A retry for
an installation that has changed state since is cancelled: it would tell the app something no longer true.
"""

import time
from typing import ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from celery import current_app
from django.core.exceptions import PermissionDenied
from django.db import transaction

from integrations import deliveries
from integrations.models import CallbackAttempt, CallbackDelivery
from portal import owner_notices
from portal.models import Installation

Kind = CallbackDelivery.Kind

def canonical_string(*, account_code: str, app_ref: str, timestamp: int) -> str:
    return f"accountCode={account_code}&appRef={app_ref}&timestamp={timestamp}"


def callback_signature(*, key: str, account_code: str, app_ref: str, timestamp: int) -> str:
    return deliveries.sign(key=key, message=canonical_string(account_code=account_code, app_ref=app_ref,
                                                             timestamp=timestamp))


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


def callback_is_stale(*, installation: Installation, kind: str) -> bool:
    """The installation has changed state since: an install callback for an app turned off again (or
    the reverse) would tell the app something that is no longer true."""
    return installation.is_enabled != (kind == Kind.INSTALL)


class Callbacks(deliveries.Kind):
    name = "callback"
    model = CallbackDelivery
    user_agent = "PartnerPortal-Callbacks/1.0"
    defaults: ClassVar[dict] = {"TIMEOUT_SECONDS": 5, "RESPONSE_KEEP_CHARS": 500}

    def due(self, *, now, limit: int):
        yield from (CallbackDelivery.objects.select_related("installation__app", "installation__account")
                    .filter(status=CallbackDelivery.Status.PENDING, next_attempt_at__lte=now)
                    .order_by("next_attempt_at", "id")[:limit])

    def request(self, delivery: CallbackDelivery):
        installation = delivery.installation
        installation.refresh_from_db(fields=["is_enabled"])
        if delivery.attempts and callback_is_stale(installation=installation, kind=delivery.kind):
            return "The installation was turned on or off again since."
        url = callback_url_of(installation=installation, kind=delivery.kind)
        if not url:
            return f"The app no longer has an {delivery.get_kind_display().lower()} callback URL."
        delivery.url = url[:500]  # the app's current URL, if it changed since
        return deliveries.Request("GET", signed_callback_url(url=url, installation=installation,
                                                             timestamp=int(time.time())))

    def attempted(self, delivery: CallbackDelivery, attempt) -> None:
        # An install callback that gave up: the app may not know it was turned on, so the owners are told.
        if delivery.status == CallbackDelivery.Status.FAILED and delivery.kind == CallbackDelivery.Kind.INSTALL:
            owner_notices.tell_owners_install_callback_failing(installation=delivery.installation,
                                                               attempts=delivery.attempts)


CALLBACKS = Callbacks()
DELIVER_TASK = "integrations.tasks.deliver"


def callback_schedule(*, installation: Installation, kind: str) -> CallbackDelivery | None:
    """Owe the app its ``kind`` callback for this turn of the installation: a delivery, tried as soon as the
    caller's transaction commits. None (nothing owed) when the app has no URL for this kind."""
    url = callback_url_of(installation=installation, kind=kind)
    if not url:
        return None
    delivery = CallbackDelivery.objects.create(installation=installation, kind=kind, url=url[:500])
    # Named, not imported: the tasks module imports this one.
    transaction.on_commit(lambda: current_app.signature(DELIVER_TASK, args=(CALLBACKS.name, delivery.pk)).delay())
    return delivery


def callback_redeliver(*, delivery: CallbackDelivery, actor) -> CallbackDelivery:
    """The app's developer sends a callback again (same kind, newly signed)."""
    app = delivery.installation.app
    if app.user_id != getattr(actor, "pk", None):
        raise PermissionDenied("Only the app's developer can send its callbacks again.")
    return deliveries.redeliver(delivery=delivery, actor=actor, verb="integrations.callback_redelivery",
                                target=app, app_ref=app.client_id)


def callback_log_of(*, app, limit: int = 25) -> list[CallbackAttempt]:
    """The app's most recent install/uninstall callback attempts, newest first, for its developer (the
    portal asks for it through ``portal.hooks.CALLBACK_LOG``)."""
    return list(CallbackAttempt.objects.filter(delivery__installation__app=app)
                .select_related("delivery__installation__account").order_by("-created_at", "-id")[:limit])
