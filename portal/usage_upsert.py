"""Writing per-minute usage rows (``UsageMinute``, ``StaffUsageMinute``) as absolute upserts, fast.

The rollup re-reads every minute of its grace period on each pass, so most of what it hands over is already
stored, unchanged. Both paths below write only the rows that are new or whose figures differ, skip rows of
owners (installations, accounts) that no longer exist, and return how many rows they wrote:

- PostgreSQL: one ``INSERT ... SELECT FROM json_to_recordset(<the rows as one JSON parameter>) ... ON CONFLICT
  DO UPDATE ... WHERE <the stored figures differ>`` per batch (an unchanged row is neither rewritten nor
  counted); the owners are checked in the same statement, and so are the stored rows, so that an unchanged
  row does not even reach ``ON CONFLICT`` (which would lock it: a write of its own). One JSON parameter costs
  far less to send than the ORM's parameters (or one array per column, quoted value by value).
  ``Installation.last_call_at`` moves forward with one ``UPDATE ... FROM json_to_recordset(...)`` after
  locking the rows that move in id order, so passes running side by side never deadlock.
- Other databases (SQLite in development and tests): the stored rows of the batch are read and compared in
  Python, and only the differing ones go through ``bulk_create(update_conflicts=True)``.

Rows are written in (owner, minute) order, so two writers of overlapping batches take their row locks in the
same order.
"""

import json
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Case, DateTimeField, Model, Q, Value, When

from portal.models import Installation, UsageFigures

# The figures of portal.models.UsageFigures, in the order a tuple of figures gives them.
FIGURE_FIELDS = (*UsageFigures.COUNTERS, *UsageFigures.BY_ENDPOINT)
DICT_FIGURES = UsageFigures.BY_ENDPOINT
BATCH_SIZE = 5000  # rows per statement


def figures_of(figures) -> dict:
    """Figures given as a mapping by field name, or as a tuple in FIGURE_FIELDS order (``(calls, throttled[,
    failed])`` as the first callers wrote them); missing ones are zero (or empty)."""
    if not isinstance(figures, dict):
        figures = dict(zip(FIGURE_FIELDS, figures))
    unknown = set(figures) - set(FIGURE_FIELDS)
    if unknown:
        raise ValueError(f"unknown usage figures: {sorted(unknown)}")
    return {name: dict(figures.get(name) or {}) if name in DICT_FIGURES else int(figures.get(name) or 0)
            for name in FIGURE_FIELDS}


def minutes_upsert(*, model: type[Model], owner: str, rows: dict[tuple[int, datetime], dict]) -> int:
    """Store ``rows`` (``{(owner id, minute start): figures_of(...)}``) in ``model`` (``UsageMinute`` or
    ``StaffUsageMinute``; ``owner`` is its foreign key: ``"installation"`` or ``"account"``) as absolute
    figures. Rows of owners that do not exist are skipped; stored rows with the same figures are left alone.
    Returns the number of rows inserted or changed. Runs in the caller's transaction (or its own)."""
    if not rows:
        return 0
    ordered = sorted(rows.items(), key=lambda item: item[0])
    written = 0
    with transaction.atomic():
        for start in range(0, len(ordered), BATCH_SIZE):
            batch = ordered[start:start + BATCH_SIZE]
            if connection.vendor == "postgresql":
                written += _upsert_recordset(model, owner, batch)
            else:
                written += _upsert_orm(model, owner, batch)
    return written


def _upsert_recordset(model: type[Model], owner: str, batch: list) -> int:
    meta = model._meta
    owner_field = meta.get_field(owner)
    qn = connection.ops.quote_name
    table, owner_table = qn(meta.db_table), qn(owner_field.related_model._meta.db_table)
    owner_pk = qn(owner_field.related_model._meta.pk.column)
    owner_column, minute_column = owner_field.column, meta.get_field("minute").column
    names = [owner_column, minute_column, *FIGURE_FIELDS]
    kinds = ["bigint", "timestamptz", *("integer" for _ in UsageFigures.COUNTERS), *("jsonb" for _ in DICT_FIGURES)]
    figures = [qn(name) for name in FIGURE_FIELDS]
    statement = (
        f"INSERT INTO {table} ({', '.join(qn(name) for name in names)}) "
        f"SELECT {', '.join(f't.{qn(name)}' for name in names)} "
        f"FROM json_to_recordset(%s::json) AS t({', '.join(f'{qn(n)} {k}' for n, k in zip(names, kinds))}) "
        f"WHERE EXISTS (SELECT 1 FROM {owner_table} o WHERE o.{owner_pk} = t.{qn(owner_column)}) "
        f"AND NOT EXISTS (SELECT 1 FROM {table} s WHERE s.{qn(owner_column)} = t.{qn(owner_column)} "
        f"AND s.{qn(minute_column)} = t.{qn(minute_column)} "
        f"AND ({', '.join(f's.{name}' for name in figures)}) = ({', '.join(f't.{name}' for name in figures)})) "
        f"ORDER BY 1, 2 "
        f"ON CONFLICT ({qn(owner_column)}, {qn(minute_column)}) DO UPDATE SET "
        f"{', '.join(f'{name} = EXCLUDED.{name}' for name in figures)} "
        f"WHERE ({', '.join(f'{table}.{name}' for name in figures)}) "
        f"IS DISTINCT FROM ({', '.join(f'EXCLUDED.{name}' for name in figures)})"
    )
    records = [{owner_column: pk, minute_column: minute.isoformat(), **figures} for (pk, minute), figures in batch]
    with connection.cursor() as cursor:
        cursor.execute(statement, [json.dumps(records, separators=(",", ":"))])
        return cursor.rowcount


def _upsert_orm(model: type[Model], owner: str, batch: list) -> int:
    owner_field = model._meta.get_field(owner)
    ids = {pk for (pk, _), _ in batch}
    known = set(owner_field.related_model.objects.filter(pk__in=ids).values_list("pk", flat=True))
    stored = {(row[0], row[1]): dict(zip(FIGURE_FIELDS, row[2:])) for row in
              model.objects.filter(**{f"{owner_field.attname}__in": ids},
                                   minute__in={minute for (_, minute), _ in batch})
              .values_list(owner_field.attname, "minute", *FIGURE_FIELDS)}
    changed = [model(**{owner_field.attname: pk}, minute=minute, **figures)
               for (pk, minute), figures in batch if pk in known and stored.get((pk, minute)) != figures]
    model.objects.bulk_create(changed, batch_size=500, update_conflicts=True,
                              unique_fields=[owner, "minute"], update_fields=FIGURE_FIELDS)
    return len(changed)


def last_calls_move_forward(moments: dict[int, datetime], *, batch_size: int = BATCH_SIZE) -> int:
    """``Installation.last_call_at = moments[pk]`` where that is later than the stored time (or none is
    stored): never moving a time back (another rollup may have written a later one meanwhile), never one
    statement per installation. Installations that do not exist are skipped. Returns how many moved."""
    items = sorted(moments.items())
    moved = 0
    with transaction.atomic():
        for start in range(0, len(items), batch_size):
            batch = items[start:start + batch_size]
            if connection.vendor == "postgresql":
                moved += _move_recordset(batch)
            else:
                moment = Case(*(When(pk=pk, then=Value(at)) for pk, at in batch), output_field=DateTimeField())
                moved += (Installation.objects.filter(pk__in=[pk for pk, _ in batch])
                          .filter(Q(last_call_at__isnull=True) | Q(last_call_at__lt=moment))
                          .update(last_call_at=moment))
    return moved


def _move_recordset(batch: list) -> int:
    qn = connection.ops.quote_name
    table = qn(Installation._meta.db_table)
    pk = qn(Installation._meta.pk.column)
    column = qn(Installation._meta.get_field("last_call_at").column)
    statement = (
        f"WITH moving AS (SELECT i.{pk}, t.at FROM {table} i "
        f"JOIN json_to_recordset(%s::json) AS t(id bigint, at timestamptz) ON t.id = i.{pk} "
        f"WHERE i.{column} IS NULL OR i.{column} < t.at ORDER BY i.{pk} FOR NO KEY UPDATE OF i) "
        f"UPDATE {table} i SET {column} = moving.at FROM moving "
        f"WHERE i.{pk} = moving.{pk} AND (i.{column} IS NULL OR i.{column} < moving.at)"
    )
    records = [{"id": pk, "at": at.isoformat()} for pk, at in batch]
    with connection.cursor() as cursor:
        cursor.execute(statement, [json.dumps(records, separators=(",", ":"))])
        return cursor.rowcount
