"""What the demo seed commands share: they only run in a demo, after ``seed_demo`` made the demo people."""

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction

from accounts.models import Account, Membership, User
from portal import installations, services
from portal.models import App, Installation

DEVELOPER_EMAIL = "developer@example.com"
DEMO_ACCOUNTS = ("outerheaven", "topfurniture")


def demo_developer(command: str) -> User:
    """The demo developer, for a seed command named ``command``; refused outside DEBUG or DEMO_MODE (the demo
    people have a known password) and before ``seed_demo`` has run."""
    if not (settings.DEBUG or settings.DEMO_MODE):
        raise CommandError(f"{command} only runs with DEBUG or DEMO_MODE on.")
    developer = User.objects.filter(email=DEVELOPER_EMAIL).first()
    if developer is None:
        raise CommandError("Run seed_demo first: the demo developer does not exist.")
    return developer


def turn_on_in_demo_accounts(app: App, developer: User) -> list[tuple[Installation, User]]:
    """Give the demo accounts early access to ``app`` and turn it on in each, as its owner (accounts without
    an owner are left out); (installation, owner) of each, again on later runs."""
    turned_on = []
    for account in Account.objects.filter(code__in=DEMO_ACCOUNTS):
        owner = Membership.objects.filter(account=account, role=Membership.Role.OWNER).select_related("user").first()
        if owner is None:
            continue
        with transaction.atomic():
            if not app.early_access.filter(account=account).exists():
                services.early_access_add(app=app, account_code=account.code, actor=developer)
            installation = installations.installation_turn_on(app=app, account=account, actor=owner.user)
        turned_on.append((installation, owner.user))
    return turned_on
