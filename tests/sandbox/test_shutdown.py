"""Stopping the sandbox stops its background threads: the pollers of event source mappings
and the asynchronous queue."""

import json
import signal

import boto3
import pytest

from sandbox.testing import run_sandbox
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(90)]


def test_sigterm_stops_a_sandbox_with_running_pollers_promptly_and_cleanly():
    with run_sandbox(seed=True) as sandbox:
        sqs = boto3.client(
            "sqs",
            endpoint_url=sandbox.endpoint_url,
            region_name=sandbox.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        url = sqs.get_queue_url(QueueName="queue-worker-input")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"quantity": 1}))
        wait_until_consumed(sqs, url)  # so the queue's poller is surely running

        sandbox.process.send_signal(signal.SIGTERM)
        # A failure limit, not a measure: a poller waits at most its 1 s long poll.
        exit_code = sandbox.process.wait(timeout=60)

    assert exit_code == 0
    assert "Traceback" not in sandbox.log_path.read_text()


def wait_until_consumed(sqs, url: str, timeout: float = 60.0) -> None:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    def consumed() -> bool:
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return counts == dict.fromkeys(names, "0")

    wait_until(consumed, timeout=timeout, message="queue-worker never consumed its queue")
