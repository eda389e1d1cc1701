"""Start-up checks (`manage.py check` and every command run them): what the code needs from the
machine, said before a page or a task meets it."""

from typing import Any

from django.core import checks
from django.db import connections

# The invoke worker claims a row with UPDATE … RETURNING, which SQLite has from 3.35 on.
SQLITE_RETURNING = (3, 35, 0)


def uses_sqlite() -> bool:
    return any(connections[alias].vendor == "sqlite" for alias in connections)


@checks.register(checks.Tags.database)
def sqlite_has_returning(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    import sqlite3

    if not uses_sqlite() or sqlite3.sqlite_version_info >= SQLITE_RETURNING:
        return []
    return [
        checks.Error(
            f"SQLite {sqlite3.sqlite_version} is too old: Lambda Triage needs 3.35 or newer "
            "(UPDATE … RETURNING).",
            hint="Use Debian 12 or Ubuntu 22.04 and newer, or PostgreSQL via DATABASE_URL.",
            id="invocations.E001",
        )
    ]
