"""Fault injection on the broker and the worker: Redis stopped while people invoke, the worker
killed in the middle of a synchronous invoke."""

import time

import boto3
import pytest
from django.db import transaction

from invocations import invoking
from invocations.models import Invocation
from tests import processes

SUBMITTED = 5


@pytest.mark.sandbox
@pytest.mark.broker
@pytest.mark.timeout(90)
def test_invocations_submitted_while_redis_is_down_stay_queued_and_run_once_it_is_back(
    transactional_db, sandbox_env, redis_server, client, alice
):
    from invocations import inventory

    inventory.sync(sandbox_env)
    client.force_login(alice)
    redis_server.stop()

    try:
        answers = [
            client.post(
                "/functions/hello/invoke/",
                {"invocation_type": "RequestResponse", "payload": f'{{"n": {n}}}'},
            )
            for n in range(SUBMITTED)
        ]
        waiting = list(Invocation.objects.order_by("id"))
        page = client.get(f"/invocations/{waiting[0].pk}/")
    finally:
        redis_server.start()
    worker = processes.celery_worker(redis_server.url).start()
    try:
        sent = invoking.requeue_unsent()  # what beat's requeue_unsent does
        processes.wait_until(
            lambda: (
                Invocation.objects.filter(status=Invocation.Status.SUCCEEDED).count() == SUBMITTED
            ),
            timeout=45,
            message="the queued invocations did not run once Redis was back",
        )
    finally:
        worker.stop()

    assert [answer.status_code for answer in answers] == [302] * SUBMITTED
    assert len(waiting) == SUBMITTED
    assert {row.status for row in waiting} == {Invocation.Status.QUEUED}
    assert {row.error_code for row in waiting} == {invoking.BROKER_DOWN}
    assert "broker (Redis) did not answer" in page.content.decode()
    assert sent == SUBMITTED
    done = list(Invocation.objects.order_by("id"))
    assert [row.status for row in done] == [Invocation.Status.SUCCEEDED] * SUBMITTED
    assert all(row.error_code == "" and row.request_id for row in done)
    assert all(row.attempts == 1 for row in done)


@pytest.mark.sandbox
@pytest.mark.broker
@pytest.mark.timeout(90)
def test_a_replay_confirmed_while_redis_is_down_waits_and_runs_once_it_is_back(
    transactional_db, sandbox_env, redis_server, client, admin_user
):
    from invocations import grouping, replay
    from invocations.models import ReplayBatch
    from tests import factories

    record = factories.failure_record(function="hello", payload={"name": "ann"})
    with transaction.atomic():  # as the poller does: it locks the group
        grouping.group_records([record])
    client.force_login(admin_user)
    redis_server.stop()

    try:
        confirmed = client.post("/replay/start/", {"records": str(record.pk)})
        batch = ReplayBatch.objects.get()
        page = client.get(f"/replay/{batch.pk}/")
        # Work that beat repeats anyway is only delayed: never a 500 either.
        refreshed = client.post("/inventory/refresh/", follow=True)
        polled = client.post(f"/queues/{record.queue.pk}/poll/", follow=True)
    finally:
        redis_server.start()
    worker = processes.celery_worker(redis_server.url).start()
    try:
        sent = replay.requeue_unsent()  # what beat's requeue_unsent does
        processes.wait_until(
            lambda: ReplayBatch.objects.get().status == ReplayBatch.Status.DONE,
            timeout=45,
            message="the replay did not run once Redis was back",
        )
    finally:
        worker.stop()

    assert confirmed.status_code == 302
    assert (batch.status, batch.unsent) == (ReplayBatch.Status.PENDING, True)
    assert "the task queue (Redis) did not answer" in page.content.decode()
    assert (refreshed.status_code, polled.status_code) == (200, 200)
    assert "Redis) did not answer: the inventory is refreshed" in refreshed.content.decode()
    assert "Redis) did not answer: this poll was not sent" in polled.content.decode()
    assert sent == 1
    batch.refresh_from_db()
    assert (batch.unsent, batch.succeeded) == (False, 1)
    assert Invocation.objects.filter(replay_of=record).count() == 1


def _start_lines(sandbox, marker: str, since_ms: int) -> int:
    logs = boto3.client("logs", endpoint_url=sandbox.endpoint_url, region_name=sandbox.region)
    events = logs.filter_log_events(
        logGroupName="/aws/lambda/slow", startTime=since_ms, filterPattern=f'"{marker}"'
    )["events"]
    return len(events)


@pytest.mark.sandbox
@pytest.mark.broker
@pytest.mark.timeout(90)
def test_a_worker_killed_during_a_synchronous_invoke_never_invokes_it_a_second_time(
    transactional_db, sandbox_env, sandbox, redis_server
):
    since_ms = int(time.time() * 1000) - 1000
    seconds = 1.4321  # the handler logs "sleeping 1.4321 s": this invocation's own line
    worker = processes.celery_worker(redis_server.url, visibility_timeout=3).start()
    invocation = invoking.start(
        environment=sandbox_env,
        function_name="slow",
        payload=f'{{"seconds": {seconds}}}',
    )
    processes.wait_until(
        lambda: Invocation.objects.get(pk=invocation.pk).status == Invocation.Status.RUNNING,
        timeout=30,
        message=f"the worker never started the invoke:\n{worker.output()}",
    )
    time.sleep(0.5)  # the request is with the sandbox, the handler sleeping

    worker.kill()
    killed_at = time.monotonic()
    restarted = processes.celery_worker(redis_server.url, visibility_timeout=3).start()
    try:
        final = processes.wait_until(
            lambda: (row := Invocation.objects.get(pk=invocation.pk)).is_done and row,
            timeout=40,
            message=f"the task never came back:\n{restarted.output()}",
        )
        redelivered_after = time.monotonic() - killed_at
        time.sleep(seconds + 0.5)  # had it been invoked again, its START line would be there
        runs = _start_lines(sandbox, f"sleeping {seconds} s", since_ms)
    finally:
        restarted.stop()

    assert final.status == Invocation.Status.FAILED
    assert final.error_code == "WorkerLost"
    assert final.error_text == "worker lost during invoke; it may have run, see the logs"
    assert final.attempts == 1
    assert runs == 1
    assert redelivered_after < 30
