"""Seed the platform API data of accounts in Brightpearl's shapes.

    python manage.py seed_api_data outerheaven topfurniture [--products 2000 --contacts 1500 --orders 2500]

Each account gets its lookup lists (warehouses and their locations, sales channels, brands, categories, order
statuses, tax codes, shipping methods, contact groups, tags, lead sources, currencies, nominal codes, payment
methods, accounting periods, options, seasons, collections, custom-field definitions) and price lists, then
products (identity, several sales channels with names and descriptions, categories, prices in every price list,
stock in two warehouses, custom fields, primary suppliers), contacts (emails, telephones, postal addresses, tags,
custom fields) and orders (customer, delivery and billing parties, order rows, totals, statuses, currencies,
custom fields; goods-out notes for shipped orders, customer payments for paid ones, notes on some), and a few
purchase orders received through goods-in notes.

Idempotent: a resource that already has rows in an account is left alone. Deterministic: the same
account always gets the same records. Fast: bulk inserts in one transaction per account. Creation and
update times are spread over the last half year so that ``updatedOn`` searches and sync checkpoints have
something to work on.
"""

import contextlib
import random
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from integrations import api_defaults as defaults
from integrations.models import (
    ApiLookup,
    Contact,
    CustomerPayment,
    GoodsOutNote,
    Order,
    OrderNote,
    OrderRow,
    PostalAddress,
    PriceList,
    Product,
    ProductPrice,
    ProductStock,
)

BATCH_SIZE = 500
HISTORY_DAYS = 180

ADJECTIVES = ["Oak", "Walnut", "Ash", "Pine", "Velvet", "Linen", "Steel", "Brass", "Marble", "Rattan", "Cedar",
              "Copper", "Slate", "Teak", "Wool", "Leather", "Glass", "Bamboo", "Birch", "Cherry"]
NOUNS = ["Chair", "Table", "Lamp", "Shelf", "Sofa", "Stool", "Desk", "Bench", "Cabinet", "Mirror", "Rug",
         "Bed Frame", "Wardrobe", "Sideboard", "Ottoman", "Bookcase", "Armchair", "Console", "Dresser", "Clock"]
VARIANTS = ["", "", "Mk II", "XL", "Mini"]
FIRST_NAMES = ["Olive", "Dana", "Riley", "Sam", "Alex", "Jordan", "Morgan", "Casey", "Jamie", "Taylor", "Robin",
               "Avery", "Quinn", "Harper", "Rowan", "Emery", "Ellis", "Sasha", "Noor", "Kai"]
LAST_NAMES = ["Smith", "Jones", "Patel", "Nguyen", "Garcia", "Müller", "Okafor", "Kowalski", "Rossi", "Dubois",
              "Tanaka", "Andersen", "Silva", "Murphy", "Cohen", "Khan", "Novak", "Larsen", "Fischer", "Byrne"]
COMPANIES = ["", "", "Acme Retail", "Blue Door Interiors", "Cobalt Hotels", "Drift Studios", "Elm Street Homes",
             "Foxglove Design", "Granite Offices", "Hollow Oak Cafés"]
PRODUCT_STATUSES = ["LIVE"] * 8 + ["DISCONTINUED", "ARCHIVED"]
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


STREETS = ["High Street", "Station Road", "Mill Lane", "Church Road", "Park Avenue", "Harbour Way", "Kings Road"]
TOWNS = [("Bristol", "GB", "BS1 4DJ"), ("Leeds", "GB", "LS1 5AB"), ("Dublin", "IE", "D02 X285"),
         ("Lyon", "FR", "69002"), ("Austin", "US", "78701"), ("Glasgow", "GB", "G1 2FF")]
# order status id → (stock, allocation, shipping, payment) codes of a sales order in that status
SALES_ORDER_STATES = {2: ("SON", "ANA", "SNS", "UNPAID"), 3: ("SON", "APA", "SNS", "UNPAID"),
                      4: ("SOA", "AAA", "SNS", "PAID"), 6: ("SOA", "AAA", "ASS", "PAID"),
                      5: ("NON", "ANR", "NST", "NOT_APPLICABLE")}
ORDER_STATUS_CHOICES = [2, 3, 4, 4, 6, 6, 6, 5]
TAX_RATE = Decimal("0.20")


def _product(account, rng: random.Random, n: int, prefix: str, now) -> Product:
    created_on, updated_on = _times(rng, now)
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VARIANTS)}".strip()
    categories = rng.sample(range(1, 7), rng.choice([1, 1, 2]))
    description = {"languageCode": "en", "format": "HTML_FRAGMENT",
                   "text": f"<p>The {name}, made to last. Ships in 3–5 working days.</p>"}
    short = {"languageCode": "en", "format": "HTML_FRAGMENT", "text": f"<p>{name}</p>"}
    channels = [{"salesChannelName": "Brightpearl", "productName": name, "description": description,
                 "shortDescription": short}]
    for channel_name in rng.sample(["Web shop", "Marketplace", "Showroom"], rng.randrange(0, 3)):
        channels.append({"salesChannelName": channel_name, "productName": f"{name} | {channel_name}",
                         "categoryIds": categories[:1], "description": description, "shortDescription": short})
    return Product(
        account=account, sku=f"{prefix}-{n:05d}", name=name, barcode=f"50{rng.randrange(10**10, 10**11)}",
        ean=f"50{rng.randrange(10**10, 10**11)}" if rng.random() < 0.5 else "", mpn=f"MPN-{n:05d}",
        stock_tracked=rng.random() < 0.95, brand_id=rng.randrange(1, 9), product_type_id=1,
        category_ids=categories, primary_category_id=categories[0], status=rng.choice(PRODUCT_STATUSES),
        document={"featured": rng.random() < 0.1, "weight": round(rng.uniform(0.2, 40), 2),
                  "dimensions": {"length": rng.randrange(10, 200), "height": rng.randrange(10, 200),
                                 "width": rng.randrange(10, 200), "volume": 0},
                  "taxable": True, "taxCodeId": 1, "salesChannels": channels,
                  "customFields": _product_custom_fields(rng),
                  "warehouses": {"1": {"defaultLocationId": 1, "overflowLocationId": 2, "reorderLevel": 5,
                                       "reorderQuantity": 20}}},
        created_on=created_on, updated_on=updated_on,
    )


MATERIALS = {"160": "Oak", "161": "Walnut", "162": "Steel"}
DELIVERY_SLOTS = {"137": "Morning", "138": "Afternoon", "139": "Evening"}


def _product_custom_fields(rng: random.Random) -> dict:
    """Values of the product custom fields defined in api_defaults (some products have none)."""
    if rng.random() < 0.3:
        return {}
    material = rng.choice(list(MATERIALS))
    return {"PCF_CARE": rng.choice(["Wipe with a damp cloth", "Oil twice a year", "Dust only"]),
            "PCF_ASSEMBLY": rng.random() < 0.5, "PCF_MATERIAL": {"id": int(material), "value": MATERIALS[material]}}


def _address(account, rng: random.Random, contact=None, roles: str = "") -> PostalAddress:
    town, country, postcode = rng.choice(TOWNS)
    return PostalAddress(account=account, contact=contact, roles=roles,
                         address_line1=f"{rng.randrange(1, 200)} {rng.choice(STREETS)}", address_line3=town,
                         postal_code=postcode, country_iso_code={"GB": "GBR", "IE": "IRL", "FR": "FRA",
                                                                 "US": "USA"}[country])


def _party(contact: Contact, address: PostalAddress) -> dict:
    return {"addressFullName": f"{contact.first_name} {contact.last_name}", "companyName": contact.company,
            "addressLine1": address.address_line1, "addressLine3": address.address_line3,
            "postalCode": address.postal_code, "telephone": contact.telephone, "email": contact.email,
            "countryIsoCode": address.country_iso_code}


def _seed_products(account, rng, count: int, now) -> int:
    prefix = account.code[:3].upper()
    rows = Product.objects.bulk_create([_product(account, rng, n, prefix, now) for n in range(1, count + 1)],
                                       batch_size=BATCH_SIZE)
    lists = list(PriceList.objects.filter(account=account).order_by("id"))
    prices, stock = [], []
    for product in rows:
        retail = Decimal(rng.randrange(500, 250000)) / 100
        for price_list in lists:
            factor = {"COST": Decimal("0.45"), "TRADE": Decimal("0.8"), "EUR": Decimal("1.17")}.get(price_list.code, 1)
            breaks = {"1": retail * factor}
            if price_list.code == "TRADE":
                breaks["10"] = retail * factor * Decimal("0.9")
            prices.append(ProductPrice(product=product, price_list=price_list, quantity_prices={
                quantity: str(value.quantize(Decimal("0.0001"))) for quantity, value in breaks.items()}))
        if product.stock_tracked:
            for warehouse_id in (1, 2) if rng.random() < 0.6 else (1,):
                on_hand = rng.randrange(0, 400)
                stock.append(ProductStock(product=product, warehouse_id=warehouse_id, on_hand=on_hand,
                                          allocated=min(on_hand, rng.randrange(0, 10)),
                                          in_transit=rng.choice([0, 0, 0, 12, 24])))
    ProductPrice.objects.bulk_create(prices, batch_size=BATCH_SIZE)
    ProductStock.objects.bulk_create(stock, batch_size=BATCH_SIZE)
    return len(rows)


def _seed_contacts(account, rng, count: int, now) -> int:
    rows = []
    for n in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created_on, updated_on = _times(rng, now)
        supplier = rng.random() < 0.1
        rows.append(Contact(
            account=account, salutation=rng.choice(["", "Mr", "Ms", "Dr"]), first_name=first, last_name=last,
            email=f"{first.lower()}.{last.lower().replace('ü', 'u')}{n}@example.com",
            telephone=f"+44 117 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
            mobile=f"+44 7{rng.randrange(100, 999)} {rng.randrange(100000, 999999)}" if rng.random() < 0.5 else "",
            company=rng.choice(COMPANIES), is_supplier=supplier, is_customer=not supplier,
            nominal_code=4000 if not supplier else 5000,
            document={"financialDetails": {"priceListId": 0, "creditLimit": 0, "creditTermDays": 30},
                      "isReceiveEmailNewsletter": rng.random() < 0.3,
                      "contactTags": ",".join(str(tag) for tag in sorted(rng.sample(range(1, 5), rng.randrange(0, 3)))),
                      "assignment": {"staffOwnerContactId": 4, "leadSourceId": rng.randrange(1, 5),
                                     "contactGroupId": 3 if supplier else rng.choice([1, 2])},
                      "customFields": ({"PCF_LEADTIME": rng.randrange(2, 30)} if supplier else
                                       {"PCF_CODAE": 1000000 + n, "PCF_ACCMGR": rng.choice(["Dana", "Riley", "Sam"])})},
            created_on=created_on, updated_on=updated_on,
        ))
    rows = Contact.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    PostalAddress.objects.bulk_create([_address(account, rng, contact, "BIL,DEF,DEL") for contact in rows],
                                      batch_size=BATCH_SIZE)
    # Products get primary suppliers (a few updates, one per supplier).
    suppliers = [contact.pk for contact in rows if contact.is_supplier][:5]
    product_ids = list(Product.objects.filter(account=account, primary_supplier_id__isnull=True)
                       .values_list("id", flat=True))
    for index, supplier_id in enumerate(suppliers):
        Product.objects.filter(pk__in=product_ids[index::len(suppliers)]).update(primary_supplier_id=supplier_id)
    return len(rows)


def _order_custom_fields(rng: random.Random, n: int) -> dict:
    if rng.random() < 0.5:
        return {}
    slot = rng.choice(list(DELIVERY_SLOTS))
    values = {"PCF_SLOT": {"id": int(slot), "value": DELIVERY_SLOTS[slot]}}
    if rng.random() < 0.4:
        values["PCF_MKTREF"] = f"MKT-{700000 + n}"
    return values


def _seed_payments_and_notes(account, rng, orders: list, now) -> None:
    """Customer payments for paid orders, notes on some orders."""
    methods = ["CARD", "CARD", "PAYPAL", "BANK"]
    payments, notes = [], []
    for order in orders:
        if order.payment_status == "PAID":
            payments.append(CustomerPayment(
                account=account, transaction_ref=f"TXN-{order.pk:08d}", transaction_code=f"{rng.randrange(10**8):08d}",
                payment_method_code=rng.choice(methods), payment_type="RECEIPT", order_id=order.pk,
                currency_code=order.currency, currency_id={"GBP": 1, "EUR": 2, "USD": 3}.get(order.currency, 1),
                amount_paid=order.total, payment_date=order.placed_on + timedelta(hours=1),
                journal_ref=f"Payment for order #{order.pk}", created_on=order.placed_on + timedelta(hours=1)))
        if rng.random() < 0.25:
            notes.append(OrderNote(account=account, order=order, is_public=rng.random() < 0.3,
                                   text=rng.choice(["Customer asked for a call before delivery.",
                                                    "Leave with neighbour if out.", "Gift wrap requested.",
                                                    "Checked stock by phone."]),
                                   added_on=order.placed_on + timedelta(hours=2)))
    CustomerPayment.objects.bulk_create(payments, batch_size=BATCH_SIZE)
    OrderNote.objects.bulk_create(notes, batch_size=BATCH_SIZE)


def _seed_purchases(account, rng, count: int, now) -> int:
    """``count`` purchase orders from suppliers, each received in full: goods-in notes and the goods movements
    they made. Returns how many were made."""
    suppliers = list(Contact.objects.filter(account=account, is_supplier=True)[:count])
    products = list(Product.objects.filter(account=account, stock_tracked=True).values_list("id", "name", "sku")[:6])
    if not suppliers or not products:
        return 0
    entries, movement_id = [], 0
    for n, supplier in enumerate(suppliers, start=1):
        placed_on = now - timedelta(days=30 * n)
        items = products[(n - 1) * 2:(n - 1) * 2 + 2] or products[:1]
        net = Decimal(0)
        order = Order.objects.create(
            account=account, contact=supplier, order_type_code="PO", reference=f"PO-{n:05d}", order_status_id=9,
            stock_status_code="POA", allocation_status_code="ANR", shipping_status_code="NST",
            payment_status="NOT_APPLICABLE", placed_on=placed_on, tax_date=placed_on, warehouse_id=1,
            document={"parties": {"customer": {"addressFullName": f"{supplier.first_name} {supplier.last_name}",
                                               "companyName": supplier.company}}},
            created_on=placed_on, updated_on=placed_on + timedelta(days=5))
        for index, (product_id, name, sku) in enumerate(items, start=1):
            cost = Decimal(rng.randrange(1000, 20000)) / 100
            OrderRow.objects.create(order=order, sequence=index * 10, product_id=product_id, product_name=name,
                                    product_sku=sku, quantity=20, unit_price=cost, item_cost=cost, tax_rate=20,
                                    net=cost * 20, tax=(cost * 20 * TAX_RATE).quantize(Decimal("0.01")),
                                    nominal_code="5000")
            net += cost * 20
            movement_id += 1
            entries.append(ApiLookup(account=account, kind=ApiLookup.Kind.GOODS_MOVEMENT, ref_id=movement_id,
                                     name=f"GIN-{n:05d}", document={
                                         "productId": product_id, "quantity": 20, "warehouseId": 1, "locationId": 1,
                                         "goodsNoteId": n, "goodsNoteTypeCode": "GI",
                                         "createdOn": (placed_on + timedelta(days=5)).isoformat(
                                             timespec="milliseconds")}))
        order.net, order.tax = net, (net * TAX_RATE).quantize(Decimal("0.01"))
        order.total = order.net + order.tax
        order.save(update_fields=["net", "tax", "total"])
        entries.append(
            ApiLookup(
                account=account,
                kind=ApiLookup.Kind.GOODS_IN_NOTE,
                ref_id=n,
                name=f"GIN-{n:05d}",
                document={
                    "purchaseOrderId": order.pk,
                    "warehouseId": 1,
                    "receivedById": 4,
                    "receivedOn": (placed_on + timedelta(days=5)).isoformat(timespec="milliseconds"),
                    "transfer": False,
                },
            )
        )
    ApiLookup.objects.bulk_create(entries)
    return len(suppliers)


def _seed_orders(account, rng, count: int, now) -> int:
    """``count`` orders: a few purchase orders (received through goods-in notes), the rest sales orders."""
    purchases = min(3, count // 10)
    if purchases and Contact.objects.filter(account=account, is_supplier=True).exists():
        count -= purchases
    else:
        purchases = 0
    contacts = list(Contact.objects.filter(account=account, is_customer=True))
    addresses = {address.contact_id: address for address in PostalAddress.objects.filter(account=account)}
    products = list(Product.objects.filter(account=account).values_list("id", "name", "sku")[:500])
    lists = {
        price_list.currency_code: price_list.pk
        for price_list in PriceList.objects.filter(account=account, price_list_type="SELL").order_by("-id")
    }
    orders, lines = [], []
    for n in range(1, count + 1):
        placed_on, updated_on = _times(rng, now)
        contact = rng.choice(contacts) if contacts else None
        status_id = rng.choice(ORDER_STATUS_CHOICES)
        stock_code, allocation_code, shipping_code, payment = SALES_ORDER_STATES[status_id]
        currency = rng.choice(CURRENCIES)
        parties = {}
        if contact is not None:
            address = addresses.get(contact.pk) or _address(account, rng)
            parties = {
                "customer": _party(contact, address),
                "billing": _party(contact, address),
                "delivery": _party(contact, address),
            }
        items = [
            (
                rng.choice(products) if products else (None, "Delivery charge", ""),
                rng.randrange(1, 5),
                Decimal(rng.randrange(500, 90000)) / 100,
            )
            for _ in range(rng.randrange(1, 4))
        ]
        net = sum(quantity * price for _, quantity, price in items)
        tax = (net * TAX_RATE).quantize(Decimal("0.01"))
        orders.append(
            Order(
                account=account,
                contact=contact,
                order_type_code="SO",
                reference=f"SO-{n:06d}",
                external_ref=f"WEB-{100000 + n}" if rng.random() < 0.6 else "",
                order_status_id=status_id,
                stock_status_code=stock_code,
                allocation_status_code=allocation_code,
                shipping_status_code=shipping_code,
                payment_status=payment,
                currency=currency,
                net=net,
                tax=tax,
                total=net + tax,
                price_list_id=lists.get(currency) or lists.get("GBP"),
                warehouse_id=rng.choice([1, 1, 2]),
                channel_id=rng.randrange(1, 4),
                staff_owner_id=4,
                placed_on=placed_on,
                tax_date=placed_on,
                delivery_date=placed_on + timedelta(days=rng.randrange(2, 8)),
                document={
                    "parties": parties,
                    "shippingMethodId": rng.choice([1, 2]),
                    "priceModeCode": "EXC",
                    "invoiceReference": f"INV-{n:06d}" if payment == "PAID" else "",
                    "customFields": _order_custom_fields(rng, n),
                },
                created_on=placed_on,
                updated_on=updated_on,
            )
        )
        lines.append(items)
    orders = Order.objects.bulk_create(orders, batch_size=BATCH_SIZE)
    rows = []
    for order, items in zip(orders, lines):
        for index, ((product_id, name, sku), quantity, price) in enumerate(items, start=1):
            row_net = quantity * price
            rows.append(
                OrderRow(
                    order=order,
                    sequence=index * 10,
                    product_id=product_id,
                    product_name=name,
                    product_sku=sku,
                    quantity=quantity,
                    unit_price=price,
                    item_cost=price * Decimal("0.45"),
                    tax_rate=Decimal("20"),
                    tax_code="T",
                    net=row_net,
                    tax=(row_net * TAX_RATE).quantize(Decimal("0.01")),
                )
            )
    rows = OrderRow.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    by_order: dict[int, list[OrderRow]] = {}
    for row in rows:
        by_order.setdefault(row.order_id, []).append(row)
    notes = []
    for order in orders:
        if order.shipping_status_code != "ASS":
            continue
        shipped_on = (order.placed_on + timedelta(days=1)).isoformat(timespec="milliseconds")
        notes.append(
            GoodsOutNote(
                account=account,
                order=order,
                warehouse_id=order.warehouse_id,
                shipped=True,
                document={
                    "status": {
                        "picked": True,
                        "packed": True,
                        "printed": True,
                        "shippedOn": shipped_on,
                        "pickedOn": shipped_on,
                        "packedOn": shipped_on,
                        "printedOn": shipped_on,
                    },
                    "shippingMethodId": order.document["shippingMethodId"],
                    "shippingReference": f"TRK{order.pk:08d}",
                    "orderRows": {
                        str(row.pk): [
                            {"productId": row.product_id or 0, "quantity": int(row.quantity), "locationId": 1}
                        ]
                        for row in by_order.get(order.pk, [])
                    },
                    "events": [
                        {"occured": shipped_on, "eventOwnerId": 4, "eventCode": code}
                        for code in ("PRI", "PIC", "PAC", "SHW")
                    ],
                },
                created_on=order.placed_on,
                updated_on=order.updated_on,
            )
        )
    GoodsOutNote.objects.bulk_create(notes, batch_size=BATCH_SIZE)
    _seed_payments_and_notes(account, rng, orders, now)
    return len(orders) + (_seed_purchases(account, rng, purchases, now) if purchases else 0)


def seed_account(account: Account, *, products: int, contacts: int, orders: int) -> dict[str, int]:
    """Give the account its lookup lists and price lists, and create its products, contacts and orders
    unless it has some already; returns how many of each were created (0 when skipped)."""
    rng = random.Random(f"seed-api-data:{account.code}")
    now = timezone.now()
    created = {"products": 0, "contacts": 0, "orders": 0}
    with transaction.atomic(), dates_as_given(Product, Contact, Order, GoodsOutNote, CustomerPayment):
        defaults.ensure_reference_data(account.pk, lookup_model=ApiLookup, price_list_model=PriceList)
        if products and not Product.objects.filter(account=account).exists():
            created["products"] = _seed_products(account, rng, products, now)
        if contacts and not Contact.objects.filter(account=account).exists():
            created["contacts"] = _seed_contacts(account, rng, contacts, now)
        if orders and not Order.objects.filter(account=account).exists():
            created["orders"] = _seed_orders(account, rng, orders, now)
    return created


class Command(BaseCommand):
    help = "Create lookup lists, products, contacts and orders for platform accounts (skips what already has rows)."

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
