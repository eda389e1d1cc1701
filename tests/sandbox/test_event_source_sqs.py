"""SQS event source mappings run by the sandbox's poller: batching, the batching window,
partial batch responses, and failed messages reaching the queue's redrive DLQ."""

import json
import uuid

import pytest

from tests.sandbox.helpers import wait_for_message
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(90)]

# Prints one line per batch, then reports the bodies starting with "bad" as failures.
BATCH_HANDLER = """
import json

def lambda_handler(event, context):
    bodies = [record["body"] for record in event["Records"]]
    print("BATCH " + json.dumps(bodies))
    failures = [
        {"itemIdentifier": record["messageId"]}
        for record in event["Records"]
        if record["body"].startswith("bad")
    ]
    return {"batchItemFailures": failures}
"""


@pytest.fixture
def make_queue(sqs):
    def make(**attributes) -> tuple[str, str]:
        name = f"esm-{uuid.uuid4().hex[:12]}"
        settings = {key: str(value) for key, value in attributes.items()}
        url = sqs.create_queue(QueueName=name, Attributes=settings)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, arn

    return make


def batches_seen(logs, function: str, expected_messages: int, timeout: float = 30.0):
    """The bodies of every batch the function logged, once ``expected_messages`` were seen."""

    def batches():
        try:
            events = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{function}", filterPattern="BATCH"
            )["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        found = [
            json.loads(event["message"][len("BATCH ") :])
            for event in sorted(events, key=lambda e: e["timestamp"])
            if event["message"].startswith("BATCH ")
        ]
        return found if sum(len(batch) for batch in found) >= expected_messages else None

    return wait_until(batches, timeout, message=f"fewer than {expected_messages} messages seen")


def queue_counts(sqs, url: str) -> dict[str, int]:
    """Visible and in-flight (received, not yet deleted) messages."""
    names = {
        "ApproximateNumberOfMessages": "visible",
        "ApproximateNumberOfMessagesNotVisible": "in_flight",
    }
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names))["Attributes"]
    return {short: int(counts[name]) for name, short in names.items()}


def wait_until_empty(sqs, url: str, timeout: float = 10.0) -> None:
    """Until the queue holds no message, visible or in flight: every one was deleted."""
    empty = {"visible": 0, "in_flight": 0}
    wait_until(lambda: queue_counts(sqs, url) == empty, timeout, message="the queue kept messages")


# Waits for the S3 object named by its message to exist, then logs whether it appeared. (S3, not
# a file: each environment has its own /tmp, and the host's files are not the function's.)
WAIT_FOR_RELEASE_HANDLER = """
import json, time
import boto3

s3 = boto3.client("s3")

def lambda_handler(event, context):
    bucket, key = event["Records"][0]["body"].split("/", 1)
    deadline = time.monotonic() + 20
    released = False
    while not released and time.monotonic() < deadline:
        try:
            s3.head_object(Bucket=bucket, Key=key)
            released = True
        except Exception:
            time.sleep(0.02)
    print("BATCH " + json.dumps(["released" if released else "never released"]))
"""


def test_send_message_to_a_mapped_queue_returns_before_the_function_runs(
    make_function, make_queue, awslambda, sqs, logs, aws_client
):
    # The function waits for an object that is created only once SendMessage has returned:
    # run inside SendMessage (as moto did), it would wait in vain and log "never released".
    function = make_function(WAIT_FOR_RELEASE_HANDLER)
    url, arn = make_queue(VisibilityTimeout=30)
    awslambda.create_event_source_mapping(FunctionName=function, EventSourceArn=arn)
    s3 = aws_client("s3")
    bucket = f"release-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)

    sqs.send_message(QueueUrl=url, MessageBody=f"{bucket}/release")
    s3.put_object(Bucket=bucket, Key="release", Body=b"")

    assert batches_seen(logs, function, 1) == [["released"]]


def test_a_batching_window_gathers_messages_that_arrive_after_its_first_receive(
    make_function, make_queue, awslambda, sqs, logs
):
    function = make_function(BATCH_HANDLER)
    url, arn = make_queue(VisibilityTimeout=60)
    # A window far longer than the test: the batch ends when it is full (three messages),
    # so no step below races the window's end.
    awslambda.create_event_source_mapping(
        FunctionName=function, EventSourceArn=arn, BatchSize=3, MaximumBatchingWindowInSeconds=20
    )

    for received, body in enumerate(["one", "two", "three"], start=1):
        sqs.send_message(QueueUrl=url, MessageBody=body)
        if received < 3:
            # The poller holds it (in flight) before the next one is sent.
            wait_until(lambda n=received: queue_counts(sqs, url)["in_flight"] == n)

    assert batches_seen(logs, function, 3) == [["one", "two", "three"]]


def test_batches_never_exceed_the_batch_size(make_function, make_queue, awslambda, sqs, logs):
    function = make_function(BATCH_HANDLER)
    url, arn = make_queue(VisibilityTimeout=30)
    bodies = [f"m{index}" for index in range(7)]
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
    )

    awslambda.create_event_source_mapping(
        FunctionName=function, EventSourceArn=arn, BatchSize=3, MaximumBatchingWindowInSeconds=1
    )

    batches = batches_seen(logs, function, 7)
    assert sorted(body for batch in batches for body in batch) == sorted(bodies)
    assert max(len(batch) for batch in batches) == 3


def test_reported_failures_return_to_the_queue_until_the_redrive_dlq_takes_them(
    make_function, make_queue, awslambda, sqs, logs
):
    function = make_function(BATCH_HANDLER)
    dlq_url, dlq_arn = make_queue()
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    # Longer than the window plus the invoke, as AWS advises: a message must not come back
    # while its batch is still being gathered or run.
    url, arn = make_queue(VisibilityTimeout=3, RedrivePolicy=redrive)
    awslambda.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=arn,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "1", "MessageBody": "good-1"},
            {"Id": "2", "MessageBody": "bad-1"},
            {"Id": "3", "MessageBody": "good-2"},
        ],
    )

    dead = wait_for_message(sqs, dlq_url.rsplit("/", 1)[-1], lambda m: True, timeout=30)
    assert dead["Body"] == "bad-1"
    batches = batches_seen(logs, function, 4)
    seen = [body for batch in batches for body in batch]
    assert sorted(seen) == ["bad-1", "bad-1", "good-1", "good-2"]  # maxReceiveCount is 2
    wait_until_empty(sqs, url)


def test_without_report_batch_item_failures_a_successful_answer_deletes_the_whole_batch(
    make_function, make_queue, awslambda, sqs, logs
):
    function = make_function(BATCH_HANDLER)
    url, arn = make_queue(VisibilityTimeout=3)
    awslambda.create_event_source_mapping(
        FunctionName=function, EventSourceArn=arn, MaximumBatchingWindowInSeconds=1
    )

    sqs.send_message(QueueUrl=url, MessageBody="bad-but-not-reported")

    assert batches_seen(logs, function, 1) == [["bad-but-not-reported"]]
    wait_until_empty(sqs, url)  # a message left behind would stay visible or in flight
    assert batches_seen(logs, function, 1) == [["bad-but-not-reported"]]


def test_a_function_error_returns_every_message_of_the_batch(
    make_function, make_queue, awslambda, sqs, logs
):
    failing = BATCH_HANDLER.replace("    return {", "    raise ValueError('no')\n    return {")
    function = make_function(failing)
    dlq_url, dlq_arn = make_queue()
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    url, arn = make_queue(VisibilityTimeout=3, RedrivePolicy=redrive)
    awslambda.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=arn,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "1", "MessageBody": "x-1"}, {"Id": "2", "MessageBody": "x-2"}],
    )

    name = dlq_url.rsplit("/", 1)[-1]
    dead = {wait_for_message(sqs, name, lambda m: True)["Body"] for _ in range(2)}
    assert dead == {"x-1", "x-2"}


def test_filter_criteria_select_the_messages_and_the_others_are_deleted(
    make_function, make_queue, awslambda, sqs, logs
):
    """ "Control which events Lambda sends to your function": an SQS message whose JSON body
    matches a filter reaches the function; the others are deleted
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html)."""
    function = make_function(BATCH_HANDLER)
    url, arn = make_queue()
    awslambda.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=arn,
        BatchSize=10,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]},
    )

    order = json.dumps({"kind": "order", "n": 1})
    for body in (order, json.dumps({"kind": "refund", "n": 2}), "not json at all"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    batches_seen(logs, function, expected_messages=1)
    wait_until_empty(sqs, url)
    assert [body for batch in batches_seen(logs, function, 1) for body in batch] == [order]
