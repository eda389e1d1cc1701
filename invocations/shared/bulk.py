"""One multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING …`, its values prepared once per row.

The poller inserts a few dozen rows of some thirty columns per transaction. Django's insert
compiler prepares every value through its field (`get_db_prep_save`), which on two shared cores
was a third of the poller's CPU. Here a column's preparation is chosen once per statement from
its field's type, and most values (text, numbers, keys, booleans) go to the driver as they are:
only datetimes and JSON are adapted, with the database backend's own adapters, JSON encoded
once. A value of an unexpected Python type, and a column of a type not listed, go through the
field as Django would prepare it, so the result is always what `Model.objects.bulk_create`
would have written (tests/ingest/test_bulk_insert.py compares them on every column of the models
that use it).

A row that breaks a unique constraint is skipped by the database (a redelivered message, an
event another poller stored first); any other violation (a NULL in a NOT NULL column) raises.
Both supported databases return rows from a multi-row insert (SQLite from 3.35, checked at start:
ops/checks.py)."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models

# Fields whose values are passed to the driver unchanged when they are of these Python types:
# what their `get_db_prep_save` returns for them anyway.
_AS_IS: dict[type[models.Field], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.IntegerField: (int,),  # and its subclasses: small, positive, big, auto
    models.BooleanField: (bool,),
    models.ForeignKey: (int,),  # the id of an integer primary key
}
# At most this many rows in one statement: SQLite allows 32,766 parameters in one statement.
MAX_ROWS = 200


def _preparer(field: models.Field) -> Callable[[Any], Any]:
    """How one column's value goes to the driver (None is SQL NULL for every type here)."""

    def slow(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    if isinstance(field, models.JSONField):
        encoder, adapt_json = field.encoder, connection.ops.adapt_json_value
        return lambda value: None if value is None else adapt_json(value, encoder)
    if isinstance(field, models.DateTimeField):
        adapt_time = connection.ops.adapt_datetimefield_value
        # A naive datetime is made aware by the field (with Django's warning), as it would be.
        return lambda value: (
            adapt_time(value)
            if value is None or (isinstance(value, datetime) and value.utcoffset() is not None)
            else slow(value)
        )
    if isinstance(field, models.ForeignKey) and not isinstance(
        field.target_field, models.IntegerField
    ):
        return slow
    for kind, types in _AS_IS.items():
        if isinstance(field, kind):
            # Exact types: a bool meant for an integer column, or a str subclass, goes the
            # field's way.
            return lambda value: value if value is None or type(value) in types else slow(value)
    return slow


Column = tuple[str, models.Field | None, Callable[[Any], Any]]


def columns(fields: Sequence[models.Field]) -> list[Column]:
    """For each field: its attribute, the field itself if it sets its value on insert
    (`auto_now_add`), and how its value is prepared."""
    return [
        (
            field.attname,
            field
            if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False)
            else None,
            _preparer(field),
        )
        for field in fields
    ]


def prepared_row(obj: models.Model, row_columns: list[Column]) -> list[Any]:
    """The values of `obj`'s columns as the driver takes them; an `auto_now_add` field is set on
    `obj` first, as Django's insert does."""
    return [
        prepare(getattr(obj, attname) if sets is None else sets.pre_save(obj, True))
        for attname, sets, prepare in row_columns
    ]


def column(model: type[models.Model], name: str) -> str:
    """The quoted column of `model`'s field `name`, for SQL written here."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column
    return connection.ops.quote_name(field.column)


def insert_skipping_conflicts(
    model: type[models.Model], objs: Sequence[models.Model], returning: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Insert `objs` (every concrete column but the primary key) in statements of at most
    MAX_ROWS rows; rows that would break a unique constraint are skipped. Returns, for each row
    inserted, the values of the `returning` columns (in no promised order: match them by a
    unique column)."""
    if not objs:
        return []
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    row_columns = columns(fields)
    quote = connection.ops.quote_name
    names = ", ".join(column(model, field.name) for field in fields)
    returned = ", ".join(column(model, name) for name in returning)
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    found: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(objs), MAX_ROWS):
            chunk = objs[start : start + MAX_ROWS]
            params: list[Any] = []
            for obj in chunk:
                params += prepared_row(obj, row_columns)
            cursor.execute(
                f"INSERT INTO {quote(str(meta.db_table))} ({names}) VALUES "
                + ", ".join([one_row] * len(chunk))
                + f" ON CONFLICT DO NOTHING RETURNING {returned}",
                params,
            )
            found += [tuple(row) for row in cursor.fetchall()]
    return found
