"""Fault injection on AWS itself: the sandbox stopped and started again. Invocations end
`failed` with a reason that says nothing was invoked; polling stores the error on the queue and
recovers by itself when AWS answers again."""

import json

import boto3
import pytest

from invocations import aws
from invocations.access.actor import SYSTEM
from invocations.ingest import polling
from invocations.invoking import lifecycle
from invocations.models import ExecutionRecord, Invocation, WatchedQueue
from tests import processes


@pytest.fixture
def private_sandbox(db):
    """A sandbox of this test's own (the session's must keep running), the default environment
    pointed at it."""
    from invocations.models import Environment

    sandbox = processes.Sandbox().start()
    environment = Environment.objects.default()
    environment.endpoint_url = sandbox.endpoint_url
    environment.save()
    aws.reset_clients()
    yield sandbox, environment
    sandbox.stop()
    aws.reset_clients()


def _invoke(environment, function: str, invocation_type: str = "RequestResponse") -> Invocation:
    invocation = lifecycle.start(
        actor=SYSTEM,
        environment=environment,
        function_name=function,
        invocation_type=invocation_type,
        payload="{}",
    )
    lifecycle.run(invocation.pk)  # what the worker's task does
    invocation.refresh_from_db()
    return invocation


@pytest.mark.sandbox
@pytest.mark.timeout(90)
def test_with_aws_down_invocations_fail_clearly_and_polling_records_the_error_then_recovers(
    private_sandbox,
):
    sandbox, environment = private_sandbox
    url = f"{sandbox.endpoint_url}/123456789012/orders-on-failure"
    queue = WatchedQueue.objects.create(
        environment=environment, url=url, kind="destination", function_name="orders"
    )

    sandbox.stop()
    sync = _invoke(environment, "hello")
    asynchronous = _invoke(environment, "orders", "Event")
    down = polling.poll_queue(queue, budget_seconds=5, wait_seconds=0)
    queue.refresh_from_db()
    failing_while_down = queue.is_failing
    error_while_down = queue.last_error
    sandbox.start()
    sqs = boto3.client("sqs", endpoint_url=sandbox.endpoint_url, region_name=sandbox.region)
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(
            {
                "version": "1.0",
                "requestContext": {
                    "requestId": "5d3b3f4e-1c1a-4c1e-9d0a-3a2f6b1e7c11",
                    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": 3,
                },
                "responsePayload": {"errorType": "ValueError", "errorMessage": "bad order"},
            }
        ),
    )
    back = polling.poll_queue(queue, budget_seconds=5, wait_seconds=0)
    queue.refresh_from_db()
    after = _invoke(environment, "hello")

    for failed in (sync, asynchronous):
        assert failed.status == Invocation.Status.FAILED
        assert failed.error_code == "EndpointConnectionError"
        assert failed.error_text.startswith(f"Could not reach {sandbox.endpoint_url}")
        assert failed.error_text.endswith("Nothing was invoked.")
    assert down.stored == 0
    assert "Could not connect" in down.error or "EndpointConnectionError" in down.error
    assert failing_while_down
    assert error_while_down == down.error[:2000]
    assert back.error == ""
    assert back.stored == 1
    assert not queue.is_failing
    assert ExecutionRecord.objects.get(queue=queue).error_type == "ValueError"
    assert after.status == Invocation.Status.SUCCEEDED
