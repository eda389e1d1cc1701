"""`--latency-ms` answers every request late: the stand-in for AWS across a network."""

import time

import boto3
import pytest
from botocore.config import Config

from sandbox.server import parse_latency_ms
from sandbox.testing import run_sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(90)]


def median_call_ms(endpoint_url: str, calls: int = 7) -> float:
    client = boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )
    client.list_queues()  # the connection is opened outside the timing
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        client.list_queues()
        timings.append((time.perf_counter() - started) * 1000)
    return sorted(timings)[calls // 2]


def test_every_answer_comes_at_least_the_latency_late():
    with run_sandbox(seed=False, latency_ms=150) as sandbox:
        median = median_call_ms(sandbox.endpoint_url)

    # A lower bound only: a busy machine can make a call slower, never faster than the delay.
    assert median >= 150


@pytest.mark.parametrize("text", ["fast", "-1", "60001"])
def test_a_latency_that_is_not_a_sane_number_is_refused(text):
    with pytest.raises(ValueError, match="--latency-ms"):
        parse_latency_ms(text)
