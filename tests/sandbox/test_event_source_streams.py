"""Kinesis and DynamoDB stream mappings run by the sandbox's poller: retries, bisection, the
maximum record age, and the stream-failure record sent to the OnFailure destination. The
session's sandbox compresses time by 0.2 / 60, so a 60 s maximum record age is 0.2 s."""

import json
import re
import time
import uuid

import pytest

from tests.sandbox.helpers import wait_for_message

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(90)]

ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# Logs each batch's data, then fails when any record says "bad".
KINESIS_HANDLER = """
import base64, json

def lambda_handler(event, context):
    data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    print("BATCH " + json.dumps(data))
    if any(item.startswith("bad") for item in data):
        raise ValueError("a bad record")
    return {"ok": len(data)}
"""

DYNAMODB_HANDLER = """
import json

def lambda_handler(event, context):
    names = [r["eventName"] for r in event["Records"]]
    print("BATCH " + json.dumps(names))
    raise RuntimeError("cannot store " + ",".join(names))
"""


@pytest.fixture(scope="module")
def kinesis(aws_client):
    return aws_client("kinesis")


@pytest.fixture
def failure_queue(sqs):
    name = f"on-failure-{uuid.uuid4().hex[:12]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return name, arn


@pytest.fixture
def make_stream(kinesis):
    def make() -> tuple[str, str]:
        name = f"stream-{uuid.uuid4().hex[:12]}"
        kinesis.create_stream(StreamName=name, ShardCount=1)
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return name, summary["StreamARN"]

    return make


def logged_batches(logs, function: str, count: int, timeout: float = 30.0) -> list[list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            events = logs.filter_log_events(
                logGroupName=f"/aws/lambda/{function}", filterPattern="BATCH"
            )["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        batches = [
            json.loads(event["message"][len("BATCH ") :])
            for event in sorted(events, key=lambda e: e["timestamp"])
            if event["message"].startswith("BATCH ")
        ]
        if len(batches) >= count:
            return batches
        assert time.monotonic() < deadline, f"only {batches} within {timeout} s"
        time.sleep(0.2)


def test_a_batch_failing_past_its_retries_sends_a_record_with_kinesis_batch_info(
    make_function, make_stream, failure_queue, awslambda, kinesis, sqs, logs
):
    function = make_function(KINESIS_HANDLER)
    stream, stream_arn = make_stream()
    queue_name, queue_arn = failure_queue
    put = [
        kinesis.put_record(StreamName=stream, Data=data.encode(), PartitionKey="p")
        for data in ["good-1", "bad-1"]
    ]
    mapping = awslambda.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    assert mapping["State"] in ("Creating", "Enabled")

    message = wait_for_message(sqs, queue_name, lambda m: True)

    record = json.loads(message["Body"])
    assert list(record) == [
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "KinesisBatchInfo",
    ]
    context = record["requestContext"]
    assert context["condition"] == "RetryAttemptsExhausted"
    assert context["approximateInvokeCount"] == 3
    assert context["functionArn"].endswith(f":function:{function}")
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["version"] == "1.0"
    assert ISO_MILLIS.match(record["timestamp"])
    info = record["KinesisBatchInfo"]
    assert info["shardId"] == put[0]["ShardId"]
    assert info["startSequenceNumber"] == put[0]["SequenceNumber"]
    assert info["endSequenceNumber"] == put[1]["SequenceNumber"]
    assert info["batchSize"] == 2
    assert info["streamArn"] == stream_arn
    assert ISO_MILLIS.match(info["approximateArrivalOfFirstRecord"])
    assert info["approximateArrivalOfFirstRecord"] <= info["approximateArrivalOfLastRecord"]
    assert logged_batches(logs, function, 3) == [["good-1", "bad-1"]] * 3


def test_bisection_isolates_the_bad_record_and_processes_the_others(
    make_function, make_stream, failure_queue, awslambda, kinesis, sqs, logs
):
    function = make_function(KINESIS_HANDLER)
    stream, stream_arn = make_stream()
    queue_name, queue_arn = failure_queue
    put = [
        kinesis.put_record(StreamName=stream, Data=data.encode(), PartitionKey="p")
        for data in ["a", "b", "bad", "d"]
    ]

    awslambda.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    record = json.loads(wait_for_message(sqs, queue_name, lambda m: True)["Body"])
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == put[2]["SequenceNumber"]
    # Halves in order, the failing one halved again; bisecting uses no retry, and with
    # MaximumRetryAttempts 0 the bad record alone is tried once.
    assert logged_batches(logs, function, 5) == [
        ["a", "b", "bad", "d"],
        ["a", "b"],
        ["bad", "d"],
        ["bad"],
        ["d"],
    ]


def test_records_older_than_the_maximum_record_age_are_discarded_with_record_age_exceeded(
    make_function, make_stream, failure_queue, awslambda, kinesis, sqs
):
    function = make_function(KINESIS_HANDLER)
    stream, stream_arn = make_stream()
    queue_name, queue_arn = failure_queue
    kinesis.put_record(StreamName=stream, Data=b"bad-forever", PartitionKey="p")

    awslambda.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=60,  # AWS's minimum; 0.2 s in the session's sandbox
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )  # MaximumRetryAttempts is -1: infinite, so only the age can end it

    record = json.loads(wait_for_message(sqs, queue_name, lambda m: True)["Body"])
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["KinesisBatchInfo"]["batchSize"] == 1


def test_a_stream_keeps_its_order_and_moves_on_after_a_discarded_batch(
    make_function, make_stream, failure_queue, awslambda, kinesis, sqs, logs
):
    function = make_function(KINESIS_HANDLER)
    stream, stream_arn = make_stream()
    queue_name, queue_arn = failure_queue
    awslambda.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    for data in ["first", "bad", "third"]:
        kinesis.put_record(StreamName=stream, Data=data.encode(), PartitionKey="p")

    assert logged_batches(logs, function, 3) == [["first"], ["bad"], ["third"]]
    record = json.loads(wait_for_message(sqs, queue_name, lambda m: True)["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_a_dynamodb_stream_failure_sends_ddb_stream_batch_info(
    make_function, failure_queue, aws_client, awslambda, sqs, logs
):
    dynamodb = aws_client("dynamodb")
    function = make_function(DYNAMODB_HANDLER)
    queue_name, queue_arn = failure_queue
    table = f"table-{uuid.uuid4().hex[:12]}"
    stream_arn = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    dynamodb.put_item(TableName=table, Item={"id": {"S": "order-1"}, "total": {"N": "12"}})
    dynamodb.put_item(TableName=table, Item={"id": {"S": "order-1"}, "total": {"N": "13"}})

    awslambda.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    record = json.loads(wait_for_message(sqs, queue_name, lambda m: True)["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    info = record["DDBStreamBatchInfo"]
    assert info["streamArn"] == stream_arn
    assert info["batchSize"] == 2
    assert int(info["startSequenceNumber"]) < int(info["endSequenceNumber"])
    assert logged_batches(logs, function, 2) == [["INSERT", "MODIFY"]] * 2


def test_a_partial_batch_response_retries_from_the_lowest_reported_sequence_number(
    make_function, make_stream, failure_queue, awslambda, kinesis, sqs, logs
):
    reporting = KINESIS_HANDLER.replace(
        """    if any(item.startswith("bad") for item in data):
        raise ValueError("a bad record")
""",
        """    failures = [
        {"itemIdentifier": r["kinesis"]["sequenceNumber"]}
        for r, item in zip(event["Records"], data)
        if item.startswith("bad")
    ]
    return {"batchItemFailures": failures}
""",
    )
    function = make_function(reporting)
    stream, stream_arn = make_stream()
    queue_name, queue_arn = failure_queue
    put = [
        kinesis.put_record(StreamName=stream, Data=data.encode(), PartitionKey="p")
        for data in ["ok-1", "bad-2", "ok-3", "bad-4"]
    ]

    awslambda.create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    record = json.loads(wait_for_message(sqs, queue_name, lambda m: True)["Body"])
    assert logged_batches(logs, function, 2) == [
        ["ok-1", "bad-2", "ok-3", "bad-4"],
        ["bad-2", "ok-3", "bad-4"],
    ]
    info = record["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        put[1]["SequenceNumber"],
        put[3]["SequenceNumber"],
        3,
    )
    assert "functionError" not in record["responseContext"]
