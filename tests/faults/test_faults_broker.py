"""Fault injection on the broker and the worker: Redis stopped while people invoke, the worker
killed in the middle of a synchronous invoke."""

import io
import json
import time
import uuid
import zipfile

import boto3
import pytest
from django.db import transaction

from invocations.access.actor import SYSTEM
from invocations.invoking import lifecycle
from invocations.models import Invocation
from tests import processes
from tests.waiting import wait_until

SUBMITTED = 5


@pytest.mark.sandbox
@pytest.mark.broker
@pytest.mark.timeout(90)
def test_invocations_submitted_while_redis_is_down_stay_queued_and_run_once_it_is_back(
    transactional_db, sandbox_env, redis_server, client, alice
):
    from invocations.invoking import inventory

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
        sent = lifecycle.requeue_unsent()  # what beat's requeue_unsent does
        wait_until(
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
    assert {row.error_code for row in waiting} == {lifecycle.BROKER_DOWN}
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
    from invocations.failures import grouping
    from invocations.invoking import replay
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
        wait_until(
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


# A handler that says it has started (a message on a queue) before it sleeps: the test kills
# the worker only once the invoke has really reached the function, whatever the machine's load.
SIGNALLING_HANDLER = """
import time

import boto3


def lambda_handler(event, context):
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=event["signal"], MessageBody=context.aws_request_id)
    time.sleep(event["seconds"])
    return {"slept": event["seconds"]}
"""


def _signalling_function(sandbox) -> tuple[str, str]:
    """A throwaway function and the queue it signals on; returns (function name, queue URL)."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=sandbox.region
    )
    sqs = session.client("sqs", endpoint_url=sandbox.endpoint_url)
    awslambda = session.client("lambda", endpoint_url=sandbox.endpoint_url)
    name = f"signals-{uuid.uuid4().hex[:10]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("lambda_function.py", SIGNALLING_HANDLER)
    awslambda.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::123456789012:role/lambda-sandbox",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": archive.getvalue()},
        Timeout=30,
    )
    return name, queue_url


def _runs_signalled(sandbox, queue_url: str) -> list[str]:
    """The request IDs of every run that started, read off the signal queue."""
    sqs = boto3.client("sqs", endpoint_url=sandbox.endpoint_url, region_name=sandbox.region)
    request_ids = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return request_ids
        for message in messages:
            request_ids.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.mark.sandbox
@pytest.mark.broker
@pytest.mark.timeout(120)
def test_a_worker_killed_during_a_synchronous_invoke_never_invokes_it_a_second_time(
    transactional_db, sandbox_env, sandbox, redis_server
):
    seconds = 3
    function_name, signal_url = _signalling_function(sandbox)
    worker = processes.celery_worker(redis_server.url, visibility_timeout=3).start()
    invocation = lifecycle.start(
        actor=SYSTEM,
        environment=sandbox_env,
        function_name=function_name,
        payload=json.dumps({"signal": signal_url, "seconds": seconds}),
    )
    started = wait_until(
        lambda: _runs_signalled(sandbox, signal_url),
        timeout=60,
        message=f"the function never started:\n{worker.output()}",
    )

    worker.kill()
    killed_at = time.monotonic()
    restarted = processes.celery_worker(redis_server.url, visibility_timeout=3).start()
    try:
        final = wait_until(
            lambda: (row := Invocation.objects.get(pk=invocation.pk)).is_done and row,
            timeout=40,
            message=f"the task never came back:\n{restarted.output()}",
        )
        redelivered_after = time.monotonic() - killed_at
        # Had it been invoked again, that run would have signalled by now: the handler's first
        # step is the signal, and the first run took no longer than this to send its own.
        time.sleep(seconds + 1)
        started += _runs_signalled(sandbox, signal_url)
    finally:
        restarted.stop()

    assert final.status == Invocation.Status.FAILED
    assert final.error_code == "WorkerLost"
    assert final.error_text == "worker lost during invoke; it may have run, see the logs"
    assert final.attempts == 1
    assert len(started) == 1
    assert redelivered_after < 30
