"""Asynchronous invocations: the 202, retries, destinations, the dead-letter queue, and every
envelope a record can arrive in. The session's sandbox waits 0.2 s then 0.4 s between retries."""

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.sandbox.helpers import invoke, record_for, wait_for_message

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

ARN_LATEST = re.compile(r"^arn:aws:lambda:us-east-1:\d{12}:function:(?P<name>[\w-]+):\$LATEST$")


def test_an_event_answers_202_at_once_then_sends_a_success_record(awslambda, sqs):
    started = time.monotonic()

    response = invoke(awslambda, "orders", {"order": 42, "items": ["book"]}, InvocationType="Event")

    assert response["StatusCode"] == 202
    assert response["Payload"] == b""
    assert time.monotonic() - started < 1.0
    message = wait_for_message(sqs, "orders-on-success", record_for(response["RequestId"]))
    record = json.loads(message["Body"])
    assert list(record) == [
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    ]
    assert record["version"] == "1.0"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", record["timestamp"])
    context = record["requestContext"]
    assert ARN_LATEST.match(context["functionArn"]).group("name") == "orders"
    assert (context["condition"], context["approximateInvokeCount"]) == ("Success", 1)
    assert record["requestPayload"] == {"order": 42, "items": ["book"]}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"order": 42, "status": "processed", "items": 1}


def test_a_failing_event_is_retried_then_sends_a_retries_exhausted_record(awslambda, sqs):
    config = awslambda.get_function_event_invoke_config(FunctionName="orders")
    max_retries = config.get("MaximumRetryAttempts", 2)

    response = invoke(awslambda, "orders", {"order": -1}, InvocationType="Event")

    message = wait_for_message(sqs, "orders-on-failure", record_for(response["RequestId"]))
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == max_retries + 1
    assert record["requestPayload"] == {"order": -1}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["requestId"] == response["RequestId"]


def test_every_retry_keeps_the_request_id(awslambda, sqs, logs):
    response = invoke(awslambda, "orders", {"order": 0}, InvocationType="Event")
    wait_for_message(sqs, "orders-on-failure", record_for(response["RequestId"]))

    events = logs.filter_log_events(
        logGroupName="/aws/lambda/orders", filterPattern=f'"{response["RequestId"]}"'
    )["events"]

    starts = [event for event in events if event["message"].startswith("START RequestId: ")]
    assert len(starts) == 3


def test_a_failed_event_goes_to_the_dead_letter_queue_with_lambdas_attributes(awslambda, sqs):
    response = invoke(awslambda, "orders", {"order": "dead letter"}, InvocationType="Event")

    message = wait_for_message(
        sqs,
        "orders-dlq",
        lambda m: (
            m.get("MessageAttributes", {}).get("RequestID", {}).get("StringValue")
            == response["RequestId"]
        ),
    )

    assert json.loads(message["Body"]) == {"order": "dead letter"}
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": response["RequestId"]}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"] == {
        "DataType": "String",
        "StringValue": "order must be a positive integer, got 'dead letter'",
    }


def test_a_flaky_function_succeeds_on_its_retry(awslambda, sqs):
    response = invoke(awslambda, "flaky", {"attempt": "first"}, InvocationType="Event")

    message = wait_for_message(sqs, "flaky-on-success", record_for(response["RequestId"]))

    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"] == {"ok": True}


def test_a_record_through_sns_arrives_in_the_notification_envelope(awslambda, sqs):
    response = invoke(awslambda, "notify", {"to": "ops"}, InvocationType="Event")

    def matches(message):
        body = json.loads(message["Body"])
        return json.loads(body["Message"])["requestContext"]["requestId"] == response["RequestId"]

    message = wait_for_message(sqs, "notify-on-failure", matches)

    envelope = json.loads(message["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"].endswith(":notify-failures")
    record = json.loads(envelope["Message"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responsePayload"]["errorType"] == "ConnectionError"


def test_a_record_through_eventbridge_arrives_as_a_lambda_event(awslambda, sqs):
    response = invoke(awslambda, "billing", {"amount_cents": "ten"}, InvocationType="Event")

    def matches(message):
        body = json.loads(message["Body"])
        return body["detail"]["requestContext"]["requestId"] == response["RequestId"]

    message = wait_for_message(sqs, "billing-on-failure", matches)

    event = json.loads(message["Body"])
    assert event["source"] == "lambda"
    assert event["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert event["detail"]["requestContext"]["condition"] == "RetriesExhausted"
    assert event["detail"]["requestPayload"] == {"amount_cents": "ten"}
    assert event["detail"]["responsePayload"]["errorType"] == "ValueError"


def test_an_event_for_zero_reserved_concurrency_fails_at_once_without_retries(
    awslambda, sqs, make_function
):
    failures = sqs.create_queue(QueueName=f"zero-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dead_letters = sqs.create_queue(QueueName=f"zero-dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    name = make_function(
        "def lambda_handler(event, context):\n    return 'ran'\n",
        DeadLetterConfig={"TargetArn": queue_arn(sqs, dead_letters)},
    )
    awslambda.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    # Six hours of event age is over a minute even in the session's compressed time.
    awslambda.put_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=21600,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn(sqs, failures)}},
    )
    started = time.monotonic()

    response = invoke(awslambda, name, {"attempt": 1}, InvocationType="Event")

    message = wait_for_message(sqs, failures.rsplit("/", 1)[-1], record_for(response["RequestId"]))
    assert time.monotonic() - started < 10
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"attempt": 1}
    assert "responseContext" not in record
    dead = wait_for_message(sqs, dead_letters.rsplit("/", 1)[-1], lambda m: True)
    assert json.loads(dead["Body"]) == {"attempt": 1}
    assert dead["MessageAttributes"]["RequestID"]["StringValue"] == response["RequestId"]
    assert dead["MessageAttributes"]["ErrorCode"]["StringValue"] == "429"


def test_an_event_throttled_past_its_maximum_age_ends_as_event_age_exceeded(
    awslambda, sqs, make_function
):
    failures = sqs.create_queue(QueueName=f"busy-failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    started = sqs.create_queue(QueueName=f"busy-started-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    name = make_function(
        "import time\n\nimport boto3\n\ndef lambda_handler(event, context):\n"
        "    if 'started' in event:\n"
        "        boto3.client('sqs').send_message(QueueUrl=event['started'], MessageBody='go')\n"
        "        time.sleep(3)\n",
        Timeout=10,
    )
    awslambda.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    awslambda.put_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=60,  # 0.2 s in the session's compressed time
        DestinationConfig={"OnFailure": {"Destination": queue_arn(sqs, failures)}},
    )

    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(invoke, awslambda, name, {"started": started})
        wait_for_message(sqs, started.rsplit("/", 1)[-1], lambda m: True)
        response = invoke(awslambda, name, {"attempt": 1}, InvocationType="Event")
        message = wait_for_message(
            sqs, failures.rsplit("/", 1)[-1], record_for(response["RequestId"])
        )
        busy.result()

    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responsePayload" not in record


def queue_arn(sqs, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]
