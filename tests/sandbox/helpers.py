"""Helpers for the sandbox tests: invoke and read, wait for queue messages."""

import json
import time

from tests.waiting import wait_until


def invoke(awslambda, name: str, payload=None, **kwargs) -> dict:
    """Invokes and returns boto3's response with ``Payload`` read and the request ID at the top."""
    body = json.dumps({} if payload is None else payload).encode()
    response = awslambda.invoke(FunctionName=name, Payload=body, **kwargs)
    response["Payload"] = response["Payload"].read()
    response["RequestId"] = response["ResponseMetadata"]["RequestId"]
    return response


def queue_url(sqs, name: str) -> str:
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def wait_for_message(sqs, name: str, matches, timeout: float = 20.0) -> dict:
    """Long-polls the queue until a message for which ``matches(message)`` is true arrives;
    deletes and returns it. Other tests' messages are left for them (visibility 0)."""
    url = queue_url(sqs, name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wait = max(1, min(5, int(deadline - time.monotonic())))
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
        )
        for message in response.get("Messages", []):
            if matches(message):
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                return message
    raise AssertionError(f"no matching message on {name} within {timeout} s")


def record_for(request_id: str):
    """Matches a destination record (a plain SQS body) of one request."""

    def matches(message) -> bool:
        body = json.loads(message["Body"])
        return body.get("requestContext", {}).get("requestId") == request_id

    return matches


def wait_for_log_line(logs, name: str, prefix: str, timeout: float = 20.0) -> str:
    """The first line of function ``name``'s log that starts with ``prefix``, once written."""

    def line():
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        return next((e["message"] for e in events if e["message"].startswith(prefix)), None)

    return wait_until(line, timeout, message=f"no {prefix!r} line in {name}'s log")
