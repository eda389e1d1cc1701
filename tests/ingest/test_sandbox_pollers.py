"""The sandbox pollers' pure parts: reading a partial batch response, building Lambda's SQS
record and stream-failure record, and the percentile statistic."""

import pytest

from sandbox.mappings import Outcome
from sandbox.metrics import percentile
from sandbox.sqs_poller import failed_message_ids, lambda_record
from sandbox.stream_poller import Batch, StreamRecord, failure_record

BATCH = [{"MessageId": "m1"}, {"MessageId": "m2"}, {"MessageId": "m3"}]
EVERY_ID = {"m1", "m2", "m3"}


@pytest.mark.parametrize(
    ("answer", "failed"),
    [
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({}, set()),
        (None, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m9"}]}, EVERY_ID),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, EVERY_ID),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, EVERY_ID),
        ({"batchItemFailures": [{"id": "m1"}]}, EVERY_ID),
        ({"batchItemFailures": "m1"}, EVERY_ID),
    ],
)
def test_it_reads_a_partial_batch_response_as_lambda_does(answer, failed):
    assert failed_message_ids(answer, BATCH, partial_responses=True) == failed


def test_it_ignores_a_partial_batch_response_the_mapping_did_not_ask_for():
    answer = {"batchItemFailures": [{"itemIdentifier": "m2"}]}

    assert failed_message_ids(answer, BATCH, partial_responses=False) == set()


def test_it_builds_lambdas_sqs_record_from_a_received_message():
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "handle",
        "Body": "hello",
        "MD5OfBody": "5d41402abc4b2a76b9719d911017c592",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1", "Policy": "x"},
        "MessageAttributes": {
            "kind": {"DataType": "String", "StringValue": "order"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    }

    record = lambda_record(message, "arn:aws:sqs:us-east-1:123456789012:in", "us-east-1")

    assert record["attributes"] == {"ApproximateReceiveCount": "2", "SentTimestamp": "1"}
    assert record["messageAttributes"] == {
        "kind": {
            "stringValue": "order",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "blob": {
            "binaryValue": "AAE=",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        "arn:aws:sqs:us-east-1:123456789012:in",
        "us-east-1",
    )


def test_a_stream_failure_record_has_lambdas_keys_in_lambdas_order():
    records = [
        StreamRecord("101", 1_790_000_000.25, {}),
        StreamRecord("107", 1_790_000_002.5, {}),
    ]
    last = Outcome(invoked=True, request_id="r-1", function_error="Unhandled")
    batch = Batch(records, retries=3, invokes=4, last=last)

    record = failure_record(
        "arn:aws:lambda:us-east-1:123456789012:function:reader",
        "RetryAttemptsExhausted",
        batch,
        "KinesisBatchInfo",
        "shardId-000000000000",
        "arn:aws:kinesis:us-east-1:123456789012:stream/in",
    )

    assert list(record) == [
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "KinesisBatchInfo",
    ]
    assert record["requestContext"] == {
        "requestId": "r-1",
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:reader",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 4,
    }
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["KinesisBatchInfo"] == {
        "shardId": "shardId-000000000000",
        "startSequenceNumber": "101",
        "endSequenceNumber": "107",
        "approximateArrivalOfFirstRecord": "2026-09-21T14:13:20.250Z",
        "approximateArrivalOfLastRecord": "2026-09-21T14:13:22.500Z",
        "batchSize": 2,
        "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/in",
    }


def test_a_batch_that_never_ran_has_no_response_context():
    batch = Batch([StreamRecord("5", 1_790_000_000.0, {})])

    record = failure_record("arn", "RecordAgeExceeded", batch, "DDBStreamBatchInfo", "s", "arn2")

    assert "responseContext" not in record
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1


@pytest.mark.parametrize(
    ("rank", "expected"), [(50, 5.0), (90, 9.0), (99, 10.0), (100, 10.0), (0, 1.0)]
)
def test_percentiles_are_nearest_rank(rank, expected):
    values = [float(value) for value in range(10, 0, -1)]

    assert percentile(values, rank) == expected


def test_a_percentile_of_nothing_is_none():
    assert percentile([], 99) is None
