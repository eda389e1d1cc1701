"""Fault injection on ingestion: the poller killed at random moments, the database refusing
writes during a poll. Whatever breaks, every message ends up stored once and deleted only after
its record is committed."""

import json
import random
import time
import uuid

import boto3
import pytest
from django.db import OperationalError

from invocations.ingest import polling
from invocations.models import ExecutionRecord, WatchedQueue
from invocations.shared import bulk
from tests import processes
from tests.waiting import wait_until

MESSAGES = 2_000
KILLS = 20


def _sqs(sandbox):
    return boto3.client("sqs", endpoint_url=sandbox.endpoint_url, region_name=sandbox.region)


def _record_body(number: int) -> str:
    request_id = str(uuid.uuid4())
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-11-26T15:48:18.521Z",
            "requestContext": {
                "requestId": request_id,
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": {"order": -number},
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {
                "errorMessage": f"order must be a positive integer, got {-number}",
                "errorType": "ValueError",
                "stackTrace": ['  File "/var/task/lambda_function.py", line 9, in lambda_handler'],
            },
        }
    )


def _fill(sqs, environment, count: int, visibility_timeout: int = 1):
    """A new queue holding `count` destination records, watched; returns (queue, message IDs)."""
    url = sqs.create_queue(
        QueueName=f"faults-{uuid.uuid4().hex[:12]}",
        Attributes={"VisibilityTimeout": str(visibility_timeout)},
    )["QueueUrl"]
    sent = set()
    for start in range(0, count, 10):
        entries = [
            {"Id": str(n), "MessageBody": _record_body(n)}
            for n in range(start, min(start + 10, count))
        ]
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not answer.get("Failed")
        sent.update(item["MessageId"] for item in answer["Successful"])
    queue = WatchedQueue.objects.create(
        environment=environment, url=url, kind="destination", function_name="orders"
    )
    return queue, sent


def _depth(sqs, url) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _poller() -> processes.Process:
    # A one-second lease: a killed poller's queue is free again a second later.
    return processes.manage("poll_queues", "--once", "--wait", "0", POLL_CLAIM_SECONDS="1")


@pytest.mark.sandbox
@pytest.mark.timeout(150)
def test_a_poller_killed_twenty_times_at_random_moments_stores_every_message_exactly_once(
    transactional_db, sandbox_env, sandbox
):
    sqs = _sqs(sandbox)
    queue, sent = _fill(sqs, sandbox_env, MESSAGES)
    rng = random.Random(20)
    kills, mid_drain = 0, 0

    while kills < KILLS:
        before = ExecutionRecord.objects.filter(queue=queue).count()
        poller = _poller().start()
        # Wait until it is draining (or done), then kill it at a random moment of the drain:
        # mid-receive, mid-transaction, between the commit and the delete.
        wait_until(
            lambda b=before, p=poller: (
                not p.running or ExecutionRecord.objects.filter(queue=queue).count() > b
            ),
            timeout=20,
            interval=0.02,
            message=f"the poller neither stored anything nor exited:\n{poller.output()}",
        )
        time.sleep(rng.uniform(0, 0.1))
        if poller.running:
            poller.kill()
            kills += 1
            mid_drain += ExecutionRecord.objects.filter(queue=queue).count() < MESSAGES
        elif ExecutionRecord.objects.filter(queue=queue).count() == MESSAGES:
            break
    # Then let it finish: killed batches come back after the 1 s visibility timeout.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
        ExecutionRecord.objects.filter(queue=queue).count() < MESSAGES or _depth(sqs, queue.url)
    ):
        poller = _poller().start()
        assert poller.wait(timeout=60) == 0, poller.output()
        time.sleep(0.3)

    stored = list(ExecutionRecord.objects.filter(queue=queue).values_list("message_id", flat=True))
    assert kills >= KILLS, f"only {kills} kills: the drain finished first"
    assert mid_drain >= KILLS
    assert len(stored) == MESSAGES
    assert set(stored) == sent
    assert _depth(sqs, queue.url) == 0
    queue.refresh_from_db()
    assert queue.records_stored == MESSAGES


@pytest.mark.sandbox
@pytest.mark.timeout(60)
def test_when_the_database_refuses_writes_no_message_is_deleted_and_the_next_poll_stores_them(
    db, sandbox_env, sandbox, monkeypatch
):
    sqs = _sqs(sandbox)
    queue, sent = _fill(sqs, sandbox_env, 25, visibility_timeout=1)

    def refuse(*args, **kwargs):
        raise OperationalError("database is locked")

    with monkeypatch.context() as patched:
        patched.setattr(bulk, "insert_skipping_conflicts", refuse)  # the records' insert
        failed = polling.poll_queue(queue, budget_seconds=0, wait_seconds=0)
    depth_after_failure = _depth(sqs, queue.url)
    queue.refresh_from_db()
    error = queue.last_error
    time.sleep(1.2)  # the received batch becomes visible again
    recovered = polling.poll_queue(queue, budget_seconds=0, wait_seconds=0)

    assert failed.stored == 0
    assert "OperationalError: database is locked" in failed.error
    assert "database is locked" in error
    assert depth_after_failure == 25
    assert recovered.error == ""
    assert recovered.stored == 25
    assert set(ExecutionRecord.objects.values_list("message_id", flat=True)) == sent
    assert _depth(sqs, queue.url) == 0
