"""The database's clock, for every judgement that compares times written by different hosts.

A lease taken on one worker host and judged free on another, a poll stamped by a worker and
called late by the web server: if each host used its own clock, a host whose clock runs two
minutes ahead would take leases that are still held and call fresh work stuck. The database is
the one clock they all share, so those times are written and compared with it."""

from datetime import UTC, datetime

from django.db import connection
from django.utils.dateparse import parse_datetime


def now() -> datetime:
    """The database server's current time (aware, UTC)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql()}", [])
        value = cursor.fetchone()[0]
    if isinstance(value, str):  # SQLite answers text
        parsed = parse_datetime(value)
        assert parsed is not None, value
        value = parsed
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def sql() -> str:
    """An SQL expression for the database's current time, to use inside a statement (with
    parameters: its `%` are doubled)."""
    if connection.vendor == "postgresql":
        return "STATEMENT_TIMESTAMP()"
    return "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW')"
