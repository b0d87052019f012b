"""Create a platform account from the command line (a trusted operator: ``actor=None``)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.conf import accounts_settings
from accounts.services import account_create


class Command(BaseCommand):
    help = "Create a platform account, optionally with its first owner (an existing user)."

    def add_arguments(self, parser):
        datacentres = [code for code, _label in accounts_settings.DATACENTRES]
        parser.add_argument("code", help="Account code: lowercase letters, digits and hyphens, e.g. outerheaven.")
        parser.add_argument("--name", required=True, help="The account's display name.")
        parser.add_argument("--datacentre", default=datacentres[0],
                            help=f"One of {', '.join(datacentres)} (default {datacentres[0]}).")
        parser.add_argument("--owner", default="", metavar="EMAIL",
                            help="Email address of an existing user who becomes the account's owner.")

    def handle(self, *args, code, name, datacentre, owner, **options):
        datacentres = dict(accounts_settings.DATACENTRES)
        if datacentre not in datacentres:
            raise CommandError(f"Unknown datacentre {datacentre!r}; choose one of {', '.join(datacentres)}.")
        try:
            account = account_create(code=code, name=name, datacentre=datacentre, owner_email=owner, actor=None)
        except ValidationError as error:
            raise CommandError(_describe(error)) from error
        owner_text = f" owned by {owner}" if owner else " with no members yet"
        self.stdout.write(self.style.SUCCESS(
            f"Created account {account.code} ({account.name}) in {datacentres[datacentre]}{owner_text}."
        ))


# How the service's field names are spelt on this command line.
OPTION_OF_FIELD = {"code": "code", "name": "--name", "datacentre": "--datacentre", "owner_email": "--owner"}


def _describe(error: ValidationError) -> str:
    """'code: Account with this Account code already exists.' style lines; nothing was created."""
    if hasattr(error, "error_dict"):
        lines = [f"{'' if field == '__all__' else OPTION_OF_FIELD.get(field, field) + ': '}{message}"
                 for field, messages in error.message_dict.items() for message in messages]
    else:
        lines = error.messages
    return "Account not created. " + " ".join(lines)
