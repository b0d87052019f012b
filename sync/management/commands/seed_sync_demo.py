"""Seed the sync demo: an app with managed sync, turned on in every demo account by its owner, so that
`make run` shows the engine mirroring the accounts' products, orders and contacts.

Idempotent, and refused unless DEBUG or DEMO_MODE is on. Called by `seed_demo` (after the people and
accounts exist); the connections are made without a browser (``managed_connection_provision``).
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from portal import services
from portal.management.demo import demo_developer, turn_on_in_demo_accounts
from portal.models import App
from sync import services as sync_services
from sync.models import Connection, SyncResource, SyncSpec

SYNC_APP_REF = "demo-stock-mirror"


class Command(BaseCommand):
    help = "Create (or refresh) the managed-sync demo app and connect it to the demo accounts."

    def handle(self, *args, **options):
        developer = demo_developer("seed_sync_demo")
        with transaction.atomic():
            app = App.objects.filter(client_id=SYNC_APP_REF).first()
            if app is None:
                app, secret = services.app_register(
                    actor=developer, app_ref=SYNC_APP_REF, name="Demo Stock Mirror",
                    short_description="Keeps a live copy of your products, orders and contacts for reporting.",
                    long_description="**Demo Stock Mirror** uses the portal's managed sync: turn it on and the "
                                     "portal keeps your catalogue, orders and contacts mirrored for the app.",
                    client_type=App.CLIENT_CONFIDENTIAL, redirect_uris="http://localhost:8080/callback",
                )
                # Changes go to the portal's demo receiver, which checks signatures like an app would.
                sync_services.sync_spec_save(app=app, actor=developer, is_enabled=True,
                                             resources=list(SyncResource.values), interval_seconds=300,
                                             webhook_url=settings.SITE_URL + reverse("sync:demo_webhook_receiver"),
                                             client_secret=secret)
        connected = 0
        for installation, owner in turn_on_in_demo_accounts(app, developer):
            if not Connection.objects.filter(installation=installation, status=Connection.Status.ACTIVE).exists():
                sync_services.managed_connection_provision(installation=installation, actor=owner)
                connected += 1
        spec = SyncSpec.objects.get(app=app)
        self.stdout.write(self.style.SUCCESS(
            f"Managed sync demo: {app.client_id} mirrors {', '.join(spec.resources)} every {spec.interval_seconds} s; "
            f"{connected} new connection(s)."))
