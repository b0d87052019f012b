"""Seed the built-in API resources (products, contacts, orders) of platform accounts.

    python manage.py seed_api_data outerheaven topfurniture [--products 2000 --contacts 1500 --orders 2500]

Idempotent: a resource that already has rows in an account is left alone. Deterministic: the same
account always gets the same records. Fast: bulk inserts in one transaction per account (a few
seconds on SQLite for the demo accounts). Creation and update times are spread over the last half
year so that ``updatedOn`` searches and sync checkpoints have something to work on.
"""

import contextlib
import random
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from integrations.models import Contact, Order, Product

BATCH_SIZE = 500
HISTORY_DAYS = 180

ADJECTIVES = ["Oak", "Walnut", "Ash", "Pine", "Velvet", "Linen", "Steel", "Brass", "Marble", "Rattan", "Cedar",
              "Copper", "Slate", "Teak", "Wool", "Leather", "Glass", "Bamboo", "Birch", "Cherry"]
NOUNS = ["Chair", "Table", "Lamp", "Shelf", "Sofa", "Stool", "Desk", "Bench", "Cabinet", "Mirror", "Rug",
         "Bed Frame", "Wardrobe", "Sideboard", "Ottoman", "Bookcase", "Armchair", "Console", "Dresser", "Clock"]
VARIANTS = ["", "", "Mk II", "XL", "Mini"]
BRANDS = ["Northwind", "Harbour & Co", "Atelier Nine", "Greystone", "Lumen", "Fieldhouse", "Kestrel", ""]
FIRST_NAMES = ["Olive", "Dana", "Riley", "Sam", "Alex", "Jordan", "Morgan", "Casey", "Jamie", "Taylor", "Robin",
               "Avery", "Quinn", "Harper", "Rowan", "Emery", "Ellis", "Sasha", "Noor", "Kai"]
LAST_NAMES = ["Smith", "Jones", "Patel", "Nguyen", "Garcia", "Müller", "Okafor", "Kowalski", "Rossi", "Dubois",
              "Tanaka", "Andersen", "Silva", "Murphy", "Cohen", "Khan", "Novak", "Larsen", "Fischer", "Byrne"]
COMPANIES = ["", "", "Acme Retail", "Blue Door Interiors", "Cobalt Hotels", "Drift Studios", "Elm Street Homes",
             "Foxglove Design", "Granite Offices", "Hollow Oak Cafés"]
PRODUCT_STATUSES = ["LIVE"] * 8 + ["DISCONTINUED", "ARCHIVED"]
ORDER_STATUSES = ["NEW", "PAID", "PAID", "SHIPPED", "SHIPPED", "SHIPPED", "CANCELLED"]
CURRENCIES = ["GBP", "GBP", "GBP", "EUR", "USD"]


@contextlib.contextmanager
def dates_as_given(*models):
    """Let bulk_create keep the created_on/updated_on values we set (auto_now would overwrite them)."""
    fields = [(field, field.auto_now, field.auto_now_add) for model in models for field in model._meta.fields
              if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)]
    for field, _, _ in fields:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in fields:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def _times(rng: random.Random, now):
    """(created, updated) within the history, updated at or after created and not in the future."""
    created = now - timedelta(days=HISTORY_DAYS) + timedelta(seconds=rng.randrange(HISTORY_DAYS * 86400))
    if rng.random() < 0.4:
        return created, created
    span = int(min(30 * 86400, (now - created).total_seconds()))
    return created, created + timedelta(seconds=rng.randrange(max(span, 1)))


def seed_account(account: Account, *, products: int, contacts: int, orders: int) -> dict[str, int]:
    """Create the account's products, contacts and orders unless it has some already; returns how
    many of each were created (0 when skipped)."""
    rng = random.Random(f"seed-api-data:{account.code}")
    now = timezone.now()
    created = {"products": 0, "contacts": 0, "orders": 0}
    with transaction.atomic(), dates_as_given(Product, Contact, Order):
        if products and not Product.objects.filter(account=account).exists():
            prefix = account.code[:3].upper()
            rows = []
            for n in range(1, products + 1):
                created_on, updated_on = _times(rng, now)
                rows.append(Product(
                    account=account, sku=f"{prefix}-{n:05d}",
                    name=f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VARIANTS)}".strip(),
                    brand=rng.choice(BRANDS), price=Decimal(rng.randrange(500, 250000)) / 100,
                    stock=rng.randrange(0, 400), status=rng.choice(PRODUCT_STATUSES),
                    created_on=created_on, updated_on=updated_on,
                ))
            Product.objects.bulk_create(rows, batch_size=BATCH_SIZE)
            created["products"] = len(rows)
        if contacts and not Contact.objects.filter(account=account).exists():
            rows = []
            for n in range(1, contacts + 1):
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                created_on, updated_on = _times(rng, now)
                rows.append(Contact(
                    account=account, first_name=first, last_name=last,
                    email=f"{first.lower()}.{last.lower().replace('ü', 'u')}{n}@example.com",
                    company=rng.choice(COMPANIES), is_supplier=rng.random() < 0.1,
                    created_on=created_on, updated_on=updated_on,
                ))
            Contact.objects.bulk_create(rows, batch_size=BATCH_SIZE)
            created["contacts"] = len(rows)
        if orders and not Order.objects.filter(account=account).exists():
            contact_ids = list(Contact.objects.filter(account=account).values_list("id", flat=True))
            rows = []
            for n in range(1, orders + 1):
                placed_on, updated_on = _times(rng, now)
                rows.append(Order(
                    account=account, contact_id=rng.choice(contact_ids) if contact_ids else None,
                    reference=f"SO-{n:06d}", status=rng.choice(ORDER_STATUSES),
                    total=Decimal(rng.randrange(1000, 900000)) / 100, currency=rng.choice(CURRENCIES),
                    placed_on=placed_on, created_on=placed_on, updated_on=updated_on,
                ))
            Order.objects.bulk_create(rows, batch_size=BATCH_SIZE)
            created["orders"] = len(rows)
    return created


class Command(BaseCommand):
    help = "Create products, contacts and orders for platform accounts (skips what already has rows)."

    def add_arguments(self, parser):
        parser.add_argument("account_codes", nargs="+", metavar="account_code")
        parser.add_argument("--products", type=int, default=2000)
        parser.add_argument("--contacts", type=int, default=1500)
        parser.add_argument("--orders", type=int, default=2500)

    def handle(self, *args, account_codes, products, contacts, orders, **options):
        if min(products, contacts, orders) < 0:
            raise CommandError("Counts cannot be negative.")
        accounts = {account.code: account for account in Account.objects.filter(code__in=account_codes)}
        missing = sorted(set(account_codes) - set(accounts))
        if missing:
            raise CommandError(f"No such account: {', '.join(missing)}")
        for code in account_codes:
            made = seed_account(accounts[code], products=products, contacts=contacts, orders=orders)
            summary = ", ".join(f"{count} {name}" for name, count in made.items() if count)
            summary = summary or "nothing (already seeded)"
            self.stdout.write(f"{code}: created {summary}")
