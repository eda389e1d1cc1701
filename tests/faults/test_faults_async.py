"""A burst of asynchronous invocations of functions that fail once (`flaky`) or never run
(`throttled`, reserved concurrency 0): every one is accounted for, by the record Lambda sends to
its destination (linked by request ID) or by a clear final status."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from invocations.access.actor import SYSTEM
from invocations.ingest import polling
from invocations.invoking import lifecycle
from invocations.models import ExecutionRecord, Invocation, WatchedQueue
from tests import processes

EACH = 50


def _submit(environment, function: str) -> int:
    # A payload of its own: flaky fails the first time it sees an event (a marker per payload).
    try:
        return lifecycle.start(
            environment=environment,
            function_name=function,
            invocation_type=Invocation.Type.EVENT,
            payload=json.dumps({"burst": str(uuid.uuid4())}),
            actor=SYSTEM,
        ).pk
    finally:
        connection.close()


def _accounted(pks: list[int]) -> list[int]:
    """The invocations done and explained: a linked record, or a failed/throttled status."""
    linked = set(
        ExecutionRecord.objects.filter(invocation_id__in=pks).values_list(
            "invocation_id", flat=True
        )
    )
    explained = set(
        Invocation.objects.filter(
            pk__in=pks, status__in=[Invocation.Status.FAILED, Invocation.Status.THROTTLED]
        ).values_list("pk", flat=True)
    )
    return sorted(linked | explained)


@pytest.mark.sandbox
@pytest.mark.broker
@pytest.mark.timeout(120)
def test_a_hundred_concurrent_event_invocations_of_flaky_and_throttled_are_all_accounted_for(
    transactional_db, sandbox_env, sandbox, redis_server
):
    queues = [
        WatchedQueue.objects.create(
            environment=sandbox_env,
            url=f"{sandbox.endpoint_url}/123456789012/{name}",
            kind="destination",
            function_name=function,
        )
        for name, function in [
            ("flaky-on-success", "flaky"),
            ("throttled-on-failure", "throttled"),
        ]
    ]
    worker = processes.celery_worker(redis_server.url, concurrency=4).start()
    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            pks = list(
                pool.map(
                    lambda function: _submit(sandbox_env, function),
                    ["flaky", "throttled"] * EACH,
                )
            )
        deadline = time.monotonic() + 90
        while len(_accounted(pks)) < len(pks) and time.monotonic() < deadline:
            polling.poll_all(queues, budget_seconds=10, wait_seconds=0)
            time.sleep(0.3)
    finally:
        worker.stop()

    rows = {row.pk: row for row in Invocation.objects.filter(pk__in=pks)}
    by_function = {
        function: [row for row in rows.values() if row.function_name == function]
        for function in ("flaky", "throttled")
    }
    assert len(pks) == 2 * EACH
    missing = [rows[pk] for pk in sorted(set(pks) - set(_accounted(pks)))]
    assert not missing, [
        (
            row.pk,
            row.function_name,
            row.status,
            row.request_id,
            ExecutionRecord.objects.filter(request_id=row.request_id).count(),
        )
        for row in missing
    ]
    assert all(row.status_code == 202 for row in rows.values())  # each accepted (202)
    # ...and each one's status is then its reported outcome.
    assert {(row.status, row.attempts) for row in by_function["flaky"]} == {("succeeded", 2)}
    assert {row.status_text for row in by_function["throttled"]} == {
        "never ran: ZeroReservedConcurrency"
    }
    flaky_outcomes = ExecutionRecord.objects.filter(invocation__in=by_function["flaky"])
    throttled_outcomes = ExecutionRecord.objects.filter(invocation__in=by_function["throttled"])
    assert set(flaky_outcomes.values_list("condition", "approximate_invoke_count")) == {
        ("Success", 2)
    }
    assert flaky_outcomes.count() == EACH
    # Reserved concurrency 0: Lambda sends each event to OnFailure at once, without retries.
    assert set(throttled_outcomes.values_list("condition", "approximate_invoke_count")) == {
        ("ZeroReservedConcurrency", 0)
    }
    assert throttled_outcomes.count() == EACH
