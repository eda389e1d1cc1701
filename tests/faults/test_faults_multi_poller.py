"""Fault injection in the production shape: PostgreSQL, three pollers on separate "machines"
(processes) and two Celery workers draining four queues at once, one poller at a time SIGKILLed,
while a replay runs on the very groups the queues feed. Nothing is lost, nothing is stored twice,
every deadlock PostgreSQL broke was retried, and each group counts exactly what it holds."""

import random
import re
import time

import boto3
import pytest
from django.db import connection, transaction
from django.db.models import Count

from dashboard.celery import app
from invocations.failures import grouping
from invocations.models import (
    ExecutionRecord,
    FailureGroup,
    Invocation,
    ReplayBatch,
    WatchedQueue,
)
from tests import processes
from tests.faults.test_faults_poller import _depth, _record_body
from tests.waiting import wait_until

QUEUES = 4
MESSAGES = 1_000  # a queue
POLLERS = 3
KILLS = 6
SEED = 40  # records stored first, to be replayed while the queues drain
# A killed poller's received batch and its lease come back after this long.
VISIBILITY_SECONDS = 2
LEASE_SECONDS = "2"
ERROR_TYPES = ["ValueError", "KeyError", "TypeError"]  # three groups, fed by every queue


def _body(number: int) -> str:
    body = _record_body(number)
    return body.replace('"ValueError"', f'"{ERROR_TYPES[number % len(ERROR_TYPES)]}"')


def _fill(sqs, environment, name: str, count: int):
    url = sqs.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)}
    )["QueueUrl"]
    sent = set()
    for start in range(0, count, 10):
        entries = [
            {"Id": str(n), "MessageBody": _body(n)} for n in range(start, min(start + 10, count))
        ]
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not answer.get("Failed")
        sent.update(item["MessageId"] for item in answer["Successful"])
    queue = WatchedQueue.objects.create(
        environment=environment, url=url, kind="destination", function_name="orders"
    )
    return queue, sent


def _poller() -> processes.Process:
    return processes.manage(
        "poll_queues", "--once", "--wait", "0", POLL_CLAIM_SECONDS=LEASE_SECONDS
    ).start()


def _deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.sandbox
@pytest.mark.broker
@pytest.mark.timeout(240)
def test_three_pollers_killed_in_turn_and_two_workers_store_four_queues_once_during_a_replay(
    transactional_db, sandbox_env, sandbox, redis_server, admin_user
):
    sqs = boto3.client("sqs", endpoint_url=sandbox.endpoint_url, region_name=sandbox.region)
    seed_queue, _ = _fill(sqs, sandbox_env, f"multi-seed-{time.time_ns()}", SEED)
    assert processes.manage("poll_queues", "--once", "--wait", "0").start().wait(60) == 0
    replayed = list(ExecutionRecord.objects.filter(queue=seed_queue).order_by("pk"))
    WatchedQueue.objects.filter(pk=seed_queue.pk).update(enabled=False)
    queues = {}
    for n in range(QUEUES):
        queue, sent = _fill(sqs, sandbox_env, f"multi-{n}-{time.time_ns()}", MESSAGES)
        queues[queue.pk] = (queue, sent)
    deadlocks_before = _deadlocks()
    worker_env = {"POLL_CLAIM_SECONDS": LEASE_SECONDS, "POLL_TIME_BUDGET_SECONDS": "20"}
    workers = [
        processes.celery_worker(redis_server.url, concurrency=3, **worker_env).start()
        for _ in range(2)
    ]
    pollers = [_poller() for _ in range(POLLERS)]
    every = list(pollers)
    rng = random.Random(12)
    kills, killed = 0, []

    def stored() -> int:
        return ExecutionRecord.objects.filter(queue__in=queues).count()

    try:
        # A replay of the seed records into `orders`: each one fails again and is counted into
        # the same groups the pollers are counting into, and the batch's end recounts them.
        batch = ReplayBatch.objects.create(
            environment=sandbox_env,
            created_by=admin_user,
            function_name="orders",
            record_ids=[record.pk for record in replayed],
            rate_per_second=10,
            breaker_threshold=SEED + 1,
            skipped=0,
        )
        app.send_task("invocations.tasks.run_replay_batch", args=[batch.pk])
        for queue in queues:  # "Poll now" on each queue: the workers drain beside the pollers
            app.send_task("invocations.tasks.poll_queue", args=[queue])
        wait_until(lambda: stored() > 0, timeout=30, message="nothing stored")

        # One poller at a time is killed at a random moment and another takes its place.
        while kills < KILLS and stored() < QUEUES * MESSAGES:
            time.sleep(rng.uniform(0.5, 1.5))
            running = [p for p in pollers if p.running]
            if running:
                victim = rng.choice(running)
                victim.kill()
                killed.append(victim)
                kills += 1
            pollers = [p for p in pollers if p.running]
            while len(pollers) < POLLERS:
                pollers.append(_poller())
                every.append(pollers[-1])

        # Then pollers run until every queue is empty: killed batches come back after the
        # visibility timeout, killed leases after theirs.
        def drained() -> bool:
            nonlocal pollers
            pollers = [p for p in pollers if p.running]
            if stored() == QUEUES * MESSAGES and not any(
                _depth(sqs, queue.url) for queue, _ in queues.values()
            ):
                return True
            while len(pollers) < POLLERS:
                pollers.append(_poller())
                every.append(pollers[-1])
            return False

        wait_until(drained, timeout=120, interval=0.5, message="the queues never drained")
        wait_until(
            lambda: ReplayBatch.objects.get(pk=batch.pk).status == ReplayBatch.Status.DONE,
            timeout=30,
            message="the replay did not finish",
        )
    finally:
        for process in every:
            process.kill()
        for worker in workers:
            worker.stop()

    for poller in every:
        if poller not in killed and poller.process.returncode != -9:
            assert poller.process.returncode == 0, poller.output()
    for queue, sent in queues.values():
        ids = list(ExecutionRecord.objects.filter(queue=queue).values_list("message_id", flat=True))
        assert len(ids) == MESSAGES, queue.name
        assert set(ids) == sent, queue.name
        queue.refresh_from_db()
        assert queue.records_stored == MESSAGES
        assert queue.last_error == "", queue.last_error
    assert kills == KILLS, f"only {kills} kills: the drain finished first"
    batch.refresh_from_db()
    assert (batch.failed, batch.succeeded, batch.skipped) == (SEED, 0, 0)
    assert Invocation.objects.filter(replay_batch=batch).count() == SEED
    groups = FailureGroup.objects.annotate(
        stored=Count("records", distinct=True), grouped=Count("invocations", distinct=True)
    )
    assert groups.count() >= len(ERROR_TYPES)
    for group in groups:
        assert group.count == group.stored + group.grouped, group
        backlog = group.backlog_count
        with transaction.atomic():
            grouping.refresh_backlog(group)
        assert backlog == group.backlog_count, group
    # PostgreSQL counts the deadlocks it broke; each one ended a transaction of the pollers or
    # workers, which logged that it tried again; one not retried would have logged its error.
    logs = "".join(process.log_path.read_text(errors="replace") for process in every + workers)
    retried = len(re.findall(r"PostgreSQL broke a deadlock", logs))
    print(f"deadlocks retried: {retried}, kills: {kills}, pollers started: {len(every)}")
    assert _deadlocks() - deadlocks_before <= retried
    assert "deadlock detected" not in logs  # psycopg's message, in the traceback of one not retried
