"""The built-in account resources of the platform API: products, orders and contacts.

Each resource is declared once (:data:`RESOURCES`): its service, model, camel-case columns with
their report data type, and which fields a client may write. From that declaration come the three
operations the API views call, always scoped to one account:

- :func:`get_by_ids` — ``GET /<service>/<resource>/<id set>``;
- :func:`search` — ``GET /<service>/<resource>-search?<filters>&pageSize=&firstResult=&sort=&columns=``,
  positional rows plus ``metaData`` (PROTOCOL.md);
- :func:`create` / :func:`update` — ``POST /<service>/<resource>``, ``PUT /<service>/<resource>/<id>``.

Bad input raises ``ApiError`` (400, with an error code); nothing here raises for a client mistake
otherwise. Another account's rows are never read or written: every query starts from the account.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time as dt_time, timedelta, timezone as dt_timezone
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.dateparse import parse_date, parse_datetime

from integrations.gateway import ApiError
from integrations.models import Contact, Order, Product

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 200
MAX_IDS_PER_GET = 500
MAX_ID_SET_ITEMS = 200
MAX_FILTER_LENGTH = 200
MAX_ID = 2**63 - 1
MAX_INT = 2**31 - 1
CONTROL_PARAMETERS = {"pageSize", "firstResult", "sort", "columns"}
PARAMETER_ERROR_CODES = {"pageSize": "INVALID_PAGE_SIZE", "firstResult": "INVALID_FIRST_RESULT"}


class DataType:
    """Brightpearl report data types of search columns."""

    IDSET = "IDSET"
    STRING = "STRING"
    SEARCH_STRING = "SEARCH_STRING"
    INTEGER = "INTEGER"
    DECIMAL = "DECIMAL"
    PERIOD = "PERIOD"
    BOOLEAN = "BOOLEAN"


@dataclass(frozen=True)
class Column:
    """One search column: camel-case name, model field, type; STRING columns match exactly
    (``lookup``), SEARCH_STRING columns by case-insensitive substring."""

    name: str
    field: str
    data_type: str
    filterable: bool = True
    sortable: bool = True
    lookup: str = "exact"

    def meta(self) -> dict:
        return {"name": self.name, "sortable": self.sortable, "filterable": self.filterable,
                "reportDataType": self.data_type, "required": False}


@dataclass(frozen=True)
class Writable:
    """A field a client may send in POST/PUT: its kind decides the accepted JSON values."""

    name: str
    attr: str
    kind: str  # text | email | decimal | integer | boolean | choice
    required: bool = False
    max_length: int = 0
    choices: tuple[str, ...] = ()
    min_value: Decimal | int | None = None


@dataclass(frozen=True)
class Resource:
    name: str
    service: str
    model: type
    columns: tuple[Column, ...]
    writable: tuple[Writable, ...] = ()
    unique_attr: str = ""  # a field unique per account (products: sku)

    @property
    def id_column(self) -> Column:
        return self.columns[0]

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)


PRODUCT_STATUSES = ("LIVE", "DISCONTINUED", "ARCHIVED")
ORDER_STATUSES = ("NEW", "PAID", "SHIPPED", "CANCELLED")
_T = DataType

RESOURCES: dict[str, Resource] = {
    "product": Resource(
        name="product", service="product-service", model=Product, unique_attr="sku",
        columns=(
            Column("productId", "id", _T.IDSET),
            Column("sku", "sku", _T.STRING),
            Column("name", "name", _T.SEARCH_STRING),
            Column("brand", "brand", _T.SEARCH_STRING),
            Column("price", "price", _T.DECIMAL, filterable=False),
            Column("stock", "stock", _T.INTEGER),
            Column("status", "status", _T.STRING, lookup="iexact"),
            Column("createdOn", "created_on", _T.PERIOD),
            Column("updatedOn", "updated_on", _T.PERIOD),
        ),
        writable=(
            Writable("sku", "sku", "text", required=True, max_length=64),
            Writable("name", "name", "text", required=True, max_length=200),
            Writable("brand", "brand", "text", max_length=100),
            Writable("price", "price", "decimal", min_value=Decimal(0)),
            Writable("stock", "stock", "integer"),
            Writable("status", "status", "choice", choices=PRODUCT_STATUSES),
        ),
    ),
    "order": Resource(
        name="order", service="order-service", model=Order,
        columns=(
            Column("orderId", "id", _T.IDSET),
            Column("reference", "reference", _T.STRING),
            Column("contactId", "contact_id", _T.IDSET),
            Column("status", "status", _T.STRING, lookup="iexact"),
            Column("total", "total", _T.DECIMAL, filterable=False),
            Column("currency", "currency", _T.STRING, lookup="iexact"),
            Column("placedOn", "placed_on", _T.PERIOD),
            Column("createdOn", "created_on", _T.PERIOD),
            Column("updatedOn", "updated_on", _T.PERIOD),
        ),
    ),
    "contact": Resource(
        name="contact", service="contact-service", model=Contact,
        columns=(
            Column("contactId", "id", _T.IDSET),
            Column("firstName", "first_name", _T.SEARCH_STRING),
            Column("lastName", "last_name", _T.SEARCH_STRING),
            Column("email", "email", _T.STRING, lookup="iexact"),
            Column("company", "company", _T.SEARCH_STRING),
            Column("isSupplier", "is_supplier", _T.BOOLEAN),
            Column("createdOn", "created_on", _T.PERIOD),
            Column("updatedOn", "updated_on", _T.PERIOD),
        ),
        writable=(
            Writable("firstName", "first_name", "text", required=True, max_length=100),
            Writable("lastName", "last_name", "text", required=True, max_length=100),
            Writable("email", "email", "email", max_length=254),
            Writable("company", "company", "text", max_length=200),
            Writable("isSupplier", "is_supplier", "boolean"),
        ),
    ),
}


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


# --- ID sets and filter values -----------------------------------------------------------------------

_ID_ITEM = re.compile(r"(\d{1,19})(?:-(\d{1,19}))?")


def parse_id_set(text: str, *, what: str = "ID set") -> list[tuple[int, int]]:
    """``"1,5,9,22-26"`` → ``[(1, 1), (5, 5), (9, 9), (22, 26)]``. Ranges must ascend; IDs are
    positive. Raises ApiError (400, INVALID_ID_SET) otherwise."""
    items = text.split(",") if text else []
    if not items or len(items) > MAX_ID_SET_ITEMS:
        raise bad_request("INVALID_ID_SET", f"{what} must list 1 to {MAX_ID_SET_ITEMS} IDs or ranges, "
                                            "e.g. 1000-1010 or 1,5,9,22-26.")
    ranges = []
    for item in items:
        match = _ID_ITEM.fullmatch(item)
        if match is None:
            raise bad_request("INVALID_ID_SET", f"{what}: {item[:40]!r} is not an ID or an ascending range like 22-26.")
        low = int(match[1])
        high = int(match[2]) if match[2] is not None else low
        if low < 1 or high > MAX_ID or high < low:
            raise bad_request("INVALID_ID_SET", f"{what}: {item!r} must be positive IDs in an ascending range.")
        ranges.append((low, high))
    return ranges


def id_set_q(field: str, ranges: list[tuple[int, int]]) -> Q:
    singles = [low for low, high in ranges if low == high]
    q = Q(**{f"{field}__in": singles}) if singles else Q(pk__in=[])
    for low, high in ranges:
        if low != high:
            q |= Q(**{f"{field}__range": (low, high)})
    return q


def _moment(text: str, *, column: str, end: bool) -> tuple[datetime, bool]:
    """A range bound: an ISO 8601 date-time (UTC when no offset is given) or a date. Returns the
    instant and whether it is inclusive (a date as an end bound covers the whole day)."""
    text = re.sub(r" (\d\d:?\d\d)$", r"+\1", text.strip())  # a '+' offset that arrived URL-decoded
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = parse_date(text)
            if end:
                return datetime.combine(day + timedelta(days=1), dt_time.min, tzinfo=dt_timezone.utc), False
            return datetime.combine(day, dt_time.min, tzinfo=dt_timezone.utc), True
        moment = parse_datetime(text)
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt_timezone.utc)
            # In UTC, as the database compares it: an offset can push year 1 or 9999 out of range.
            return moment.astimezone(dt_timezone.utc), True
    except (ValueError, OverflowError):
        pass
    raise bad_request("INVALID_FILTER", f"{column}: {text[:40]!r} is not an ISO 8601 date-time "
                                        "(e.g. 2026-07-01T00:00:00Z) or date.")


def period_q(column: Column, value: str) -> Q:
    """``from/to``, ``from/`` or ``/to`` (both ends included) → a Q on the column's field."""
    start_text, slash, end_text = value.partition("/")
    if not slash or "/" in end_text or not (start_text.strip() or end_text.strip()):
        raise bad_request("INVALID_FILTER", f"{column.name} takes a range: <from>/<to>, <from>/ or /<to>, "
                                            "e.g. 2026-07-01T00:00:00Z/.")
    q = Q()
    start = end = None
    inclusive = True
    if start_text.strip():
        start, _ = _moment(start_text, column=column.name, end=False)
        q &= Q(**{f"{column.field}__gte": start})
    if end_text.strip():
        end, inclusive = _moment(end_text, column=column.name, end=True)
        q &= Q(**{f"{column.field}__{'lte' if inclusive else 'lt'}": end})
    if start and end and (start > end if inclusive else start >= end):
        raise bad_request("INVALID_FILTER", f"{column.name}: the range ends before it starts.")
    return q


def filter_q(column: Column, value: str) -> Q:
    """The Q for one column filter, or ApiError (400) for a value the column cannot take."""
    if not column.filterable:
        raise bad_request("COLUMN_NOT_FILTERABLE", f"{column.name} cannot be filtered on.")
    if column.data_type == DataType.IDSET:
        return id_set_q(column.field, parse_id_set(value, what=column.name))
    if column.data_type == DataType.PERIOD:
        return period_q(column, value)
    if column.data_type == DataType.BOOLEAN:
        if value.lower() not in ("true", "false"):
            raise bad_request("INVALID_FILTER", f"{column.name} takes true or false.")
        return Q(**{column.field: value.lower() == "true"})
    if column.data_type == DataType.INTEGER:
        if not re.fullmatch(r"-?\d{1,10}", value) or abs(int(value)) > MAX_INT:
            raise bad_request("INVALID_FILTER", f"{column.name} takes a whole number.")
        return Q(**{column.field: int(value)})
    if not value:
        raise bad_request("INVALID_FILTER", f"{column.name}: give a value to filter on.")
    lookup = "icontains" if column.data_type == DataType.SEARCH_STRING else column.lookup
    return Q(**{f"{column.field}__{lookup}": value})


# --- Output ------------------------------------------------------------------------------------------

def _json_value(value):
    if isinstance(value, datetime):
        return value.astimezone(dt_timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)  # at most 12 significant digits: exact as a JSON number
    return value


def _rows(queryset, columns: list[Column]):
    return queryset.values_list(*[column.field for column in columns])


# --- Operations --------------------------------------------------------------------------------------

def get_by_ids(resource: Resource, *, account, id_set: str) -> list[dict]:
    """The account's records whose IDs are in ``id_set``, ascending by ID, as objects keyed by
    column name. Raises ApiError: 400 for a bad or too large ID set, 404 when none exists."""
    ranges = parse_id_set(id_set)
    if sum(high - low + 1 for low, high in ranges) > MAX_IDS_PER_GET:
        raise bad_request("ID_SET_TOO_LARGE", f"Ask for at most {MAX_IDS_PER_GET} IDs at once; use "
                                              f"{resource.name}-search to page through more.")
    queryset = resource.model.objects.filter(account=account).filter(id_set_q("id", ranges)).order_by("id")
    names = [column.name for column in resource.columns]
    records = [dict(zip(names, map(_json_value, row))) for row in _rows(queryset, list(resource.columns))]
    if not records:
        raise ApiError(404, "NOT_FOUND", f"No {resource.name} with these IDs in this account.")
    return records


def _int_parameter(params, name: str, default: int, *, low: int, high: int) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,10}", value) or not low <= int(value) <= high:
        raise bad_request(PARAMETER_ERROR_CODES[name], f"{name} must be a whole number from {low} to {high}.")
    return int(value)


def search(resource: Resource, *, account, params) -> dict:
    """Search the account's records: ``params`` (a QueryDict) holds column filters, ``pageSize``
    (1–500, default 200), ``firstResult`` (one-based), ``sort=<column>.ASC|DESC`` and ``columns``
    (a comma-separated choice of columns). Returns ``{"results": [[...], ...], "metaData": {...}}``.
    Raises ApiError (400) for an unknown parameter or column or a bad value."""
    for name, values in params.lists():
        if len(values) > 1:
            raise bad_request("DUPLICATE_PARAMETER", f"{name[:40]} is given more than once.")
        if "\x00" in values[0] or len(values[0]) > MAX_FILTER_LENGTH:
            raise bad_request("INVALID_FILTER", f"{name[:40]}: the value is too long or contains a NUL character.")
    page_size = _int_parameter(params, "pageSize", DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
    first_result = _int_parameter(params, "firstResult", 1, low=1, high=MAX_INT)

    q = Q()
    for name, value in params.items():
        if name in CONTROL_PARAMETERS:
            continue
        column = resource.column(name)
        if column is None:
            raise bad_request("UNKNOWN_FILTER", f"{name[:40]!r} is not a column of {resource.name}-search. "
                                                f"Columns: {', '.join(c.name for c in resource.columns)}.")
        q &= filter_q(column, value)

    sort_column, direction = resource.id_column, "ASC"
    if "sort" in params:
        name, dot, direction = params["sort"].rpartition(".")
        direction = direction.upper()
        sort_column = resource.column(name)
        if not dot or direction not in ("ASC", "DESC") or sort_column is None or not sort_column.sortable:
            raise bad_request("INVALID_SORT", "sort takes <column>.ASC or <column>.DESC with a sortable column.")
    prefix = "-" if direction == "DESC" else ""
    ordering = [f"{prefix}{sort_column.field}"]
    if sort_column is not resource.id_column:
        ordering.append(f"{prefix}id")  # a stable order, so that pages neither skip nor repeat rows

    columns = list(resource.columns)
    if "columns" in params:
        names = [name.strip() for name in params["columns"].split(",")]
        chosen = [resource.column(name) for name in names]
        if not names or None in chosen:
            raise bad_request("UNKNOWN_COLUMN", f"columns takes a comma-separated list of: "
                                                f"{', '.join(c.name for c in resource.columns)}.")
        columns = list(dict.fromkeys(chosen))

    queryset = resource.model.objects.filter(account=account).filter(q)
    available = queryset.count()
    start = first_result - 1
    rows = [list(map(_json_value, row))
            for row in _rows(queryset.order_by(*ordering), columns)[start:start + page_size]]
    last_result = first_result + len(rows) - 1
    return {
        "results": rows,
        "metaData": {
            "resultsAvailable": available,
            "resultsReturned": len(rows),
            "firstResult": first_result,
            "lastResult": last_result,
            "morePagesAvailable": last_result < available,
            "sorting": [{"filterable": sort_column.meta(), "direction": direction}],
            "columns": [column.meta() for column in columns],
        },
    }


# --- Writes ------------------------------------------------------------------------------------------

def _clean(field: Writable, value) -> tuple[object, str | None]:
    """(clean value, None) or (None, message)."""
    if field.kind in ("text", "email", "choice"):
        if not isinstance(value, str):
            return None, "must be a string."
        value = value.strip()
        if "\x00" in value:
            return None, "must not contain NUL characters."
        if field.required and not value:
            return None, "must not be blank."
        if field.max_length and len(value) > field.max_length:
            return None, f"must be at most {field.max_length} characters."
        if field.kind == "email" and value:
            try:
                validate_email(value)
            except ValidationError:
                return None, "must be an email address."
        if field.kind == "choice":
            value = value.upper()
            if value not in field.choices:
                return None, f"must be one of {', '.join(field.choices)}."
        return value, None
    if field.kind == "boolean":
        return (value, None) if isinstance(value, bool) else (None, "must be true or false.")
    if field.kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INT:
            return None, "must be a whole number."
        return value, None
    if field.kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None, "must be a number."
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None, "must be a number."
        # Range first: quantizing a huge number would overflow the decimal context.
        if not number.is_finite() or abs(number) >= Decimal(10) ** 10 or number != number.quantize(Decimal("0.01")):
            return None, "must be a number below 10,000,000,000 with at most 2 decimal places."
        if field.min_value is not None and number < field.min_value:
            return None, f"must be at least {field.min_value}."
        return number.quantize(Decimal("0.01")), None
    raise AssertionError(field.kind)


def _validated(resource: Resource, payload, *, creating: bool) -> dict:
    """Model attribute → clean value for the fields in ``payload``; ApiError (400) listing every
    problem otherwise."""
    if not resource.writable:
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"{resource.name} records are read-only in this API.")
    if not isinstance(payload, dict):
        raise bad_request("INVALID_JSON", "The body must be a JSON object.")
    fields = {field.name: field for field in resource.writable}
    read_only = {column.name for column in resource.columns} - set(fields)
    errors, values = [], {}
    for name, value in payload.items():
        field = fields.get(name)
        if field is None:
            code = "READ_ONLY_FIELD" if name in read_only else "UNKNOWN_FIELD"
            errors.append({"code": code, "message": f"{str(name)[:40]}: cannot be written."
                           if code == "READ_ONLY_FIELD" else f"{str(name)[:40]}: not a field of {resource.name}."})
            continue
        clean, problem = _clean(field, value)
        if problem:
            errors.append({"code": "INVALID_FIELD", "message": f"{name}: {problem}"})
        else:
            values[field.attr] = clean
    if creating:
        for field in resource.writable:
            if field.required and field.name not in payload:
                errors.append({"code": "MISSING_FIELD", "message": f"{field.name}: this field is required."})
    if errors:
        raise validation_error(errors)
    return values


def validation_error(errors: list[dict]) -> ApiError:
    """A 400 whose envelope lists every problem found."""
    return ApiError(400, errors[0]["code"], errors[0]["message"], errors=errors)


def _save(resource: Resource, record, values: dict):
    if resource.unique_attr and resource.unique_attr in values:
        duplicate = (resource.model.objects.filter(account_id=record.account_id,
                                                   **{resource.unique_attr: values[resource.unique_attr]})
                     .exclude(pk=record.pk).exists())
        if duplicate:
            raise _duplicate(resource)
    for attr, value in values.items():
        setattr(record, attr, value)
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        raise _duplicate(resource) from None
    return record


def _duplicate(resource: Resource) -> ApiError:
    return validation_error([{"code": f"DUPLICATE_{resource.unique_attr.upper()}",
                              "message": f"{resource.unique_attr}: another {resource.name} already uses this value."}])


def create(resource: Resource, *, account, payload) -> int:
    """Create a record in the account from a JSON object of writable fields; returns its ID.
    Raises ApiError (400 with every problem listed; 405 for read-only resources)."""
    values = _validated(resource, payload, creating=True)
    return _save(resource, resource.model(account=account), values).pk


def update(resource: Resource, *, account, record_id: str, payload) -> int:
    """Change the fields present in ``payload`` on one of the account's records; returns its ID.
    Raises ApiError: 400 for a bad ID or value, 404 for a record not in this account."""
    if not re.fullmatch(r"\d{1,19}", record_id) or not 1 <= int(record_id) <= MAX_ID:
        raise bad_request("INVALID_ID", f"PUT takes one {resource.id_column.name}, e.g. /{resource.name}/1001.")
    values = _validated(resource, payload, creating=False)
    with transaction.atomic():
        record = resource.model.objects.select_for_update().filter(account=account, pk=int(record_id)).first()
        if record is None:
            raise ApiError(404, "NOT_FOUND", f"No {resource.name} {record_id} in this account.")
        return _save(resource, record, values).pk
