"""What each index on the invocations table costs an invoke's writes.

Run: `.venv/bin/python -m bench invocation_indexes` (about a minute).

In a throwaway SQLite database, migrated and holding SEED invocations, times the three writes
every invoke makes to its row (the INSERT on the web side; the claim and the outcome UPDATEs in
the worker), each in its own transaction as the code runs them, CYCLES times: the CPU time of
this thread (time.thread_time: the database runs in the process), median of ROUNDS rounds.
Measured with the table's indexes as they are, then with each of the bare foreign-key indexes
that the migration dropped put back alone (each is covered by a composite index that leads with
the same column), then with both back: what those indexes cost each invoke.

- `invocation_writes_cpu_us`: CPU per invoke's three writes with today's indexes; baseline: the
  same with the two dropped indexes put back. Target: at most 1.0 (never dearer).
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import figure, scaled, show  # noqa: E402

SEED = scaled(20_000, 200)
CYCLES = scaled(400, 20)
ROUNDS = scaled(5, 1)
DROPPED = {
    "environment": 'CREATE INDEX bench_env ON invocations_invocation ("environment_id")',
    "failure_group": 'CREATE INDEX bench_group ON invocations_invocation ("failure_group_id")',
}


def _cycle_us(environment, group) -> float:
    """Median over ROUNDS of the thread CPU µs per invoke's three writes."""
    from django.db import transaction
    from django.utils import timezone

    from invocations.models import Invocation

    rounds = []
    for _ in range(ROUNDS):
        cpu = time.thread_time()
        for number in range(CYCLES):
            with transaction.atomic():
                row = Invocation.objects.create(
                    environment=environment, function_name="hello", payload='{"n": 1}'
                )
            Invocation.objects.filter(pk=row.pk, status="queued").update(
                status="running", started_at=timezone.now(), attempts=1
            )
            Invocation.objects.filter(pk=row.pk).update(
                status="function_error" if number % 4 == 0 else "succeeded",
                status_code=200,
                request_id=f"r-{row.pk}",
                response_payload='{"ok": true}',
                finished_at=timezone.now(),
                failure_group=group if number % 4 == 0 else None,
            )
        rounds.append((time.thread_time() - cpu) / CYCLES * 1e6)
    return statistics.median(rounds)


def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-indexes-") as folder:
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/indexes.sqlite3"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings_test")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.utils import timezone

        from invocations.models import Environment, FailureGroup, Invocation

        call_command("migrate", verbosity=0)
        environment = Environment.objects.default()
        now = timezone.now()
        group = FailureGroup.objects.create(
            environment=environment,
            fingerprint="f" * 64,
            function_name="hello",
            error_class="error",
            first_seen=now,
            last_seen=now,
        )
        Invocation.objects.bulk_create(
            Invocation(
                environment=environment,
                function_name=f"fn-{n % 20}",
                status="succeeded",
                request_id=f"seed-{n}",
                failure_group=group if n % 5 == 0 else None,
            )
            for n in range(SEED)
        )
        _cycle_us(environment, group)  # warm: the page cache, the ORM's caches
        measured = {"today": _cycle_us(environment, group)}
        for name, sql in DROPPED.items():
            with connection.cursor() as cursor:
                cursor.execute(sql)
            measured[f"with {name}"] = _cycle_us(environment, group)
            with connection.cursor() as cursor:
                cursor.execute(f"DROP INDEX {sql.split()[2]}")
        with connection.cursor() as cursor:
            for sql in DROPPED.values():
                cursor.execute(sql)
        measured["with both"] = _cycle_us(environment, group)
        connection.close()
    for name, value in measured.items():
        print(f"info: an invoke's three writes, indexes {name}: {value:.0f} µs CPU", flush=True)
    result = figure(
        what=(
            "CPU of an invoke's three writes to its row (insert, claim, outcome), SQLite, "
            f"{SEED:,} rows; each dropped index alone: "
            + ", ".join(
                f"{name} {measured[f'with {name}'] - measured['today']:+.0f} µs" for name in DROPPED
            )
        ),
        value=measured["today"],
        unit="µs",
        baseline=measured["with both"],
        baseline_is="the same writes with the two bare foreign-key indexes put back",
        target="<=1.0",
        digits=1,
        **{f"with_{name}_us": round(measured[f"with {name}"], 1) for name in DROPPED},
    )
    show("invocation_writes_cpu_us", result)
    return {"invocation_writes_cpu_us": result}


if __name__ == "__main__":
    main()
