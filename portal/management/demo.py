"""What the demo seed commands share: they only run in a demo, after ``seed_demo`` made the demo people."""

from django.conf import settings
from django.core.management.base import CommandError

from accounts.models import User

DEVELOPER_EMAIL = "developer@example.com"


def demo_developer(command: str) -> User:
    """The demo developer, for a seed command named ``command``; refused outside DEBUG or DEMO_MODE (the demo
    people have a known password) and before ``seed_demo`` has run."""
    if not (settings.DEBUG or settings.DEMO_MODE):
        raise CommandError(f"{command} only runs with DEBUG or DEMO_MODE on.")
    developer = User.objects.filter(email=DEVELOPER_EMAIL).first()
    if developer is None:
        raise CommandError("Run seed_demo first: the demo developer does not exist.")
    return developer
