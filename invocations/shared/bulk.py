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
from operator import attrgetter
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


class Rows:
    """How the values of one model's `fields` go to the driver, chosen once per statement: each
    row's values are read in one call, and only the columns that need it are looked at again."""

    def __init__(self, fields: Sequence[models.Field]) -> None:
        self.read = attrgetter(*(field.attname for field in fields))
        # Fields that set their value on insert (`auto_now_add`), as Django's insert does.
        self.sets = [
            field
            for field in fields
            if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False)
        ]
        # (column, the exact types passed as they are, the field's own preparation otherwise)
        self.checked: list[tuple[int, tuple[type, ...], Callable[[Any], Any]]] = []
        # (column, how a value other than None is adapted)
        self.adapted: list[tuple[int, Callable[[Any], Any]]] = []
        for index, field in enumerate(fields):
            self._choose(index, field)

    def _choose(self, index: int, field: models.Field) -> None:
        def slow(value: Any) -> Any:
            return field.get_db_prep_save(value, connection)

        if isinstance(field, models.JSONField):
            encoder, adapt_json = field.encoder, connection.ops.adapt_json_value
            self.adapted.append((index, lambda value: adapt_json(value, encoder)))
            return
        if isinstance(field, models.DateTimeField):
            adapt_time = connection.ops.adapt_datetimefield_value

            def adapt_datetime(value: Any) -> Any:
                # A naive datetime is made aware by the field (with Django's warning), as it
                # would be.
                if isinstance(value, datetime) and value.utcoffset() is not None:
                    return adapt_time(value)
                return slow(value)

            self.adapted.append((index, adapt_datetime))
            return
        for kind, types in _AS_IS.items():
            if isinstance(field, kind):
                if isinstance(field, models.ForeignKey) and not isinstance(
                    field.target_field, models.IntegerField
                ):
                    break
                # Exact types: a bool meant for an integer column, or a str enum, goes the
                # field's way.
                self.checked.append((index, types, slow))
                return
        self.adapted.append((index, slow))

    def row(self, obj: models.Model) -> list[Any]:
        """The values of `obj`'s columns as the driver takes them."""
        for field in self.sets:
            field.pre_save(obj, True)
        values = list(self.read(obj))
        for index, types, slow in self.checked:
            value = values[index]
            if value is not None and type(value) not in types:
                values[index] = slow(value)
        for index, adapt in self.adapted:
            if values[index] is not None:
                values[index] = adapt(values[index])
        return values


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
    rows = Rows(fields)
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
                params += rows.row(obj)
            cursor.execute(
                f"INSERT INTO {quote(str(meta.db_table))} ({names}) VALUES "
                + ", ".join([one_row] * len(chunk))
                + f" ON CONFLICT DO NOTHING RETURNING {returned}",
                params,
            )
            found += [tuple(row) for row in cursor.fetchall()]
    return found
