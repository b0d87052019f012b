"""Reference data of the platform API: the fixed lookup lists Brightpearl has in every account (order
types, stock, allocation, shipping and payment statuses) and the starting set of an account's own lists
(warehouses, channels, brands, categories, order statuses, tax codes, price lists).

:func:`ensure_reference_data` gives an account its starting lists where they are missing. It takes the
model classes as arguments so that a migration can call it with historical models."""

# Order types: id → (code, name). Fixed in Brightpearl.
ORDER_TYPES = {1: ("SO", "SALES_ORDER"), 2: ("PO", "PURCHASE_ORDER"), 3: ("SC", "SALES_CREDIT"),
               4: ("PC", "PURCHASE_CREDIT")}
ORDER_TYPE_IDS = {code: type_id for type_id, (code, _) in ORDER_TYPES.items()}

# Stock, allocation and shipping statuses: id → (code, description).
STOCK_STATUSES = {1: ("SON", "Not fulfilled"), 2: ("SOP", "Partially fulfilled"), 3: ("SOA", "All fulfilled"),
                  4: ("PON", "Not received"), 5: ("POP", "Partially received"), 6: ("POA", "All received"),
                  7: ("NON", "Not applicable"), 13: ("UNS", "Unset")}
ALLOCATION_STATUSES = {1: ("ANA", "None allocated"), 2: ("APA", "Partially allocated"), 3: ("AAA", "All allocated"),
                       4: ("ANR", "Allocation not required")}
SHIPPING_STATUSES = {1: ("NST", "No stock items"), 2: ("SNS", "None shipped"), 3: ("SPS", "Partially shipped"),
                     4: ("ASS", "All shipped")}
PAYMENT_STATUSES = {1: "UNPAID", 2: "PARTIALLY_PAID", 3: "PAID", 4: "NOT_APPLICABLE"}


def code_id(table: dict, code: str) -> int | None:
    """The id of a status code in one of the tables above."""
    return next((key for key, value in table.items() if value[0] == code), None)


def payment_status_id(name: str) -> int | None:
    return next((key for key, value in PAYMENT_STATUSES.items() if value == name), None)


# An account's own lists: kind → [(ref_id, name, code, document)].
ORDER_STATUSES = [
    (1, "Draft / Quote", "SO", "#9e9e9e"), (2, "New web order", "SO", "#2196f3"),
    (3, "New phone order", "SO", "#03a9f4"),
    (4, "Invoiced", "SO", "#4caf50"), (5, "Cancelled", "SO", "#f44336"), (6, "Dispatched", "SO", "#8bc34a"),
    (7, "Pending PO", "PO", "#ff9800"), (8, "Placed with supplier", "PO", "#ffc107"), (9, "Received", "PO", "#4caf50"),
    (10, "Credit pending", "SC", "#ff5722"), (11, "Credit complete", "SC", "#4caf50"),
    (12, "Purchase credit", "PC", "#795548"),
]
# The order statuses of the portal before Brightpearl shapes (NEW, PAID, ...) and where they went.
LEGACY_ORDER_STATUS_IDS = {"NEW": 2, "PAID": 4, "SHIPPED": 6, "CANCELLED": 5}

LOOKUPS = {
    "warehouse": [
        (1, "Main warehouse", "MAIN", {"typeDescription": "Warehouse", "addressId": 1}),
        (2, "Overflow store", "OVER", {"typeDescription": "Store", "addressId": 2}),
    ],
    "channel": [
        (1, "Web shop", "WEB", {"channelTypeId": 1}),
        (2, "Marketplace", "MKT", {"channelTypeId": 2}),
        (3, "Showroom", "SHOW", {"channelTypeId": 3}),
    ],
    "brand": [
        (1, "Northwind", "", {}),
        (2, "Harbour & Co", "", {}),
        (3, "Atelier Nine", "", {}),
        (4, "Greystone", "", {}),
        (5, "Lumen", "", {}),
        (6, "Fieldhouse", "", {}),
        (7, "Kestrel", "", {}),
        (8, "No brand", "", {}),
    ],
    "category": [
        (1, "Furniture", "", {"parentId": 0}),
        (2, "Seating", "", {"parentId": 1}),
        (3, "Tables", "", {"parentId": 1}),
        (4, "Lighting", "", {"parentId": 0}),
        (5, "Storage", "", {"parentId": 1}),
        (6, "Decor", "", {"parentId": 0}),
    ],
    "product_type": [(1, "Stock product", "", {}), (2, "Service", "", {})],
    "tax_code": [
        (1, "Standard rate", "T", {"rate": 20.0}),
        (2, "Zero rated", "Z", {"rate": 0.0}),
        (3, "Exempt", "E", {}),
    ],
    "shipping_method": [(1, "Standard delivery", "STD", {}), (2, "Express delivery", "EXP", {})],
    "order_status": [
        (ref, name, "", {"orderTypeCode": type_code, "color": color, "sortOrder": ref})
        for ref, name, type_code, color in ORDER_STATUSES
    ],
    # Contacts: groups, tags, lead sources and companies.
    "contact_group": [
        (1, "Trade customers", "", {"description": "Businesses buying at trade prices"}),
        (2, "Retail customers", "", {"description": "Consumers"}),
        (3, "Key suppliers", "", {"description": "Suppliers with framework agreements"}),
    ],
    "tag": [
        (1, "VIP", "", {"tagParentId": 0, "tagColor": "#f44336"}),
        (2, "Wholesale", "", {"tagParentId": 0, "tagColor": "#2196f3"}),
        (3, "Late payer", "", {"tagParentId": 0, "tagColor": "#ff9800"}),
        (4, "Newsletter", "", {"tagParentId": 0, "tagColor": "#4caf50"}),
    ],
    "lead_source": [
        (1, "Website", "", {"parentId": 0, "isActive": True}),
        (2, "Trade show", "", {"parentId": 0, "isActive": True}),
        (3, "Referral", "", {"parentId": 0, "isActive": True}),
        (4, "Marketplace", "", {"parentId": 0, "isActive": True}),
    ],
    "company": [
        (ref, name, "", {})
        for ref, name in enumerate(
            [
                "Acme Retail",
                "Blue Door Interiors",
                "Cobalt Hotels",
                "Drift Studios",
                "Elm Street Homes",
                "Foxglove Design",
                "Granite Offices",
                "Hollow Oak Cafés",
            ],
            start=1,
        )
    ],
    # Accounting.
    "currency": [
        (1, "British Pound", "GBP", {"symbol": "£", "exchangeRate": "1.000000", "isDefault": True}),
        (2, "Euro", "EUR", {"symbol": "€", "exchangeRate": "1.170000", "isDefault": False}),
        (3, "US Dollar", "USD", {"symbol": "$", "exchangeRate": "1.270000", "isDefault": False}),
    ],
    "nominal_code": [
        (1, "Stock", "1000", {"type": "ASSET", "bank": False, "expense": False}),
        (2, "Trade debtors", "1100", {"type": "ASSET", "bank": False, "expense": False}),
        (3, "Current account", "1200", {"type": "ASSET", "bank": True, "expense": False}),
        (4, "Card receipts", "1210", {"type": "ASSET", "bank": True, "expense": False}),
        (5, "Trade creditors", "2100", {"type": "LIABILITY", "bank": False, "expense": False}),
        (6, "Sales", "4000", {"type": "INCOME", "bank": False, "expense": False}),
        (7, "Delivery income", "4040", {"type": "INCOME", "bank": False, "expense": False}),
        (8, "Cost of sales", "5000", {"type": "EXPENSE", "bank": False, "expense": True}),
        (9, "Exchange rate variance", "4906", {"type": "INCOME", "bank": False, "expense": False}),
    ],
    "payment_method": [
        (1, "Bank transfer", "BANK", {"bankAccountNominalCode": "1200", "isActive": True}),
        (2, "Card", "CARD", {"bankAccountNominalCode": "1210", "isActive": True}),
        (3, "PayPal", "PAYPAL", {"bankAccountNominalCode": "1210", "isActive": True}),
        (4, "Cash", "CASH", {"bankAccountNominalCode": "1200", "isActive": True}),
    ],
    "accounting_period": [
        (ref, f"{year}", "", {"startDate": f"{year}-01-01", "endDate": f"{year}-12-31", "closed": year < 2025})
        for ref, year in enumerate(range(2023, 2028), start=1)
    ],
    # Products: options and their values, seasons, collections, channel brands.
    "option": [(1, "Colour", "", {}), (2, "Size", "", {}), (3, "Finish", "", {})],
    "option_value": [
        (1, "Natural", "", {"optionId": 1, "sortOrder": 1}),
        (2, "Black", "", {"optionId": 1, "sortOrder": 2}),
        (3, "White", "", {"optionId": 1, "sortOrder": 3}),
        (4, "Small", "", {"optionId": 2, "sortOrder": 1}),
        (5, "Medium", "", {"optionId": 2, "sortOrder": 2}),
        (6, "Large", "", {"optionId": 2, "sortOrder": 3}),
        (7, "Matt", "", {"optionId": 3, "sortOrder": 1}),
        (8, "Gloss", "", {"optionId": 3, "sortOrder": 2}),
    ],
    "season": [
        (1, "Spring/Summer", "SS", {"description": "Spring and summer range"}),
        (2, "Autumn/Winter", "AW", {"description": "Autumn and winter range"}),
        (3, "All year", "AY", {"description": "Sold all year round"}),
    ],
    "collection": [
        (1, "Heritage", "", {"description": "Classic shapes in solid wood"}),
        (2, "Studio", "", {"description": "Compact pieces for small spaces"}),
        (3, "Outdoor", "", {"description": "Weatherproof garden furniture"}),
    ],
    "channel_brand": [(1, "Northwind Home", "", {}), (2, "Harbour Trade", "", {})],
    # Warehouse locations and zones: (warehouse id in document).
    "location": [
        (
            ref,
            f"{aisle}-{bay:02d}",
            "",
            {
                "warehouseId": warehouse,
                "groupingA": aisle,
                "groupingB": f"{bay:02d}",
                "groupingC": "",
                "groupingD": "",
                "zoneId": 1 if aisle == "A" else 2,
            },
        )
        for ref, (warehouse, aisle, bay) in enumerate(
            [(1, "A", 1), (1, "A", 2), (1, "B", 1), (1, "B", 2), (2, "A", 1), (2, "A", 2)], start=1
        )
    ],
    "zone": [(1, "Pick face", "", {"warehouseId": 1}), (2, "Bulk store", "", {"warehouseId": 1})],
    # Custom field definitions (document: scope product|sale|purchase|customer|supplier, type, options).
    "custom_field": [
        (1, "Care instructions", "PCF_CARE", {"scope": "product", "customFieldType": "TEXT"}),
        (2, "Assembly required", "PCF_ASSEMBLY", {"scope": "product", "customFieldType": "BOOLEAN"}),
        (
            3,
            "Material",
            "PCF_MATERIAL",
            {
                "scope": "product",
                "customFieldType": "SELECT",
                "options": {"160": "Oak", "161": "Walnut", "162": "Steel"},
            },
        ),
        (4, "Gift message", "PCF_GIFTMSG", {"scope": "sale", "customFieldType": "TEXT_AREA"}),
        (
            5,
            "Delivery slot",
            "PCF_SLOT",
            {
                "scope": "sale",
                "customFieldType": "SELECT",
                "options": {"137": "Morning", "138": "Afternoon", "139": "Evening"},
            },
        ),
        (6, "Marketplace order no.", "PCF_MKTREF", {"scope": "sale", "customFieldType": "TEXT"}),
        (7, "Supplier confirmation date", "PCF_CONFDATE", {"scope": "purchase", "customFieldType": "DATE"}),
        (8, "Customer code", "PCF_CODAE", {"scope": "customer", "customFieldType": "INTEGER"}),
        (9, "Account manager", "PCF_ACCMGR", {"scope": "customer", "customFieldType": "TEXT"}),
        (10, "Lead time (days)", "PCF_LEADTIME", {"scope": "supplier", "customFieldType": "INTEGER"}),
    ],
}
NO_BRAND_ID = 8
DEFAULT_WAREHOUSE_ID = 1

# code → (name, currency, currency id, BUY|SELL)
PRICE_LISTS = [
    ("COST", "Cost price", "GBP", 1, "BUY"),
    ("RETAIL", "Retail", "GBP", 1, "SELL"),
    ("TRADE", "Trade", "GBP", 1, "SELL"),
    ("EUR", "Retail EUR", "EUR", 2, "SELL"),
]
RETAIL_PRICE_LIST = "RETAIL"


def ensure_reference_data(account_id: int, *, lookup_model, price_list_model) -> None:
    """Create the account's starting lookup entries and price lists where missing (idempotent)."""
    have = set(lookup_model.objects.filter(account_id=account_id).values_list("kind", "ref_id"))
    lookup_model.objects.bulk_create(
        [
            lookup_model(account_id=account_id, kind=kind, ref_id=ref, name=name, code=code, document=document)
            for kind, entries in LOOKUPS.items()
            for ref, name, code, document in entries
            if (kind, ref) not in have
        ]
    )
    codes = set(price_list_model.objects.filter(account_id=account_id).values_list("code", flat=True))
    price_list_model.objects.bulk_create(
        [
            price_list_model(
                account_id=account_id,
                code=code,
                name=name,
                currency_code=currency,
                currency_id=currency_id,
                price_list_type=kind,
            )
            for code, name, currency, currency_id, kind in PRICE_LISTS
            if code not in codes
        ]
    )
