"""Seed the demo's optimisation report: an app with 24 hours of API usage and a pending limit request.

"Demo Order Poller" (``demo-order-poller``, the demo developer's) is turned on in both demo accounts. In
``outerheaven`` it does what the report exists to find: single-ID product reads in a loop, the same order
search polled again and again, a burst at the top of every hour that is throttled and retried inside the
Retry-After wait, and a few calls with an expired token. In ``topfurniture`` it behaves (ID sets, filtered
searches, well under the limit). It has asked for 400 calls a minute for ``outerheaven``, so the reviewer's
queue has a request with its evidence.

Running it again rewrites the last 24 hours of rows (so the demo always has a fresh day) and changes
nothing else. Refused unless DEBUG or DEMO_MODE is on. Fast: 2,880 rows in bulk.
"""

import random
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from portal import limit_requests, services
from portal.management.demo import demo_developer, turn_on_in_demo_accounts
from portal.minutes import minute_of, minute_start
from portal.models import App, RateLimitIncreaseRequest, UsageMinute

APP_REF = "demo-order-poller"
SINGLE = "GET product-service/product single"
IDSET = "GET product-service/product idset"
ORDER_SEARCH = "GET order-service/order-search search"
ORDERS = "GET order-service/order idset"
AVAILABILITY = "GET warehouse-service/product-availability idset"


def _poller_minute(minute: int, rng: random.Random) -> dict:
    """One minute of the app in outerheaven: busier in working hours (07:00-19:00 UTC)."""
    hour, at = (minute // 60) % 24, minute % 60
    busy = 7 <= hour < 19
    singles = rng.randint(70, 110) if busy else rng.randint(0, 6)
    searches = rng.randint(10, 14) if busy else 2
    orders = rng.randint(15, 30) if busy else rng.randint(0, 3)
    figures = {"throttled": 0, "in_retry_wait": 0, "expired_token": 0}
    if busy and at == 0:  # the hourly job fetches every product's stock, one GET each
        singles += 240
    demand = singles + searches + orders
    if demand > 200:
        figures["throttled"] = demand - 200
        figures["in_retry_wait"] = (demand - 200) * 2 // 3  # retried before Retry-After ran out
    calls = demand - figures["throttled"]
    if minute % 1440 in (9 * 60 + 1, 15 * 60 + 1):  # the token ran out; the app notices only at the 401
        figures["expired_token"] = 6
    status_4xx = figures["expired_token"] + (1 if rng.random() < 0.3 else 0)
    endpoints = {SINGLE: singles, ORDER_SEARCH: searches, ORDERS: orders}
    return {"calls": calls, "status_4xx": min(status_4xx, calls), "status_5xx": 0, **figures,
            "endpoints": {key: value for key, value in endpoints.items() if value},
            "repeated_searches": {ORDER_SEARCH: searches - 1} if searches > 1 else {}}


def _tidy_minute(minute: int, rng: random.Random) -> dict:
    """One minute of the app in topfurniture: ID sets and one filtered search."""
    busy = 7 <= (minute // 60) % 24 < 19
    reads = rng.randint(8, 20) if busy else rng.randint(0, 2)
    endpoints = {IDSET: reads, AVAILABILITY: reads // 4, ORDER_SEARCH: 1}
    return {"calls": sum(endpoints.values()), "status_4xx": 0, "status_5xx": 0, "throttled": 0,
            "in_retry_wait": 0, "expired_token": 0, "endpoints": {k: v for k, v in endpoints.items() if v},
            "repeated_searches": {}}


class Command(BaseCommand):
    help = "Create (or refresh) the demo app whose usage the optimisation report explains."

    def handle(self, *args, **options):
        developer = demo_developer("seed_demo_usage")
        with transaction.atomic():
            app = App.objects.filter(client_id=APP_REF).first() or services.app_register(
                actor=developer, app_ref=APP_REF, name="Demo Order Poller",
                short_description="Sends new orders and stock levels to a warehouse system.",
                client_type=App.CLIENT_CONFIDENTIAL, redirect_uris="http://localhost:8080/callback",
            )[0]
        installed = {installation.account.code: installation
                     for installation, _ in turn_on_in_demo_accounts(app, developer)}
        rng = random.Random(11)
        now = minute_of(timezone.now())
        rows = []
        for code, shape in (("outerheaven", _poller_minute), ("topfurniture", _tidy_minute)):
            if code not in installed:
                continue
            for minute in range(now - 24 * 60, now):
                rows.append(UsageMinute(installation=installed[code], minute=minute_start(minute),
                                        **shape(minute, rng)))
        fields = ["calls", "throttled", "failed", "status_4xx", "status_5xx", "in_retry_wait", "expired_token",
                  "endpoints", "repeated_searches"]
        UsageMinute.objects.bulk_create(rows, batch_size=1000, update_conflicts=True,
                                        unique_fields=["installation", "minute"], update_fields=fields)
        if "outerheaven" in installed and not app.limit_requests.filter(
                status=RateLimitIncreaseRequest.Status.PENDING).exists():
            limit_requests.limit_request_submit(
                app=app, actor=developer, account=installed["outerheaven"].account,
                use_case="Sends every new order to the warehouse and refreshes stock levels every hour.",
                calls_per_period=12000, period=RateLimitIncreaseRequest.Period.HOUR,
                processing_time="Orders within 2 minutes; stock within the hour.",
                optimisations="Orders are fetched by ID set.", requested_limit=400,
                requested_until=timezone.localdate() + timedelta(days=90),
            )
        self.stdout.write(self.style.SUCCESS(
            f"Usage demo: {app.client_id} with 24 hours of usage in {', '.join(sorted(installed))}."))
