"""Rows for conformance tests, written straight to the database: an app with early-access accounts where it is
turned on, per-minute usage, token families, callbacks and audit events at chosen times."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import Account, AuditEvent
from integrations.models import AccessToken, CallbackAttempt, CallbackDelivery, RefreshToken
from portal.models import App, EarlyAccess, Installation, PlatformSettings, UsageMinute
from tests.factories import AccountFactory, AppFactory

NOW = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)


@dataclass
class World:
    app: App
    accounts: list[Account]
    installations: list[Installation]


def world(*, accounts: int = 2, installed: int | None = None, **app_fields) -> World:
    """An app with ``accounts`` early-access accounts, turned on in the first ``installed`` (all by default)."""
    PlatformSettings.objects.update_or_create(pk=1, defaults={"default_instance_limit": 200,
                                                             "limit_period_seconds": 60})
    app = AppFactory(install_callback_url="https://app.example.com/installed",
                     uninstall_callback_url="https://app.example.com/uninstalled", **app_fields)
    made = [AccountFactory() for _ in range(accounts)]
    for account in made:
        EarlyAccess.objects.create(app=app, account=account)
    installations = [Installation.objects.create(app=app, account=account, installed_at=NOW - timedelta(days=20))
                     for account in made[: accounts if installed is None else installed]]
    return World(app=app, accounts=made, installations=installations)


def usage(installation: Installation, minutes_ago: int, **figures) -> UsageMinute:
    """One minute of usage, ``minutes_ago`` minutes before NOW (figures default to 0)."""
    return UsageMinute.objects.create(installation=installation, minute=NOW - timedelta(minutes=minutes_ago),
                                      **figures)


def exchange(installation: Installation, at: datetime, *, refreshes: int = 0) -> uuid.UUID:
    """A completed code exchange at ``at`` (a new refresh-token family) and ``refreshes`` refreshes an hour apart."""
    family = uuid.uuid4()
    for n in range(refreshes + 1):
        access = AccessToken.objects.create(user=installation.app.user, application=installation.app,
                                            installation=installation, token=f"a-{uuid.uuid4()}",
                                            expires=at + timedelta(hours=n + 1))
        row = RefreshToken.objects.create(user=installation.app.user, application=installation.app,
                                          installation=installation, token=f"r-{uuid.uuid4()}", access_token=access,
                                          token_family=family)
        RefreshToken.objects.filter(pk=row.pk).update(created=at + timedelta(hours=n))
    return family


def callback(installation: Installation, *, kind: str = "install", statuses=(200,), at: datetime | None = None,
             status: str | None = None) -> CallbackDelivery:
    """A callback delivery with one attempt per status code; delivered when the last one is 2xx, else failed."""
    at = at or NOW - timedelta(days=1)
    delivered = 200 <= statuses[-1] < 300
    delivery = CallbackDelivery.objects.create(
        installation=installation, kind=kind, url="https://app.example.com/installed", created_at=at,
        attempts=len(statuses), status=status or ("delivered" if delivered else "failed"),
        last_status_code=statuses[-1])
    for number, code in enumerate(statuses, start=1):
        CallbackAttempt.objects.create(delivery=delivery, number=number, status_code=code, created_at=at)
    return delivery


def turned(installation: Installation, verb: str, at: datetime) -> None:
    """An audit event of the installation turned on or off at ``at`` (``verb``: "on" or "off")."""
    AuditEvent.objects.create(verb=f"installation.turned_{verb}", target_type="portal.installation",
                              target_id=str(installation.pk), app_ref=installation.app.client_id, created_at=at)


def turn_off(installation: Installation, at: datetime) -> None:
    Installation.objects.filter(pk=installation.pk).update(is_enabled=False, disabled_at=at)
    installation.refresh_from_db()
    turned(installation, "off", at)


def well_behaved(w: World) -> None:
    """Everything a good app leaves behind: exchanges and refreshes, answered callbacks, busy but clean
    traffic, a throttled minute before the limit it asked for was granted (and a wait honoured), and silence
    after an account turned it off."""
    from tests.factories import make_reviewer

    first, second = w.installations
    exchange(first, NOW - timedelta(days=10), refreshes=5)
    exchange(second, NOW - timedelta(days=9))
    callback(first)
    callback(second, statuses=(503, 200))
    callback(second, kind="uninstall", at=NOW - timedelta(days=2))
    for ago in range(1, 200):
        usage(first, ago, calls=120, status_4xx=1)
    usage(first, 3000, calls=200, throttled=40)
    from portal.models import RateLimitIncreaseRequest

    RateLimitIncreaseRequest.objects.create(
        app=w.app, use_case="sync", calls_per_period=300, period="minute", processing_time="1 min",
        optimisations="id sets", requested_limit=300, submitted_by=w.app.user, status="approved",
        granted_limit=300, decided_at=NOW - timedelta(days=1), reviewer=make_reviewer())
    usage(second, 4000, calls=50)
    turn_off(second, NOW - timedelta(days=2))
