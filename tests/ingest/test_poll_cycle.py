"""A poll cycle over quiet queues: the long poll once, then short receives, so eight empty
queues cost milliseconds each instead of a second each; a message still arrives."""

import time
import uuid

import pytest

from invocations import aws
from invocations.ingest import polling
from invocations.models import WatchedQueue

pytestmark = pytest.mark.sandbox


@pytest.fixture
def quiet_queues(sandbox_env):
    sqs = aws.client(sandbox_env, "sqs")
    urls = [
        sqs.create_queue(QueueName=f"quiet-{uuid.uuid4().hex[:8]}")["QueueUrl"] for _ in range(4)
    ]
    rows = [
        WatchedQueue.objects.create(environment=sandbox_env, url=url, kind="destination")
        for url in urls
    ]
    yield rows
    for url in urls:
        sqs.delete_queue(QueueUrl=url)


def timed_pass(queues) -> float:
    started = time.monotonic()
    polling.poll_all(queues)
    return time.monotonic() - started


def test_quiet_queues_are_asked_with_short_receives_after_one_long_poll(sandbox_env, quiet_queues):
    first = timed_pass(quiet_queues)
    second = timed_pass(quiet_queues)
    aws.client(sandbox_env, "sqs").send_message(
        QueueUrl=quiet_queues[2].url, MessageBody='{"not": "a lambda record"}'
    )
    third = polling.poll_all(quiet_queues)

    assert first >= 4 * polling.RECEIVE_WAIT_SECONDS  # each empty queue waited its long poll
    assert second < 1.0  # four short receives
    assert [r.received for r in third.results] == [0, 0, 1, 0]
    polled = WatchedQueue.objects.get(pk=quiet_queues[0].pk)
    assert polled.last_poll_seconds is not None and polled.last_poll_seconds < 1.0


def test_a_quiet_queue_is_long_polled_again_after_a_while(sandbox_env, quiet_queues, monkeypatch):
    timed_pass(quiet_queues[:1])
    monkeypatch.setattr(polling, "LONG_POLL_AT_LEAST_EVERY", 0.0)

    again = timed_pass(quiet_queues[:1])

    assert again >= polling.RECEIVE_WAIT_SECONDS
