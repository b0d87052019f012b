"""Hot read queries: prepared statements on PostgreSQL, and model instances from their rows.

Django binds parameters on the client, so PostgreSQL plans every statement it receives; for the joins the API
runs on every call (the gateway's token and staff-token lookups, the token endpoint's lookups), planning costs
several times the execution (0.5 ms against 0.1 ms here). :func:`fetch_one` prepares such a query once per
database session (``PREPARE``, a session-level plan) and then only ``EXECUTE``s it.

Outside transaction blocks only: a failure there must not abort the caller's transaction. If a session lost the
statement (a pooler's ``DISCARD ALL``) or it no longer fits the tables (a migration), the statement is dropped,
the query answered the ordinary way, and prepared again on the next call. Other databases run the query as it is.
"""

import contextlib
import functools
import weakref
from datetime import datetime, timezone as dt_timezone

from django.db import DatabaseError, connection
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone
from django.utils.dateparse import parse_datetime

_prepared_on: dict[str, "weakref.WeakSet"] = {}  # per statement name, the database sessions that prepared it


def fetch_one(name: str, sql: str, params: list) -> tuple | None:
    """The first row of ``sql`` (``%s`` placeholders, parameter types inferred by PostgreSQL from their
    context) run with ``params``; prepared as ``name`` on PostgreSQL."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            cursor.execute(sql, params)
            return cursor.fetchone()
        session = connection.connection
        prepared = _prepared_on.setdefault(name, weakref.WeakSet())
        try:
            if session not in prepared:
                parts = sql.split("%s")
                numbered = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))
                cursor.execute(f"PREPARE {name} AS {numbered}")
                prepared.add(session)
            cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}",
                           params)
        except DatabaseError:
            prepared.discard(session)
            with contextlib.suppress(DatabaseError):
                cursor.execute(f"DEALLOCATE {name}")
            cursor.execute(sql, params)
        return cursor.fetchone()


def aware_datetime(value) -> datetime | None:
    """A datetime column read with a plain cursor as Django's model fields would give it (SQLite answers
    text or naive UTC values)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


@functools.cache
def _field_names(model) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


def partial_instance(model, db: str, **values):
    """A model instance loaded with only these fields (by attribute name; the others load from the database on
    access, as with ``QuerySet.only()``). Built as ``Model.from_db`` leaves it (a field missing from the
    instance's ``__dict__`` is deferred) but without ``Model.__init__`` going over every field, a quarter of the
    gateway's own Python time on a known token, unless something listens to the model's init signals."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        names = [name for name in _field_names(model) if name in values]
        return model.from_db(db, names, [values[name] for name in names])
    instance = model.__new__(model)
    instance._state = ModelState()
    instance._state.adding, instance._state.db = False, db
    instance.__dict__.update(values)
    return instance
