"""Database steps that must not be given up because a connection was lost.

A worker host cut off from PostgreSQL for a minute, or a PostgreSQL restart, breaks every
connection the worker holds. For most tasks that is harmless: they fail and beat sends them
again. An invoke is different: once it has claimed its row, its outcome is the only record of
a call that may have run, and a task that dies writing it leaves the row `running` for good.
So those steps go through `persist`, which closes the broken connection and tries again until
the database answers or DATABASE_RETRY_SECONDS have passed. Each step must be safe to repeat
(a conditional UPDATE, a read) and must run outside any transaction."""

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)

T = TypeVar("T")


def persist(step: Callable[[], T], what: str) -> T:
    deadline = time.monotonic() + settings.DATABASE_RETRY_SECONDS
    delay = 0.5
    while True:
        try:
            return step()
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            log.warning("database lost while %s (%s); trying again in %.1f s", what, exc, delay)
            with contextlib.suppress(DatabaseError):
                connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
