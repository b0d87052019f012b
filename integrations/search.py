"""Searches of the platform API (BRIGHTPEARL-API.md §5): ``GET <service>/<resource>-search`` with column
filters, ``pageSize`` (≤500), one-based ``firstResult``, ``sort``, ``columns`` and ``countOnly``; the answer
holds positional ``results`` rows in the column order, ``metaData`` (paging, ``columns``, ``sorting``) and a
``reference`` map that the view puts beside ``response``.

Filters by report data type: STRING matches exactly, SEARCH_STRING by case-insensitive substring, IDSET and
INTEGER take an ID set or a whole number, BOOLEAN ``true``/``false``, PERIOD ``from/to`` with either side
open (dates or date-times). A value a column cannot take, an unknown filter, a bad ``sort`` or paging value
is a 400 ``CMNC-018`` (the reference answers 500 for a bad value; we never do)."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field as dataclass_field
from datetime import date, datetime, time as dt_time, timedelta, timezone as dt_timezone

from django.db.models import Q
from django.utils.dateparse import parse_date, parse_datetime

from integrations import idsets
from integrations.errors import cannot_parse
from integrations.shapes import timestamp

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 500
MAX_INT = 2**31 - 1
MAX_FILTER_LENGTH = 1000
# Parameters that are not column filters. lastResult is not documented, but one connector sends it with
# every call; includeOptional is accepted and has no effect on searches.
CONTROL_PARAMETERS = {"pageSize", "firstResult", "lastResult", "sort", "columns", "countOnly", "includeOptional"}


class DataType:
    IDSET = "IDSET"
    STRING = "STRING"
    SEARCH_STRING = "SEARCH_STRING"
    INTEGER = "INTEGER"
    PERIOD = "PERIOD"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"


@dataclass(frozen=True)
class Column:
    """A search column: its name and report data type, and the model field behind it (``None`` for a
    column whose value is the same on every row, ``constant``)."""

    name: str
    data_type: str
    field: str | None
    sortable: bool = True
    filterable: bool = True
    reference_data: tuple[str, ...] = ()
    constant: object = None
    free_text: bool = False
    convert: Callable | None = None  # stored value -> row value (e.g. "" -> null)
    compute: Callable | None = None  # the row's values -> row value, for a column without a field

    def meta(self) -> dict:
        return {"name": self.name, "sortable": self.sortable, "filterable": self.filterable,
                "reportDataType": self.data_type, "referenceData": list(self.reference_data),
                "isFreeTextSearchable": self.free_text, "required": False}


@dataclass(frozen=True)
class SearchSpec:
    """One ``-search`` resource: its columns (in the reference's order), the account's rows, and the
    ``reference`` block built from the rows of a page."""

    name: str
    columns: tuple[Column, ...]
    queryset: Callable  # (account) -> QuerySet
    reference: Callable | None = None  # (account, rows as dicts by column name) -> dict
    extra_fields: tuple[str, ...] = dataclass_field(default=())

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)

    @property
    def id_column(self) -> Column:
        return self.columns[0]


# --- Filters -------------------------------------------------------------------------------------------

def _moment(text: str, *, name: str, value: str, end: bool) -> tuple[datetime, bool]:
    """A PERIOD bound: a date (``2022-1-1`` too) or an ISO 8601 date-time (UTC without an offset). Returns
    the instant and whether it is inclusive (a date as an end bound covers that whole day)."""
    text = re.sub(r" (\d\d:?\d\d)$", r"+\1", text.strip())  # a '+' offset that arrived URL-decoded as ' '
    day_match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    try:
        if day_match:
            day = date(*map(int, day_match.groups()))
            if end:
                return datetime.combine(day + timedelta(days=1), dt_time.min, tzinfo=dt_timezone.utc), False
            return datetime.combine(day, dt_time.min, tzinfo=dt_timezone.utc), True
        moment = parse_datetime(text)
        if moment is not None:
            # In UTC, as the database compares it: an offset can push year 1 or 9999 out of range.
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)
            return moment.astimezone(dt_timezone.utc), True
        if parse_date(text):
            raise ValueError
    except (ValueError, OverflowError):
        pass
    raise cannot_parse(name, value, DataType.PERIOD)


def _period_q(column: Column, value: str) -> Q:
    start_text, slash, end_text = value.partition("/")
    if not slash:  # a single date or moment: that day / that instant
        start, _ = _moment(value, name=column.name, value=value, end=False)
        end, inclusive = _moment(value, name=column.name, value=value, end=True)
        return Q(**{f"{column.field}__gte": start, f"{column.field}__{'lte' if inclusive else 'lt'}": end})
    if "/" in end_text or not (start_text.strip() or end_text.strip()):
        raise cannot_parse(column.name, value, DataType.PERIOD)
    result, start, end, inclusive = Q(), None, None, True
    if start_text.strip():
        start, _ = _moment(start_text, name=column.name, value=value, end=False)
        result &= Q(**{f"{column.field}__gte": start})
    if end_text.strip():
        end, inclusive = _moment(end_text, name=column.name, value=value, end=True)
        result &= Q(**{f"{column.field}__{'lte' if inclusive else 'lt'}": end})
    if start and end and (start > end if inclusive else start >= end):
        raise cannot_parse(column.name, value, DataType.PERIOD, hint="the range ends before it starts")
    return result


def filter_q(column: Column, value: str) -> Q:
    """The Q of one column filter; 400 CMNC-018 for a value the column cannot take."""
    if not column.filterable or column.field is None:
        raise cannot_parse(column.name, value, column.data_type, hint=f"{column.name} cannot be filtered on")
    if column.data_type == DataType.IDSET:
        return idsets.q(column.field, idsets.parse(value, name=column.name, allow_all=True))
    if column.data_type in (DataType.PERIOD, DataType.DATETIME):
        return _period_q(column, value)
    if column.data_type == DataType.BOOLEAN:
        if value.lower() not in ("true", "false"):
            raise cannot_parse(column.name, value, DataType.BOOLEAN)
        return Q(**{column.field: value.lower() == "true"})
    if column.data_type == DataType.INTEGER:
        if not re.fullmatch(r"-?\d{1,10}", value.strip()) or abs(int(value)) > MAX_INT:
            raise cannot_parse(column.name, value, DataType.INTEGER)
        return Q(**{column.field: int(value)})
    if "*" in value:
        return _wildcard_q(column.field, value)
    if column.data_type == DataType.SEARCH_STRING:
        return Q(**{f"{column.field}__icontains": value})
    return Q(**{f"{column.field}__iexact": value})


def _wildcard_q(field: str, value: str) -> Q:
    """``*`` in a text filter stands for any run of characters: ``Chair*`` starts with, ``*Chair`` ends with,
    ``*Chair*`` contains, ``*`` alone matches everything."""
    parts = value.split("*")
    if not any(parts):
        return Q()
    if len(parts) == 2 and not parts[1]:
        return Q(**{f"{field}__istartswith": parts[0]})
    if len(parts) == 2 and not parts[0]:
        return Q(**{f"{field}__iendswith": parts[1]})
    if len(parts) == 3 and not parts[0] and not parts[2]:
        return Q(**{f"{field}__icontains": parts[1]})
    return Q(**{f"{field}__iregex": "^" + ".*".join(re.escape(part) for part in parts) + "$"})


# --- The search ----------------------------------------------------------------------------------------

def _int_parameter(params, name: str, *, low: int, high: int) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not re.fullmatch(r"\d{1,10}", value.strip()) or not low <= int(value) <= high:
        raise cannot_parse(name, value, DataType.INTEGER, hint=f"{name} takes a whole number from {low} to {high}")
    return int(value)


def _sorting(spec: SearchSpec, text: str | None) -> list[tuple[Column, str]]:
    """``sort=col``, ``col.ASC``, ``col.DESC``, or several comma-separated (``a,b.DESC``)."""
    if not text:
        return [(spec.id_column, "ASC")]
    entries = []
    for item in text.split(","):
        # ``col.DESC`` as documented; ``col|DESC`` as some clients write it.
        name, dot, direction = item.strip().replace("|", ".").rpartition(".")
        if not dot:
            name, direction = direction, "ASC"
        direction = direction.upper()
        column = spec.column(name)
        if direction not in ("ASC", "DESC") or column is None or not column.sortable:
            raise cannot_parse("sort", text, "SORT", 
                               hint="sort takes <column>.ASC or <column>.DESC of sortable columns")
        entries.append((column, direction))
    return entries


def _value(value):
    if isinstance(value, datetime):
        return timestamp(value)
    return value


def _cell(column: Column, values: dict):
    if column.compute is not None:
        return column.compute(values)
    if column.field is None:
        return column.constant
    value = values[column.field]
    return column.convert(value) if column.convert else _value(value)


def meta_data(spec: SearchSpec) -> dict:
    """``GET <resource>-search/meta-data``: the columns of the search (in order) and its default sorting."""
    return {"columns": [column.meta() for column in spec.columns],
            "sorting": [{"filterable": spec.id_column.meta(), "direction": "ASC"}]}


def search(spec: SearchSpec, *, account, params) -> tuple[dict, dict]:
    """Run a search for the account. ``params`` is the request's QueryDict. Returns ``(response,
    reference)``. Raises ApiError 400 CMNC-018 for an unknown filter, a bad value, sort or page."""
    for name, values in params.lists():
        if any("\x00" in value or len(value) > MAX_FILTER_LENGTH for value in values):
            raise cannot_parse(name[:40], values[0][:40], "STRING", hint="the value is too long or has a NUL")
    page_size = _int_parameter(params, "pageSize", low=1, high=MAX_PAGE_SIZE)
    first_result = _int_parameter(params, "firstResult", low=1, high=MAX_INT) or 1
    last_result = _int_parameter(params, "lastResult", low=1, high=MAX_INT)
    if page_size is None:
        wanted = last_result - first_result + 1 if last_result and last_result >= first_result else DEFAULT_PAGE_SIZE
        page_size = min(wanted, MAX_PAGE_SIZE)

    q = Q()
    for name, values in params.lists():
        if name in CONTROL_PARAMETERS:
            continue
        column = spec.column(name)
        if column is None:
            raise cannot_parse(name[:40], values[0], "FILTER", hint=f"{spec.name}-search has no column {name[:40]}")
        for value in values:
            q &= filter_q(column, value)

    sorting = _sorting(spec, params.get("sort"))
    ordering = [f"{'-' if direction == 'DESC' else ''}{column.field}" for column, direction in sorting if column.field]
    if spec.id_column not in [column for column, _ in sorting]:
        ordering.append("pk")  # a stable order, so that pages neither skip nor repeat rows

    columns = list(spec.columns)
    if params.get("columns"):
        chosen = [spec.column(name.strip()) for name in params["columns"].split(",")]
        if None in chosen:
            raise cannot_parse("columns", params["columns"], "COLUMNS",
                               hint=f"columns are {', '.join(c.name for c in spec.columns)}")
        columns = list(dict.fromkeys(chosen))

    queryset = spec.queryset(account).filter(q)
    available = queryset.count()
    count_only = params.get("countOnly", "").lower() == "true"
    start = first_result - 1
    rows: list[list] = []
    by_name: list[dict] = []
    if not count_only and start < available:
        fields = list(dict.fromkeys([c.field for c in spec.columns if c.field] + list(spec.extra_fields)))
        for values in queryset.order_by(*ordering).values(*fields)[start:start + page_size]:
            row = {c.name: _cell(c, values) for c in spec.columns}
            by_name.append({**row, "_": values})
            rows.append([row[c.name] for c in columns])
    meta = {"morePagesAvailable": bool(rows) and start + len(rows) < available, "resultsAvailable": available,
            "resultsReturned": len(rows)}
    if rows:
        meta.update(firstResult=first_result, lastResult=first_result + len(rows) - 1)
    meta["columns"] = [column.meta() for column in columns]
    meta["sorting"] = [{"filterable": column.meta(), "direction": direction} for column, direction in sorting]
    reference = spec.reference(account, by_name) if spec.reference and by_name else {}
    return {"results": rows, "metaData": meta}, reference
