"""Page scaling: the pages people open stay as fast at 1,000,000 records as at 10,000.

Run: `.venv/bin/python -m bench pages` (or `.venv/bin/python bench/pages.py`), a few minutes.

In a throwaway database (a SQLite file in a temporary folder; with DATABASE_URL set, Django's
test database on that server), seeds at scale 1: 10,000 execution records, 1,000 invocations and
100 failure groups, and measures; then grows the same tables LARGE_SCALE-fold (100 by default:
1,000,000 records, 100,000 invocations, 10,000 groups) and measures again. Rows are written with
`executemany` in chunks of 5,000, with the same proportions at both scales (each group has about
as many failures, each page shows as many rows), so any difference is the cost of the table size
alone. A column the seeder does not name gets its model default, so a new column with a default
does not break the seeding.

For each page, server time is the median of REPEAT requests through Django's test Client after
WARM_UP requests, logged in as a Viewer, each size on its own database connection opened once
and kept (as a server keeps its connections, CONN_MAX_AGE); the number of queries is counted
with CaptureQueriesContext. A figure is named by the record counts it compares
(`pages_<page>_1m_vs_10k` at the default scale) and passes when time at the large size / time at
the small is at most 1.5 and the query counts are equal.
"""

import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import (  # noqa: E402
    create_throwaway_database,
    figure,
    scaled,
    setup_django,
    show,
)

RECORDS_PER_SCALE = scaled(10_000, 200)
INVOCATIONS_PER_SCALE = scaled(1_000, 20)
GROUPS_PER_SCALE = scaled(100, 5)
CHUNK = 5_000
WARM_UP = scaled(2, 0)
REPEAT = scaled(9, 1)
TARGET = 1.5
# The large size, in units of the small one (100: 1,000,000 records). Smaller for a quick try.
LARGE_SCALE = scaled(int(os.environ.get("BENCH_PAGES_SCALE", "100")), 2)
FUNCTIONS = [f"service-{n:02d}" for n in range(20)]
ERRORS = [
    ("ValueError", "order {n} must be a positive integer"),
    ("KeyError", "'customer_{n}'"),
    ("TimeoutError", "upstream did not answer after {n} ms"),
    ("Sandbox.Timedout", "Task timed out after 3.00 seconds"),
    ("RuntimeError", "payment {n} declined"),
]
KINDS = ["failure"] * 6 + ["success"] * 3 + ["dlq"]
STATUSES = ["succeeded"] * 6 + ["function_error", "accepted", "failed", "throttled"]
# Records and invocations are spread over this window, so the sparklines (24 h, 14 days) and the
# retention index see realistic data.
SPAN = timedelta(days=30)


def label(records: int) -> str:
    """A size as figures name it: 1m, 100k, 10k, 400."""
    if records >= 1_000_000 and records % 1_000_000 == 0:
        return f"{records // 1_000_000}m"
    if records >= 1_000 and records % 1_000 == 0:
        return f"{records // 1_000}k"
    return str(records)


class _Table:
    """One table's INSERT of the columns named, every NOT NULL column not named given its model
    default (a column added later with a default then needs no change here)."""

    def __init__(self, model, columns: list[str]):
        from django.db import connection

        defaults = {
            field.column: field.get_db_prep_save(field.get_default(), connection)
            for field in model._meta.concrete_fields
            if field.column not in columns and not field.null and not field.primary_key
        }
        self.extra = tuple(defaults.values())
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(c) for c in [*columns, *defaults])
        marks = ", ".join(["%s"] * (len(columns) + len(defaults)))
        self.sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"


def _insert(model, columns: list[str], rows) -> int:
    """executemany in chunks of CHUNK, one transaction each; returns the number of rows."""
    return _insert_with_events(model, columns, ((row, None) for row in rows))


def _insert_with_events(model, columns: list[str], rows) -> int:
    """Like _insert, for rows that come as (row, its failed event's row or None): each chunk's
    events are written in the same transaction as the rows that name them (the foreign keys are
    checked at commit). Returns the number of rows, events not counted."""
    from django.db import connection, transaction

    from invocations.models import FailedEvent

    table, events = _Table(model, columns), _Table(FailedEvent, EVENT_COLUMNS)
    total, chunk, event_chunk = 0, [], []

    def flush() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            if event_chunk:
                cursor.executemany(events.sql, event_chunk)
            cursor.executemany(table.sql, chunk)

    for row, event in rows:
        chunk.append(row + table.extra)
        if event is not None:
            event_chunk.append(event + events.extra)
        if len(chunk) == CHUNK:
            flush()
            total += len(chunk)
            chunk, event_chunk = [], []
    if chunk:
        flush()
        total += len(chunk)
    return total


def _next_id(model) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(top=Max("id"))["top"] or 0) + 1


# A failed event's columns as the seeder writes them (grouping writes the same facts).
EVENT_COLUMNS = [
    "id",
    "environment_id",
    "function_name",
    "request_id",
    "kind",
    "group_id",
    "primary_record_id",
    "source_rank",
    "invocation_id",
    "error_type",
    "error_message",
    "stack_trace",
    "error_message_redacted",
    "stack_trace_redacted",
    "executed_version",
    "qualifier",
    "condition",
    "attempts",
    "happened_at",
    "happened_from",
    "arrived_at",
]


class Seeder:
    """Grows the tables to a scale; the same proportions at every scale."""

    def __init__(self, now: datetime):
        from django.contrib.auth.models import Group, User

        from invocations.models import Environment, WatchedQueue

        self.now = now
        self.random = random.Random(8)
        self.environment = Environment.objects.default()
        self.user = User.objects.create_user("viewer", password="pw")
        self.user.groups.set(Group.objects.filter(name="Viewer"))
        self.queues = [
            WatchedQueue.objects.create(
                environment=self.environment,
                url=f"http://127.0.0.1:4566/123456789012/{name}-{kind}",
                kind="dlq" if kind == "dlq" else "destination",
                function_name=name,
            )
            for name in FUNCTIONS[:5]
            for kind in ("on-failure", "on-success", "dlq")
        ]
        self.scale = 0
        self.group_ids: list[int] = []

    def _when(self) -> datetime:
        return self.now - timedelta(seconds=self.random.uniform(0, SPAN.total_seconds()))

    def grow_to(self, scale: int) -> None:
        """Add the rows of scales self.scale+1 … scale. The records and invocations added belong
        to the groups added, so that every group keeps about as many failures."""
        from django.db import connection

        from invocations.models import ExecutionRecord, FailedEvent, FailureGroup, Invocation

        started = time.monotonic()
        if connection.vendor == "sqlite":
            # A larger page cache for the seeding only (1 GB; the pages are measured on a new
            # connection): random keys of the unique and request ID indexes otherwise make the
            # inserts read the file over and over.
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size = -1000000")
        first_new_group = len(self.group_ids)
        n_groups = (scale - self.scale) * GROUPS_PER_SCALE
        _insert(FailureGroup, *self._groups(first_new_group, n_groups))
        self.group_ids = list(FailureGroup.objects.order_by("id").values_list("id", flat=True))
        new_groups = self.group_ids[first_new_group:]
        # Rows are written with their ids, so that a failure record and its failed event name
        # each other in one pass.
        self.next_event = _next_id(FailedEvent)
        n_invocations = (scale - self.scale) * INVOCATIONS_PER_SCALE
        _insert_with_events(Invocation, *self._invocations(n_invocations, new_groups))
        n_records = (scale - self.scale) * RECORDS_PER_SCALE
        _insert_with_events(ExecutionRecord, *self._records(n_records, new_groups))
        self.scale = scale
        if connection.vendor == "postgresql":
            from django.core.management.color import no_style

            with connection.cursor() as cursor:
                # The ids were given: the sequences go on after them.
                for sql in connection.ops.sequence_reset_sql(
                    no_style(), [Invocation, ExecutionRecord, FailedEvent]
                ):
                    cursor.execute(sql)
            # The state autovacuum keeps a database in: fresh statistics for the planner, and
            # the visibility map that lets a count be read from an index alone. Done here, not
            # left to autovacuum: after a million rows it may run during the measurement, on the
            # same two cores (the triage page read 47.2 ms at 10,000 records, 52.5 ms at 300,000
            # just after seeding and 47.5 ms after a VACUUM; its queries, EXPLAIN ANALYZE, under
            # 4 ms at every size: the rest is Django making the page).
            # SQLite has no statistics unless someone runs ANALYZE, which nothing in the product
            # does: measure what it gets.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        print(
            f"   seeded to {ExecutionRecord.objects.count():,} records, "
            f"{Invocation.objects.count():,} invocations, {FailedEvent.objects.count():,} failed "
            f"events, {FailureGroup.objects.count():,} groups "
            f"in {time.monotonic() - started:.0f} s",
            flush=True,
        )

    def _groups(self, first: int, n: int):
        columns = [
            "environment_id",
            "fingerprint",
            "function_name",
            "error_class",
            "error_type",
            "sample_message",
            "status",
            "regressed",
            "first_seen",
            "last_seen",
            "count",
            "resolved_in_version",
            "resolved_by_replay",
            "backlog_count",
            "backlog_oldest",
        ]

        def rows():
            for number in range(first, first + n):
                error_type, message = ERRORS[number % len(ERRORS)]
                last_seen = self._when()
                status = "open" if number % 4 else self.random.choice(["acknowledged", "resolved"])
                yield (
                    self.environment.pk,
                    uuid.uuid5(uuid.NAMESPACE_OID, str(number)).hex,
                    FUNCTIONS[number % len(FUNCTIONS)],
                    "timeout" if error_type == "Sandbox.Timedout" else "error",
                    error_type,
                    message.format(n=number),
                    status,
                    False,
                    last_seen - timedelta(days=3),
                    last_seen,
                    60,
                    "",
                    False,
                    60,
                    last_seen - timedelta(days=3),
                )

        return columns, rows()

    def _event(self, **facts) -> tuple:
        """A failed event's row (EVENT_COLUMNS), with the next id."""
        pk = self.next_event
        self.next_event += 1
        facts["id"] = pk
        facts["environment_id"] = self.environment.pk
        facts["error_message_redacted"] = facts["error_message"]
        facts["stack_trace_redacted"] = facts["stack_trace"]
        return tuple(facts[c] for c in EVENT_COLUMNS)

    def _invocations(self, n: int, groups: list[int]):
        """Invocations; a failed synchronous one is a failed event of its own, as grouping makes
        it (`group_invocation`)."""
        from invocations.models import Invocation

        first = _next_id(Invocation)
        columns = [
            "id",
            "environment_id",
            "function_name",
            "qualifier",
            "invocation_type",
            "payload",
            "requested_by_id",
            "status",
            "status_code",
            "function_error",
            "response_payload",
            "log_tail",
            "request_id",
            "executed_version",
            "duration_ms",
            "attempts",
            "error_code",
            "error_text",
            "created_at",
            "started_at",
            "finished_at",
            "failure_group_id",
        ]

        def rows():
            for number in range(n):
                status = STATUSES[number % len(STATUSES)]
                created = self._when()
                failed = status in {"function_error", "throttled"}
                function = FUNCTIONS[number % len(FUNCTIONS)]
                request_id = str(uuid.UUID(int=self.random.getrandbits(128)))
                group = self.random.choice(groups) if failed else None
                finished = created + timedelta(milliseconds=40)
                event = None
                if failed:
                    event = self._event(
                        function_name=function,
                        request_id=request_id,
                        kind="sync",
                        group_id=group,
                        primary_record_id=None,
                        source_rank=3,
                        invocation_id=first + number,
                        error_type="",
                        error_message="",
                        stack_trace="",
                        executed_version="$LATEST",
                        qualifier="",
                        condition="",
                        attempts=1,
                        happened_at=finished,
                        happened_from="invocation",
                        arrived_at=finished,
                    )
                row = (
                    first + number,
                    self.environment.pk,
                    function,
                    "",
                    "Event" if status == "accepted" else "RequestResponse",
                    f'{{"order": {number}}}',
                    self.user.pk,
                    status,
                    200,
                    "Unhandled" if status == "function_error" else "",
                    '{"ok": true}',
                    "START RequestId: x Version: $LATEST\nEND RequestId: x\n",
                    request_id,
                    "$LATEST",
                    12.5,
                    1,
                    "",
                    "",
                    created,
                    created,
                    finished,
                    group,
                )
                yield row, event

        return columns, rows()

    def _records(self, n: int, groups: list[int]):
        """Records; each failure record (an OnFailure record or a dead letter) reports a request
        of its own, so it is one failed event, as grouping makes it (`group_records`)."""
        from invocations.models import ExecutionRecord

        first = _next_id(ExecutionRecord)
        columns = [
            "id",
            "environment_id",
            "queue_id",
            "message_id",
            "kind",
            "condition",
            "request_id",
            "function_arn",
            "function_name",
            "qualifier",
            "executed_version",
            "approximate_invoke_count",
            "status_code",
            "function_error",
            "error_type",
            "error_message",
            "stack_trace",
            "request_payload",
            "response_payload",
            "envelope",
            "record_timestamp",
            "received_at",
            "raw_body",
            "message_attributes",
            "parse_error",
            "failure_group_id",
            "event_id",
        ]

        def rows():
            for number in range(n):
                kind = KINDS[number % len(KINDS)]
                queue = self.queues[number % len(self.queues)]
                function = FUNCTIONS[number % len(FUNCTIONS)]
                received = self._when()
                request_id = str(uuid.UUID(int=self.random.getrandbits(128)))
                failed = kind != "success"
                error_type, message = ERRORS[number % len(ERRORS)]
                payload = f'{{"order": {number}}}'
                group = self.random.choice(groups) if failed else None
                trace = 'File "/var/task/lambda_function.py", line 9, in lambda_handler'
                condition = "" if kind == "dlq" else ("RetriesExhausted" if failed else "Success")
                event = None
                if failed:
                    event = self._event(
                        function_name=function,
                        request_id=request_id,
                        kind="async",
                        group_id=group,
                        primary_record_id=first + number,
                        source_rank=1 if kind == "dlq" else 3,
                        invocation_id=None,
                        error_type=error_type,
                        error_message=message.format(n=number),
                        stack_trace=trace,
                        executed_version="$LATEST",
                        qualifier="$LATEST",
                        condition=condition,
                        attempts=3,
                        happened_at=received,
                        happened_from="sent" if kind == "dlq" else "lambda",
                        arrived_at=received,
                    )
                row = (
                    first + number,
                    self.environment.pk,
                    queue.pk,
                    str(uuid.UUID(int=self.random.getrandbits(128))),
                    kind,
                    condition,
                    request_id,
                    f"arn:aws:lambda:us-east-1:123456789012:function:{function}:$LATEST",
                    function,
                    "$LATEST",
                    "$LATEST",
                    3 if failed else 1,
                    200,
                    "Unhandled" if failed else "",
                    error_type if failed else "",
                    message.format(n=number) if failed else "",
                    trace if failed else "",
                    payload,
                    "null" if failed else '{"ok": true}',
                    "",
                    received,
                    received,
                    f'{{"version": "1.0", "requestContext": {{"requestId": "{request_id}"}}, '
                    f'"requestPayload": {payload}}}',
                    "{}",
                    "",
                    group,
                    event[0] if event else None,
                )
                yield row, event

        return columns, rows()


def _pages(seeder: Seeder) -> dict[str, str]:
    """The URLs measured at the current size; the deep page and the record are at the same
    relative place (90 % of the way down the keyset, the middle of the table) at every size."""
    from invocations.models import ExecutionRecord

    ids = ExecutionRecord.objects.order_by("id").values_list("id", flat=True)
    total = ids.count()
    deep = ids[total // 10]
    middle = ids[total // 2]
    return {
        "triage": "/",
        "records_first": "/records/",
        "records_deep": f"/records/?before={deep}",
        "record": f"/records/{middle}/",
        "invocations": "/invocations/",
    }


def _connection_to(name: str):
    """A new connection for the default alias to database `name`, not opened yet. Each size
    keeps its own, opened once and reused by every request, as a server keeps its connections
    (CONN_MAX_AGE): reconnecting before each request would time SQLite's connection set-up."""
    from django.db import connections

    current = connections["default"]
    return type(current)(dict(current.settings_dict, NAME=name), "default")


def _use(wrapper) -> None:
    """Make `wrapper` the default connection (the one the views use)."""
    from django.db import connections

    connections["default"] = wrapper


def _request(client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def _queries(client, url: str) -> list[dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as capture:
        client.get(url)
    # Read now: the next request empties connection.queries.
    return list(capture.captured_queries)


def _measure(seeder: Seeder, sizes: dict) -> dict[str, dict[str, dict]]:
    """{size: {page: {url, ms, queries, slowest_sql}}} for connections {size: connection}. With
    two databases the requests alternate between them, so that whatever else the machine does
    (it is shared, two cores) weighs on both sizes alike."""
    from django.test import Client

    clients, pages = {}, {}
    for size, wrapper in sizes.items():
        _use(wrapper)
        clients[size] = Client()
        clients[size].force_login(seeder.user)
        pages[size] = _pages(seeder)
    measured: dict[str, dict[str, dict]] = {size: {} for size in sizes}
    for page in pages[next(iter(sizes))]:
        times: dict[str, list[float]] = {size: [] for size in sizes}
        queries = {}
        for size, wrapper in sizes.items():
            _use(wrapper)
            for _ in range(WARM_UP):
                _request(clients[size], pages[size][page])
            queries[size] = _queries(clients[size], pages[size][page])
        for _ in range(REPEAT):
            for size, wrapper in sizes.items():
                _use(wrapper)
                times[size].append(_request(clients[size], pages[size][page]))
        for size in sizes:
            measured[size][page] = {
                "url": pages[size][page],
                "ms": round(statistics.median(times[size]), 2),
                "queries": len(queries[size]),
                "slowest_sql": max(queries[size], key=lambda q: float(q["time"]))["sql"][:300],
            }
            print(
                f"   {size:5} {page:14} {pages[size][page]:32} "
                f"{measured[size][page]['ms']:8.1f} ms  {len(queries[size])} queries",
                flush=True,
            )
    return measured


def _copy_sqlite(source: str, target: str) -> None:
    import sqlite3

    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)


def main(prefix: str = "pages") -> dict:
    setup_django()
    from django.db import connections
    from django.test.utils import setup_test_environment

    setup_test_environment()
    small_label = label(RECORDS_PER_SCALE)
    large_label = label(RECORDS_PER_SCALE * LARGE_SCALE)
    # The connection that creates and destroys the test database (the wrapper itself, not the
    # `connection` proxy, which follows whatever _use() installs).
    server = connections["default"]
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as folder:
        old_name = server.settings_dict["NAME"]
        create_throwaway_database(folder, "pages.sqlite3")
        small_name = server.settings_dict["NAME"]
        try:
            seeder = Seeder(datetime.now(UTC))
            seeder.grow_to(1)
            server.close()  # measured on a new connection, without the seeding's page cache
            if server.vendor == "sqlite":
                # Both sizes side by side: the small database is copied, the copy grown.
                large_name = str(Path(folder) / "pages-large.sqlite3")
                _copy_sqlite(small_name, large_name)
                small_db, large_db = _connection_to(small_name), _connection_to(large_name)
                _use(large_db)
                seeder.grow_to(LARGE_SCALE)
                large_db.close()
                large_db = _connection_to(large_name)
                measured = _measure(seeder, {small_label: small_db, large_label: large_db})
                small_db.close()
                large_db.close()
            else:
                small = _measure(seeder, {small_label: server})[small_label]
                seeder.grow_to(LARGE_SCALE)
                server.close()
                large = _measure(seeder, {large_label: server})[large_label]
                measured = {small_label: small, large_label: large}
        finally:
            _use(server)
            server.creation.destroy_test_db(old_name, verbosity=0)
    small, large = measured[small_label], measured[large_label]
    database = "SQLite" if server.vendor == "sqlite" else "PostgreSQL"
    figures = {}
    for page in small:
        same_queries = large[page]["queries"] == small[page]["queries"]
        f = figure(
            what=(
                f"`{re.sub(r'[0-9]+', 'N', large[page]['url'])}` at {large_label} records vs "
                f"{small_label}, {database}, {large[page]['queries']} / "
                f"{small[page]['queries']} queries"
            ),
            value=large[page]["ms"],
            unit="ms",
            baseline=small[page]["ms"],
            baseline_is=f"the same page's median at {small_label} records in the same run",
            target=f"<={TARGET}",
            queries=large[page]["queries"],
            queries_baseline=small[page]["queries"],
            slowest_sql=large[page]["slowest_sql"],
        )
        f["pass"] = f["pass"] and same_queries
        name = f"{prefix}_{page}_{large_label}_vs_{small_label}"
        figures[name] = f
        show(name, f)
    return figures


if __name__ == "__main__":
    main()
