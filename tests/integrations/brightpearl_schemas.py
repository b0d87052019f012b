"""JSON Schemas of Brightpearl's answers, written from the reference (BRIGHTPEARL-API.md §4–§7), that the
portal's answers are checked against. Records are strict where the reference lists the keys."""

from jsonschema import Draft202012Validator

TIMESTAMP = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$"}
MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$"}
MONEY4 = {"type": "string", "pattern": r"^-?\d+\.\d{4}$"}
INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
NUM = {"type": "number"}


def obj(properties: dict, *, required=None, extra=False) -> dict:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, "additionalProperties": extra}


def array_of(items: dict, **kwargs) -> dict:
    return {"type": "array", "items": items, **kwargs}


def keyed(values: dict, key_pattern: str = r"^\d+$") -> dict:
    return {"type": "object", "patternProperties": {key_pattern: values}, "additionalProperties": False}


TEXT = obj({"languageCode": STR, "text": STR, "format": {"enum": ["HTML_FRAGMENT", "PLAINTEXT"]}})

PRODUCT = obj({
    "id": INT, "brandId": INT, "productTypeId": INT,
    "identity": obj({"sku": STR, "barcode": STR, "isbn": STR, "ean": STR, "upc": STR, "mpn": STR},
                    required=["sku", "barcode"]),
    "productGroupId": INT, "featured": BOOL,
    "stock": obj({"stockTracked": BOOL, "weight": obj({"magnitude": NUM}),
                  "dimensions": obj({"length": NUM, "height": NUM, "width": NUM, "volume": NUM})}),
    "financialDetails": obj({"taxable": BOOL, "taxCode": obj({"id": INT, "code": STR})}),
    "salesChannels": array_of(obj({"salesChannelName": STR, "productName": STR, "productCondition": STR,
                                   "categories": array_of(obj({"categoryCode": STR})),
                                   "description": TEXT, "shortDescription": TEXT}), minItems=1),
    "composition": obj({"bundle": BOOL}), "customFields": {"type": "object"},
    "createdOn": TIMESTAMP, "updatedOn": TIMESTAMP,
    "warehouses": keyed(obj({"defaultLocationId": INT, "overflowLocationId": INT, "reorderLevel": INT,
                             "reorderQuantity": INT})),
    "nominalCodeStock": STR, "nominalCodePurchases": STR, "nominalCodeSales": STR,
    "seasonIds": array_of(INT), "reporting": {"type": "object"}, "status": STR,
    "salesPopupMessage": STR, "warehousePopupMessage": STR, "version": INT,
}, required=["id", "brandId", "productTypeId", "identity", "featured", "stock", "financialDetails", "salesChannels",
             "composition", "createdOn", "updatedOn", "warehouses", "nominalCodeStock", "nominalCodePurchases",
             "nominalCodeSales", "seasonIds", "reporting", "status", "salesPopupMessage", "warehousePopupMessage",
             "version"])

_PARTY_TEXT = ["addressFullName", "companyName", "addressLine1", "addressLine2", "addressLine3", "addressLine4",
               "postalCode", "country", "telephone", "mobileTelephone", "fax", "email"]
PARTY = obj({"contactId": INT, **{key: STR for key in _PARTY_TEXT}, "countryId": INT, "countryIsoCode": STR,
             "countryIsoCode3": STR}, required=_PARTY_TEXT)
CURRENCY_VALUE = obj({"currencyCode": STR, "value": MONEY4})
ORDER_ROW = obj({
    "orderRowSequence": STR, "productId": INT, "productName": STR, "productSku": STR,
    "quantity": obj({"magnitude": MONEY4}), "itemCost": CURRENCY_VALUE, "productPrice": CURRENCY_VALUE,
    "discountPercentage": MONEY,
    "rowValue": obj({"taxRate": MONEY4, "taxCode": STR, "taxCalculator": STR,
                     "rowNet": obj({"currencyCode": STR, "value": MONEY}),
                     "rowTax": obj({"currencyCode": STR, "value": MONEY}), "taxClassId": INT}),
    "nominalCode": STR, "composition": obj({"bundleParent": BOOL, "bundleChild": BOOL, "parentOrderRowId": INT}),
    "clonedFromId": INT,
})
STATUS_CODE = {"type": "string", "pattern": "^[A-Z]{3}$"}
ORDER = obj({
    "id": INT, "parentOrderId": INT, "orderTypeCode": {"enum": ["SO", "PO", "SC", "PC"]}, "reference": STR,
    "version": INT, "state": obj({"tax": {"enum": ["READY", "INVOICED"]}}),
    "orderStatus": obj({"orderStatusId": INT, "name": STR}), "tax": obj({"errors": {"type": "array"}}),
    "orderPaymentStatus": STR, "stockStatusCode": STATUS_CODE, "allocationStatusCode": STATUS_CODE,
    "shippingStatusCode": STATUS_CODE, "placedOn": TIMESTAMP, "createdOn": TIMESTAMP, "updatedOn": TIMESTAMP,
    "closedOn": TIMESTAMP, "createdById": INT, "priceListId": INT, "priceModeCode": {"enum": ["INC", "EXC"]},
    "delivery": obj({"deliveryDate": TIMESTAMP, "shippingMethodId": INT}, required=["shippingMethodId"]),
    "invoices": array_of(obj({"invoiceReference": STR, "taxDate": TIMESTAMP, "dueDate": TIMESTAMP},
                             required=["invoiceReference"]), minItems=1),
    "currency": obj({"accountingCurrencyCode": STR, "orderCurrencyCode": STR,
                     "exchangeRate": {"type": "string", "pattern": r"^\d+\.\d{6}$"}, "fixedExchangeRate": BOOL}),
    "totalValue": obj({"net": MONEY, "taxAmount": MONEY, "baseNet": MONEY, "baseTaxAmount": MONEY,
                       "baseTotal": MONEY, "total": MONEY}),
    "assignment": obj({"current": obj({"staffOwnerContactId": INT, "projectId": INT, "channelId": INT,
                                       "leadSourceId": INT, "teamId": INT})}),
    "parties": {"type": "object", "properties": {"customer": PARTY, "supplier": PARTY, "delivery": PARTY,
                                                 "billing": PARTY},
                "required": ["delivery", "billing"], "additionalProperties": False,
                "oneOf": [{"required": ["customer"]}, {"required": ["supplier"]}]},
    "orderRows": keyed(ORDER_ROW), "warehouseId": INT, "customFields": {"type": "object"},
    "acknowledged": {"enum": [0, 1]}, "costPriceListId": INT, "historicalOrder": BOOL, "isDropship": BOOL,
    "originalInvoiceDate": TIMESTAMP, "orderWeighting": INT,
}, required=["id", "parentOrderId", "orderTypeCode", "reference", "version", "state", "orderStatus", "tax",
             "orderPaymentStatus", "stockStatusCode", "allocationStatusCode", "shippingStatusCode", "placedOn",
             "createdOn", "createdById", "priceListId", "priceModeCode", "delivery", "invoices", "currency",
             "totalValue", "assignment", "parties", "orderRows", "warehouseId", "acknowledged", "costPriceListId",
             "historicalOrder", "orderWeighting"])
ORDER_REQUIRED_PARTY_CONTACT = {"properties": {"parties": {"properties": {"billing": {"required": ["contactId"]}}}}}

CONTACT = obj({
    "contactId": INT, "isPrimaryContact": BOOL, "salutation": STR, "firstName": STR, "lastName": STR,
    "postAddressIds": obj({"DEF": INT, "BIL": INT, "DEL": INT}, required=[]),
    "communication": obj({"emails": obj({key: obj({"email": STR}) for key in ("PRI", "SEC", "TER")}, required=[]),
                          "telephones": obj({key: STR for key in ("PRI", "SEC", "MOB")}, required=[]),
                          "messagingVoips": {"type": "object"}, "websites": {"type": "object"}}),
    "contactStatus": obj({"current": obj({"contactStatusId": INT})}),
    "relationshipToAccount": obj({"isSupplier": BOOL, "isStaff": BOOL}),
    "marketingDetails": obj({"isReceiveEmailNewsletter": BOOL}),
    "financialDetails": obj({"priceListId": INT, "nominalCode": STR, "creditLimit": NUM, "creditTermDays": INT,
                             "currencyId": INT, "discountPercentage": NUM, "creditTermTypeId": INT}),
    "assignment": obj({"current": {"type": "object"}}),
    "organisation": obj({"organisationId": INT, "name": STR, "jobTitle": STR}, required=["organisationId"]),
    "tradeStatus": STR, "createdByid": INT, "createdOn": TIMESTAMP, "updatedOn": TIMESTAMP, "contactTags": STR,
    "customFields": {"type": "object"}, "aliases": {"type": "object"}, "companyId": INT,
}, required=["contactId", "isPrimaryContact", "firstName", "lastName", "postAddressIds", "communication",
             "contactStatus", "relationshipToAccount", "marketingDetails", "financialDetails", "assignment",
             "organisation", "tradeStatus", "createdByid", "createdOn", "updatedOn", "contactTags", "aliases",
             "companyId"])

CONTACT_ENVELOPE = obj({
    "response": array_of(CONTACT, minItems=1),
    "pagination": obj({"morePagesAvailable": BOOL, "resultsReturned": INT, "firstResult": INT, "lastResult": INT}),
    "sorting": array_of(obj({"field": STR, "direction": {"enum": ["ASC", "DESC"]}})),
})

SALES_ORDER = {"type": "object", "required": ["id", "customer", "customerId", "billing", "ref", "placedOn", "statusId",
                                              "currency", "delivery", "rows", "total", "createdOn"],
               "properties": {"id": INT, "customerId": INT, "statusId": INT, "rows": {"type": "array"},
                              "total": obj({key: MONEY for key in ("net", "tax", "gross", "baseNet", "baseTax",
                                                                   "baseGross")})}}

PRICE_LIST = obj({"id": INT, "name": obj({"languageCode": STR, "text": STR, "format": {"const": "PLAINTEXT"}}),
                  "code": STR, "currencyCode": STR, "currencySymbol": STR, "currencyId": INT,
                  "priceListTypeCode": {"enum": ["BUY", "SELL"]}, "gross": BOOL})
PRODUCT_PRICE = obj({"productId": INT, "priceLists": array_of(obj({
    "priceListId": INT, "currencyCode": STR, "currencyId": INT,
    "quantityPrice": keyed(MONEY4)}))})
STOCK = obj({"inStock": INT, "onHand": INT, "allocated": INT, "inTransit": INT})
# includeOptional=breakDownByLocation adds each warehouse's byLocation (location id → the same figures).
WAREHOUSE_STOCK = obj({"inStock": INT, "onHand": INT, "allocated": INT, "inTransit": INT, "byLocation": keyed(STOCK)},
                      required=["inStock", "onHand", "allocated", "inTransit"])
AVAILABILITY = keyed(obj({"total": STOCK, "warehouses": keyed(WAREHOUSE_STOCK)}))
GOODS_OUT = keyed(obj({
    "orderId": INT, "warehouseId": INT, "transfer": BOOL, "priority": BOOL,
    "status": obj({"shipped": BOOL, "packed": BOOL, "picked": BOOL, "printed": BOOL,
                   **{key: {"type": ["string", "null"]} for key in ("pickedOn", "packedOn", "shippedOn", "printedOn")},
                   **{key: INT for key in ("pickedById", "packedById", "shippedById", "printedById")}}),
    "shipping": obj({"reference": STR, "shippingMethodId": INT}), "releaseDate": STR, "createdOn": TIMESTAMP,
    "createdBy": INT, "orderRows": keyed(array_of(obj({"productId": INT, "quantity": INT, "locationId": INT}))),
    "sequence": INT, "events": array_of(obj({"occured": STR, "eventOwnerId": INT,
                                             "eventCode": {"enum": ["PLA", "SHW", "PRI", "PIC", "PAC"]}})),
    "lastEventVersion": INT,
}))
ORDER_STATUS = obj({"statusId": INT, "name": STR, "orderTypeCode": STR, "sortOrder": INT, "disabled": BOOL,
                    "visible": BOOL, "color": STR, "remindAfterDays": INT, "alertEmails": STR, "emailContent": STR,
                    "batchProcess": BOOL, "state": STR})
SHIPPING_STATUS = obj({"id": INT, "code": {"enum": ["NST", "SNS", "SPS", "ASS"]}, "description": STR})
TAX_CODE = obj({"id": INT, "code": STR, "description": STR, "rate": NUM}, required=["id", "code", "description"])
NAMED = {"type": "object", "required": ["id", "name"], "properties": {"id": INT, "name": STR}}
WAREHOUSE = obj({"id": INT, "name": STR, "typeDescription": STR, "addressId": INT})

COLUMN = obj({"name": STR, "sortable": BOOL, "filterable": BOOL,
              "reportDataType": {"enum": ["INTEGER", "IDSET", "STRING", "DATETIME", "BOOLEAN", "SEARCH_STRING",
                                          "STRING_SET", "FREE_TEXT_QUERY", "PERIOD"]},
              "referenceData": array_of(STR), "isFreeTextSearchable": BOOL, "required": BOOL})
SEARCH = obj({
    "response": obj({
        "results": array_of({"type": "array"}),
        "metaData": obj({"morePagesAvailable": BOOL, "resultsAvailable": INT, "resultsReturned": INT,
                         "firstResult": INT, "lastResult": INT, "columns": array_of(COLUMN, minItems=1),
                         "sorting": array_of(obj({"filterable": COLUMN, "direction": {"enum": ["ASC", "DESC"]}}),
                                             minItems=1)},
                        required=["morePagesAvailable", "resultsAvailable", "resultsReturned", "columns", "sorting"]),
    }),
    "reference": {"type": "object"},
})
OPTIONS = obj({"response": obj({"getUris": array_of({"type": "string", "pattern": r"^/[a-z-]+/[0-9,-]+$"})})})
ERRORS = obj({"errors": array_of(obj({"code": {"type": "string", "pattern": r"^[A-Z]{4}-\d{3}$"}, "message": STR}),
                                 minItems=1)})
UNAUTHORISED = obj({"response": STR})
CREATED = obj({"response": INT})
WRITTEN = obj({})


def envelope(record: dict) -> dict:
    """``{"response": [record, ...]}``."""
    return obj({"response": array_of(record)})


def check(schema: dict, document) -> None:
    """Raise with every violation listed."""
    problems = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
                for error in Draft202012Validator(schema).iter_errors(document)]
    assert not problems, "\n".join(problems[:20])


# --- Endpoints added for the rest of §1.2, §4.5 and §9 ----------------------------------------------------

WEBHOOK = obj({"id": INT, "subscribeTo": STR, "httpMethod": {"enum": ["GET", "POST", "PUT", "DELETE"]},
               "uriTemplate": STR, "bodyTemplate": STR, "contentType": STR, "idSetAccepted": BOOL,
               "qualityOfService": {"enum": [0, 1]}},
              required=["id", "subscribeTo", "httpMethod", "uriTemplate", "idSetAccepted", "qualityOfService"])
CUSTOM_FIELD_META = obj({"id": INT, "code": {"type": "string", "pattern": "^PCF_"}, "name": STR,
                         "customFieldType": {"enum": ["TEXT", "TEXT_AREA", "INTEGER", "DECIMAL", "DATE", "BOOLEAN",
                                                      "SELECT"]},
                         "required": BOOL, "options": keyed(obj({"id": INT, "value": STR}))},
                        required=["id", "code", "name", "customFieldType", "required"])
CUSTOM_FIELDS = obj({"response": {"type": "object", "propertyNames": {"pattern": "^PCF_"}}})
TAG = keyed(obj({"tagId": INT, "tagName": STR, "tagParentId": INT, "tagColor": STR}))
CURRENCY = obj({"id": INT, "title": STR, "code": STR, "symbol": STR, "exchangeRate": STR, "isDefault": BOOL,
                "exchangeRateVarianceNominalCode": STR})
NOMINAL_CODE = obj({"id": INT, "code": STR, "name": STR, "type": STR, "bank": BOOL, "expense": BOOL,
                    "discount": BOOL, "editable": BOOL, "active": BOOL})
PAYMENT_METHOD = obj({"id": INT, "code": STR, "name": STR, "bankAccountNominalCode": STR, "isActive": BOOL,
                      "installedIntegrationInstanceId": INT})
ACCOUNTING_PERIOD = obj({"id": INT, "startDate": STR, "endDate": STR, "closed": BOOL})
EXCHANGE_RATE = obj({"currencyId": INT, "currencyCode": STR, "baseCurrencyCode": STR, "rate": STR})
OPTION_VALUE = obj({"optionValueId": INT, "optionValueName": STR, "optionId": INT, "sortOrder": INT})
LOCATION = obj({"id": INT, "warehouseId": INT, "groupingA": STR, "groupingB": STR, "groupingC": STR,
                "groupingD": STR, "zoneId": INT})
SEARCH_META_DATA = obj({"response": obj({"columns": array_of(COLUMN, minItems=1),
                                         "sorting": array_of(obj({"filterable": COLUMN, "direction": STR}))})})
MULTI_MESSAGE = obj({"response": obj({
    "processedMessages": array_of(obj({"label": STR, "statusCode": INT, "body": {"type": "object"}})),
    "unprocessedMessages": array_of(STR)})})
