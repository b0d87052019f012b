"""Seed the demo: people, accounts, an app in development with early access, a pending request.

Idempotent (running it again changes nothing and keeps the same credentials) and refused unless
DEBUG or DEMO_MODE is on. Writes `.demo/credentials.json` (git-ignored) with what a person needs; prints it
only with ``-v 2``.
"""

import json
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import api_keys, services as account_services
from accounts.conf import accounts_settings
from accounts.models import Account, DeveloperApiKey, DeveloperProfile, User
from accounts.tokens import hash_secret
from portal import services
from portal.models import App, ProgressionRequest

PASSWORD = "demo-pass-2026"
DEMO_APP_REF = "demo-app"
DEMO_API_KEY_NAME = "Demo key (seed_demo)"
REDIRECT_URI = "http://localhost:8080/callback"
USERS = {
    "developer": ("developer@example.com", "Dana Developer"),
    "reviewer": ("reviewer@example.com", "Riley Reviewer"),
    "owner": ("owner@example.com", "Olive Owner"),
}
ACCOUNTS = [("outerheaven", "Outer Heaven Ltd", "eu1"), ("topfurniture", "Top Furniture Co", "use1")]


class Command(BaseCommand):
    help = "Create (or refresh) the demo data and write .demo/credentials.json."

    def handle(self, *args, **options):
        if not (settings.DEBUG or settings.DEMO_MODE):
            raise CommandError("seed_demo only runs with DEBUG or DEMO_MODE on; it creates known passwords.")
        credentials_path = Path(settings.BASE_DIR) / ".demo" / "credentials.json"
        with transaction.atomic():
            users = {role: self._user(email, name) for role, (email, name) in USERS.items()}
            reviewer = users["reviewer"]
            reviewer.is_staff = True
            reviewer.save(update_fields=["is_staff"])
            reviewer.groups.add(Group.objects.get_or_create(name=accounts_settings.REVIEWERS_GROUP)[0])
            profile = DeveloperProfile.objects.filter(user=users["developer"]).first() or (
                account_services.developer_profile_create(
                    user=users["developer"], dev_ref="demo-developer", company="Demo Apps Ltd",
                    contact_name="Dana Developer",
                )
            )
            if not profile.is_partner:
                profile.partner_status = DeveloperProfile.PartnerStatus.APPROVED
                profile.save(update_fields=["partner_status"])
            for code, name, datacentre in ACCOUNTS:
                if not Account.objects.filter(code=code).exists():
                    account_services.account_create(code=code, name=name, datacentre=datacentre,
                                                    owner_email=users["owner"].email, actor=None)
            app, secret = self._app(users["developer"], credentials_path)
            api_key = self._api_key(users["developer"], credentials_path)
            if not app.early_access.filter(account__code="outerheaven").exists():
                services.early_access_add(app=app, account_code="outerheaven", actor=users["developer"])
            if not app.progression_requests.filter(status=ProgressionRequest.Status.PENDING).exists():
                services.progression_request_submit(
                    app=app, actor=users["developer"],
                    message="Ready for alpha: installs cleanly in outerheaven and syncs products and orders.",
                )
        # The accounts' API data (products, contacts, orders); the command lives in integrations and
        # is called by name so that this layer does not import upward. It skips what exists.
        call_command("seed_api_data", *[code for code, _, _ in ACCOUNTS], stdout=self.stdout)
        # An app with managed sync, turned on in both accounts (integrations, called by name as well).
        call_command("seed_sync_demo", stdout=self.stdout)
        # An app with a day of usage for the optimisation report, and its pending limit request.
        call_command("seed_demo_usage", stdout=self.stdout)
        data = {
            "base_url": settings.SITE_URL,
            "password": PASSWORD,
            "users": {role: email for role, (email, _) in USERS.items()},
            "accounts": [code for code, _, _ in ACCOUNTS],
            "app": {"client_id": app.client_id, "client_secret": secret, "redirect_uri": REDIRECT_URI,
                    "dev_ref": profile.dev_ref},
            "developer_api_key": api_key,
        }
        credentials_path.parent.mkdir(exist_ok=True)
        credentials_path.write_text(json.dumps(data, indent=2) + "\n")
        # The secrets stay in the file (git-ignored); `make run` prints the logins once. -v 2 prints them all.
        if options["verbosity"] >= 2:
            self.stdout.write(json.dumps(data, indent=2))
        self.stdout.write(self.style.SUCCESS(f"Demo data ready; credentials written to {credentials_path}"))

    def _user(self, email: str, name: str) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=PASSWORD, full_name=name)
        EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        return user

    def _api_key(self, developer: User, credentials_path: Path) -> str:
        """The demo developer's key for the developer API (/api/developer/). Only its hash is stored, so
        on later runs it is read back from the credentials file while its hash still matches an active
        key; otherwise a new key is created and earlier demo keys are revoked."""
        active = DeveloperApiKey.objects.filter(user=developer, name=DEMO_API_KEY_NAME, revoked_at__isnull=True)
        if credentials_path.exists():
            saved = json.loads(credentials_path.read_text()).get("developer_api_key", "")
            if saved and active.filter(key_hash=hash_secret(saved)).exists():
                return saved
        for stale in active:
            api_keys.api_key_revoke(key=stale, actor=developer)
        return api_keys.api_key_create(user=developer, name=DEMO_API_KEY_NAME, actor=developer)[1]

    def _app(self, developer: User, credentials_path: Path) -> tuple[App, str]:
        """The demo app and its secret. The secret is stored only hashed, so on later runs it is read
        back from the credentials file; if that file is gone, the secret is rotated."""
        app = App.objects.filter(client_id=DEMO_APP_REF).first()
        if app is None:
            return services.app_register(
                actor=developer, app_ref=DEMO_APP_REF, name="Demo Inventory Sync",
                short_description="Keeps products, orders and contacts in step with your warehouse.",
                long_description="**Demo Inventory Sync** mirrors your catalogue into a warehouse system.\n\n"
                                 "- Products and stock levels\n- Orders as they are placed\n- Contacts",
                client_type=App.CLIENT_CONFIDENTIAL, redirect_uris=REDIRECT_URI,
                install_callback_url="http://localhost:8080/installed",
                uninstall_callback_url="http://localhost:8080/uninstalled",
                homepage_url="https://example.com/demo-app", support_url="https://example.com/support",
                privacy_url="https://example.com/privacy",
            )
        if credentials_path.exists():
            saved = json.loads(credentials_path.read_text()).get("app", {}).get("client_secret", "")
            from django.contrib.auth.hashers import check_password

            if saved and check_password(saved, app.client_secret):
                return app, saved
        return app, services.app_rotate_secret(app=app, actor=developer)
