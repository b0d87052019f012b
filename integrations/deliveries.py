"""Signed outbound deliveries: the one way the portal sends an app something it must receive.

Install and uninstall callbacks (integrations/callbacks.py) and webhooks (sync/webhooks.py) are kinds of
delivery. A kind makes delivery rows (a concrete :class:`integrations.models.Delivery` with an
``attempt_log`` of :class:`integrations.models.DeliveryAttempt` rows) and says how its request is built and
signed; everything else is here, the same for every kind:

- **due**: a pending delivery whose ``next_attempt_at`` has come. Beat runs :func:`deliver_due` (the task
  ``integrations.tasks.deliver_due``) every two seconds; it asks every registered kind for its due rows. A
  kind may also have a new delivery tried at once (:func:`deliver_one`, the task ``integrations.tasks.deliver``).
- **one attempt** (:func:`attempt`): the row is claimed first (its ``next_attempt_at`` moves past the longest
  an attempt can take, so two workers never send it twice and a dead worker's claim runs out), the kind builds
  the signed request, it goes out through the egress guard (``integrations.egress.send``: public addresses
  only, capped time and size), and the answer is logged as an attempt: status, error, time taken, the start
  of the body.
- **delivered = 2xx**. Anything else is a failure, retried after a backoff, except a refusal of the egress
  guard ("Not sent: …"), which would be refused again and so fails the delivery at once.
- **backoff** (:func:`retry_delay`): capped exponential with jitter, between half and all of
  ``min(cap, first · 2^(failures - 1))``; after ``MAX_ATTEMPTS`` attempts the delivery has failed.
- **redelivery** (:func:`redeliver`): a person sends a delivery again, whatever became of it: it is due at
  once, with a full set of attempts, newly signed, and the audit log says who asked.

Settings: :data:`DEFAULTS`, then a kind's own ``defaults``, then ``settings.PORTAL["DELIVERIES"][<kind>]``.
"""

import hashlib
import hmac
import logging
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from integrations import egress
from integrations.models import Delivery, DeliveryAttempt

logger = logging.getLogger(__name__)

# Every setting of a kind of delivery, with its default.
DEFAULTS = {
    # Attempts of one delivery at most (the first and the retries); then it has failed.
    "MAX_ATTEMPTS": 6,
    # The first retry comes about this long after a failure, each next one twice as long after, up to the cap.
    "FIRST_RETRY_SECONDS": 30,
    "BACKOFF_CAP_SECONDS": 600,
    # Connecting and each wait for the answer; the whole answer must arrive within twice this.
    "TIMEOUT_SECONDS": 10,
    "MAX_RESPONSE_BYTES": 64 * 1024,
    # How much of the answer's body the attempt log keeps.
    "RESPONSE_KEEP_CHARS": 4000,
    # One pass sends at most this many deliveries of a kind, and starts none after this many seconds.
    "PASS_MAX_DELIVERIES": 200,
    "PASS_MAX_SECONDS": 20,
}


@dataclass
class Request:
    """What a kind wants sent for one attempt, signed."""

    method: str
    url: str
    headers: dict = field(default_factory=dict)
    body: bytes | None = None


class Kind:
    """A kind of delivery. Subclass, set ``name`` and ``model``, implement :meth:`request`; register an
    instance with :func:`register` (in the owning app's ``AppConfig.ready``)."""

    name: str = ""
    model: type[Delivery]
    user_agent = "PartnerPortal-Deliveries/1.0"
    # This kind's own defaults (see DEFAULTS); settings.PORTAL["DELIVERIES"][name] overrides them.
    defaults: ClassVar[dict] = {}

    def prepare(self) -> dict:
        """Before a pass: make new deliveries if this kind batches; returns figures for the pass's result."""
        return {}

    def due(self, *, now, limit: int) -> Iterator[Delivery]:
        """The pending deliveries to try now, in the order to try them. A generator may look at each yielded
        row after its attempt (its status is updated in place) to decide what comes next."""
        yield from (self.model.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
                    .order_by("next_attempt_at", "id")[:limit])

    def request(self, delivery: Delivery) -> Request | str:
        """The signed request for the next attempt, or a reason (str) not to send it any more (cancelled).
        May update ``delivery.url`` (saved with the attempt)."""
        raise NotImplementedError

    def attempted(self, delivery: Delivery, attempt: DeliveryAttempt) -> None:
        """After each attempt, in the transaction that records it."""

    def settings(self) -> dict:
        configured = getattr(settings, "PORTAL", {}).get("DELIVERIES", {}).get(self.name, {})
        return {**DEFAULTS, **self.defaults, **configured}


_kinds: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    _kinds[kind.name] = kind


def kind_named(name: str) -> Kind:
    return _kinds[name]


def kinds() -> list[Kind]:
    return list(_kinds.values())


def sign(*, key: str, message: str) -> str:
    """Hex HMAC-SHA256 of ``message`` keyed with ``key`` (an app's callback signing key, as ASCII text)."""
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def retry_delay(failures: int, cfg: dict) -> float:
    """Seconds to wait after the ``failures``-th failed attempt in a row (1, 2, …)."""
    ceiling = min(float(cfg["BACKOFF_CAP_SECONDS"]), float(cfg["FIRST_RETRY_SECONDS"]) * 2 ** max(0, failures - 1))
    return random.uniform(ceiling / 2, ceiling)


def _claim_seconds(cfg: dict) -> float:
    """Longer than one attempt can take (egress caps the answer at twice the timeout)."""
    return 2 * float(cfg["TIMEOUT_SECONDS"]) + 30


def _claim(kind: Kind, delivery: Delivery, now) -> bool:
    """Take the delivery for one attempt; False if it is not due (any more), e.g. another worker has it."""
    until = now + timedelta(seconds=_claim_seconds(kind.settings()))
    claimed = kind.model.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING,
                                        next_attempt_at__lte=now).update(next_attempt_at=until)
    if claimed:
        delivery.next_attempt_at = until
    return bool(claimed)


def _send(kind: Kind, request: Request, attempt: DeliveryAttempt, cfg: dict) -> bool:
    """Send through the egress guard and fill in ``attempt``; True when the guard refused the URL."""
    timeout = cfg["TIMEOUT_SECONDS"]
    headers = {"User-Agent": kind.user_agent, "Accept": "*/*", **request.headers}
    attempt.url = request.url[:500]
    started = time.monotonic()
    refused = False
    try:
        response = egress.send(request.method, request.url, purpose=kind.name, data=request.body, headers=headers,
                               timeout=timeout, max_bytes=cfg["MAX_RESPONSE_BYTES"], max_seconds=2 * timeout)
        attempt.status_code = response.status_code
        attempt.response_body = response.content.decode(response.encoding or "utf-8", errors="replace")[
            :cfg["RESPONSE_KEEP_CHARS"]]
        if not attempt.delivered:
            attempt.error = f"HTTP {response.status_code} {response.reason or ''}".strip()
    except egress.Refused as error:
        attempt.error, refused = f"Not sent: {error}", True
    except requests.Timeout:
        attempt.error = f"No response within {timeout} seconds."
    except egress.ResponseTooLarge:
        attempt.error = f"The answer was larger than {cfg['MAX_RESPONSE_BYTES'] // 1024} KB."
    except requests.RequestException as error:
        attempt.error = f"Could not connect: {type(error).__name__}"
        logger.info("%s delivery %s failed: %s", kind.name, attempt.delivery_id, error)
    attempt.error = attempt.error[:300]
    attempt.duration_ms = int((time.monotonic() - started) * 1000)
    return refused


def attempt(delivery: Delivery, *, kind: Kind | None = None) -> DeliveryAttempt | None:
    """Try a due delivery once and record the outcome on it and in its attempt log. Returns the logged
    attempt; None when nothing was sent (not due, taken by another worker, or cancelled by its kind)."""
    kind = kind or _kind_of(delivery)
    cfg = kind.settings()
    if not _claim(kind, delivery, timezone.now()):
        return None
    # What other workers did since the row was read (attempts, a redelivery) counts, not the copy in hand.
    delivery.refresh_from_db(fields=["status", "attempts", "attempts_before_redelivery", "url"])
    request = kind.request(delivery)
    if isinstance(request, str):
        delivery.status, delivery.last_error = Delivery.Status.CANCELLED, request[:300]
        delivery.save(update_fields=["url", "status", "last_error"])
        logger.info("%s delivery %s cancelled: %s", kind.name, delivery.pk, request)
        return None
    logged = delivery.attempt_log.model(delivery=delivery, number=delivery.attempts + 1)
    refused = _send(kind, request, logged, cfg)
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = logged.status_code, logged.error
    if logged.delivered:
        delivery.status, delivery.delivered_at = Delivery.Status.DELIVERED, now
    elif refused or delivery.attempts - delivery.attempts_before_redelivery >= int(cfg["MAX_ATTEMPTS"]):
        delivery.status = Delivery.Status.FAILED
        logger.warning("%s delivery %s failed after %s attempts: %s", kind.name, delivery.pk, delivery.attempts,
                       logged.error)
    else:
        failures = delivery.attempts - delivery.attempts_before_redelivery
        delivery.next_attempt_at = now + timedelta(seconds=retry_delay(failures, cfg))
    with transaction.atomic():
        logged.save()
        delivery.save(update_fields=["url", "status", "attempts", "next_attempt_at", "last_status_code",
                                     "last_error", "delivered_at"])
        kind.attempted(delivery, logged)
    return logged


def _kind_of(delivery: Delivery) -> Kind:
    for kind in _kinds.values():
        if isinstance(delivery, kind.model):
            return kind
    raise LookupError(f"no delivery kind is registered for {type(delivery).__name__}")


def deliver_kind(kind: Kind) -> dict:
    """One pass over one kind: its preparation, then its due deliveries, one attempt each, within the
    pass's bounds. Returns figures: the kind's own, and how many attempts delivered and failed."""
    cfg = kind.settings()
    figures = dict(kind.prepare() or {})
    sent = failed = 0
    deadline = time.monotonic() + float(cfg["PASS_MAX_SECONDS"])
    due = kind.due(now=timezone.now(), limit=int(cfg["PASS_MAX_DELIVERIES"]))
    for delivery in due:
        try:
            logged = attempt(delivery, kind=kind)
        except Exception:
            # A bug or a vanished row must not stop the other deliveries; this one's claim runs out and it
            # is tried again then.
            logger.exception("%s delivery %s: the attempt broke off", kind.name, delivery.pk)
            logged = None
        if logged is not None:
            sent, failed = (sent + 1, failed) if logged.delivered else (sent, failed + 1)
        if time.monotonic() > deadline:
            break
    return {**figures, "sent": sent, "failed": failed}


def deliver_due(names: Iterable[str] | None = None) -> dict:
    """One pass over every registered kind (or those named): {kind name: figures}."""
    chosen = [_kinds[name] for name in names] if names is not None else kinds()
    return {kind.name: deliver_kind(kind) for kind in chosen}


def deliver_one(kind_name: str, delivery_id: int) -> str:
    """Try one delivery now if it is due; returns its status afterwards, or "gone"."""
    kind = kind_named(kind_name)
    delivery = kind.model.objects.filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"
    if delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at <= timezone.now():
        attempt(delivery, kind=kind)
    return delivery.status


def redeliver(*, delivery: Delivery, actor, verb: str, target, app_ref: str = "") -> Delivery:
    """Send ``delivery`` again, whatever became of it before: due at once, with a full set of attempts.
    The caller has checked that ``actor`` may; the audit row ``verb`` on ``target`` says who asked."""
    with transaction.atomic():
        delivery = type(delivery).objects.select_for_update(of=("self",)).get(pk=delivery.pk)
        delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, timezone.now()
        delivery.attempts_before_redelivery = delivery.attempts
        delivery.save(update_fields=["status", "next_attempt_at", "attempts_before_redelivery"])
        audit_record(actor=actor, verb=verb, target=target, app_ref=app_ref, data={"delivery": delivery.pk})
    return delivery
