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


@pytest.fixture
def waits(monkeypatch):
    """The WaitTimeSeconds of every ReceiveMessage the poller sends, in order."""
    asked: list[int] = []
    receive = aws.receive_messages

    def counting(environment, queue_url, wait_seconds=0):
        asked.append(wait_seconds)
        return receive(environment, queue_url, wait_seconds=wait_seconds)

    monkeypatch.setattr(aws, "receive_messages", counting)
    return asked


def test_quiet_queues_are_asked_with_short_receives_after_one_long_poll(
    sandbox_env, quiet_queues, waits
):
    # Lower bounds only: a busy machine can make a pass slower, never faster than its waits.
    first = timed_pass(quiet_queues)
    first_waits = list(waits)
    polling.poll_all(quiet_queues)
    second_waits = waits[len(first_waits) :]
    aws.client(sandbox_env, "sqs").send_message(
        QueueUrl=quiet_queues[2].url, MessageBody='{"not": "a lambda record"}'
    )
    third = polling.poll_all(quiet_queues)

    assert first_waits == [polling.RECEIVE_WAIT_SECONDS] * 4  # each empty queue: its long poll
    assert first >= 4 * polling.RECEIVE_WAIT_SECONDS  # and waited it out
    assert second_waits == [0, 0, 0, 0]  # then four short receives
    assert [r.received for r in third.results] == [0, 0, 1, 0]
    assert WatchedQueue.objects.get(pk=quiet_queues[0].pk).last_poll_seconds is not None


def test_a_quiet_queue_is_long_polled_again_after_a_while(sandbox_env, quiet_queues, monkeypatch):
    timed_pass(quiet_queues[:1])
    monkeypatch.setattr(polling, "LONG_POLL_AT_LEAST_EVERY", 0.0)

    again = timed_pass(quiet_queues[:1])

    assert again >= polling.RECEIVE_WAIT_SECONDS
