"""The parser against every message shape Lambda, SNS and EventBridge write to a queue, with
bodies as AWS writes them."""

import json
from datetime import UTC, datetime

import pytest

from invocations.ingest.records import (
    MAX_BODY_BYTES_WITH_PAYLOADS,
    MAX_SHORT,
    MAX_STACK_TRACE,
    MAX_TEXT,
    attributes_for_storage,
    function_name_from_arn,
    parse_message,
)

REQUEST_ID = "c9b8fa9f-5a7f-4b2e-af9c-0c604cde93a5"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST"
PYTHON_TRACE = [
    '  File "/var/task/app.py", line 12, in handler\n    total = order_total(event)\n',
    '  File "/var/task/app.py", line 5, in order_total\n    raise ValueError("bad order")\n',
]


def destination_record(**changes):
    """A RetriesExhausted record of a Python function that raised, as Lambda sends it."""
    record = {
        "version": "1.0",
        "timestamp": "2026-11-26T15:48:18.521Z",
        "requestContext": {
            "requestId": REQUEST_ID,
            "functionArn": FUNCTION_ARN,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": {"order": 42},
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": "bad order",
            "errorType": "ValueError",
            "requestId": REQUEST_ID,
            "stackTrace": PYTHON_TRACE,
        },
    }
    record.update(changes)
    return record


def sns_notification(message, attributes=None):
    notification = {
        "Type": "Notification",
        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders-failures",
        "Message": message,
        "Timestamp": "2026-11-26T15:48:19.002Z",
        "SignatureVersion": "1",
        "Signature": (
            "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858f"
            "iTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q="
        ),
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:orders-failures:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
    }
    if attributes is not None:
        notification["MessageAttributes"] = attributes
    return json.dumps(notification)


def dlq_attributes(message="bad order", code="200"):
    return {
        "RequestID": {"DataType": "String", "StringValue": REQUEST_ID},
        "ErrorCode": {"DataType": "Number", "StringValue": code},
        "ErrorMessage": {"DataType": "String", "StringValue": message},
    }


def test_it_reads_every_field_of_a_retries_exhausted_record():
    body = json.dumps(destination_record())

    record = parse_message(body, {}, "destination")

    assert record.kind == "failure"
    assert record.condition == "RetriesExhausted"
    assert record.request_id == REQUEST_ID
    assert record.function_arn == FUNCTION_ARN
    assert record.function_name == "orders"
    assert record.qualifier == "$LATEST"
    assert record.executed_version == "$LATEST"
    assert record.approximate_invoke_count == 3
    assert record.status_code == 200
    assert record.function_error == "Unhandled"
    assert record.error_type == "ValueError"
    assert record.error_message == "bad order"
    assert record.stack_trace == (
        '  File "/var/task/app.py", line 12, in handler\n'
        "    total = order_total(event)\n"
        '  File "/var/task/app.py", line 5, in order_total\n'
        '    raise ValueError("bad order")'
    )
    assert record.request_payload == {"order": 42}
    assert record.has_request_payload is True
    assert record.response_payload["errorType"] == "ValueError"
    assert record.has_response_payload is True
    assert record.record_timestamp == datetime(2026, 11, 26, 15, 48, 18, 521000, tzinfo=UTC)
    assert record.envelope == ""
    assert record.batch_info is None
    assert record.dlq_error_code is None
    assert record.parse_error == ""
    assert record.warnings == ()


@pytest.mark.parametrize("response", ["ok", [1, 2, 3], None, {"orderId": 42}])
def test_it_reads_a_success_record_whatever_the_function_returned(response):
    body = json.dumps(
        destination_record(
            requestContext={
                "requestId": REQUEST_ID,
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders",
                "condition": "Success",
                "approximateInvokeCount": 1,
            },
            responseContext={"statusCode": 200, "executedVersion": "7"},
            responsePayload=response,
        )
    )

    record = parse_message(body, None, "destination")

    assert record.kind == "success"
    assert record.condition == "Success"
    assert record.function_name == "orders"
    assert record.qualifier == ""
    assert record.executed_version == "7"
    assert record.response_payload == response
    assert record.has_response_payload is True
    assert (record.function_error, record.error_type, record.error_message) == ("", "", "")


def test_it_reads_a_success_record_whose_error_shaped_answer_is_not_an_error():
    body = json.dumps(
        destination_record(
            requestContext={"requestId": REQUEST_ID, "functionArn": FUNCTION_ARN,
                            "condition": "Success", "approximateInvokeCount": 1},
            responseContext={"statusCode": 200, "executedVersion": "$LATEST"},
            responsePayload={"errorMessage": "none", "errorType": "Fine"},
        )
    )  # fmt: skip

    record = parse_message(body, None, "destination")

    assert record.kind == "success"
    assert record.error_type == ""
    assert record.error_message == ""


def test_it_reads_an_event_age_exceeded_record_of_a_function_that_never_ran():
    record_dict = destination_record()
    record_dict["requestContext"]["condition"] = "EventAgeExceeded"
    record_dict["requestContext"]["approximateInvokeCount"] = 0
    del record_dict["responseContext"], record_dict["responsePayload"]

    record = parse_message(json.dumps(record_dict), None, "destination")

    assert record.kind == "failure"
    assert record.condition == "EventAgeExceeded"
    assert record.approximate_invoke_count == 0
    assert record.status_code is None
    assert record.executed_version == ""
    assert record.function_error == ""
    assert record.error_type == ""
    assert record.has_response_payload is False
    assert record.request_payload == {"order": 42}
    assert record.warnings == ()


def test_it_reads_a_record_whose_payloads_lambda_dropped_as_too_large():
    record_dict = destination_record()
    del record_dict["requestPayload"], record_dict["responsePayload"]

    record = parse_message(json.dumps(record_dict), None, "destination")

    assert record.kind == "failure"
    assert record.function_error == "Unhandled"
    assert record.has_request_payload is False
    assert record.has_response_payload is False
    assert record.request_payload is None
    assert (record.error_type, record.error_message, record.stack_trace) == ("", "", "")


def test_it_tells_a_json_null_payload_from_a_dropped_one():
    body = json.dumps(destination_record(requestPayload=None))

    record = parse_message(body, None, "destination")

    assert record.request_payload is None
    assert record.has_request_payload is True


def test_it_reads_a_timeout_as_the_error_type_and_message():
    message = f"RequestId: {REQUEST_ID} Error: Task timed out after 3.00 seconds"
    body = json.dumps(
        destination_record(
            responsePayload={"errorType": "Sandbox.Timedout", "errorMessage": message}
        )
    )

    record = parse_message(body, None, "destination")

    assert record.error_type == "Sandbox.Timedout"
    assert record.error_message == message
    assert record.stack_trace == ""


def test_it_reads_a_nodejs_error_whose_stack_is_called_trace():
    body = json.dumps(
        destination_record(
            responsePayload={
                "errorType": "TypeError",
                "errorMessage": "Cannot read properties of undefined (reading 'id')",
                "trace": [
                    "TypeError: Cannot read properties of undefined (reading 'id')",
                    "    at Runtime.handler (file:///var/task/index.mjs:3:27)",
                ],
            }
        )
    )

    record = parse_message(body, None, "destination")

    assert record.error_type == "TypeError"
    assert record.error_message == "Cannot read properties of undefined (reading 'id')"
    assert record.stack_trace == (
        "TypeError: Cannot read properties of undefined (reading 'id')\n"
        "    at Runtime.handler (file:///var/task/index.mjs:3:27)"
    )


def test_it_takes_a_string_error_answer_as_the_message():
    body = json.dumps(destination_record(responsePayload="upstream refused the order"))

    record = parse_message(body, None, "destination")

    assert record.error_type == ""
    assert record.error_message == "upstream refused the order"


def test_it_unwraps_a_record_delivered_through_sns():
    body = sns_notification(json.dumps(destination_record()))

    record = parse_message(body, {}, "destination")

    assert record.kind == "failure"
    assert record.envelope == "sns"
    assert record.request_id == REQUEST_ID
    assert record.error_type == "ValueError"
    assert record.record_timestamp == datetime(2026, 11, 26, 15, 48, 18, 521000, tzinfo=UTC)


def test_it_reads_a_record_delivered_through_sns_with_raw_delivery_as_is():
    body = json.dumps(destination_record())

    record = parse_message(body, {}, "destination")

    assert record.envelope == ""
    assert record.condition == "RetriesExhausted"


def test_it_unwraps_a_record_delivered_through_eventbridge():
    body = json.dumps(
        {
            "version": "0",
            "id": "3f2e4a1b-7c5d-4e6f-8a9b-0c1d2e3f4a5b",
            "detail-type": "Lambda Function Invocation Result - Failure",
            "source": "lambda",
            "account": "123456789012",
            "time": "2026-11-26T15:48:19Z",
            "region": "us-east-1",
            "resources": [
                "arn:aws:events:us-east-1:123456789012:event-bus/default",
                FUNCTION_ARN,
            ],
            "detail": destination_record(),
        }
    )

    record = parse_message(body, None, "destination")

    assert record.kind == "failure"
    assert record.envelope == "eventbridge"
    assert record.function_name == "orders"
    assert record.error_message == "bad order"


def test_it_reads_a_dlq_message_from_its_body_and_attributes():
    body = json.dumps({"order": 42, "customer": "alice"})

    record = parse_message(
        body, dlq_attributes(), "dlq", system_attributes={"SentTimestamp": "1795708098521"}
    )

    assert record.kind == "dlq"
    assert record.request_id == REQUEST_ID
    assert record.dlq_error_code == 200
    assert record.error_message == "bad order"
    assert record.error_type == ""
    assert record.request_payload == {"order": 42, "customer": "alice"}
    assert record.has_request_payload is True
    assert record.has_response_payload is False
    assert record.record_timestamp == datetime(2026, 11, 26, 15, 48, 18, 521000, tzinfo=UTC)
    assert record.function_name == ""
    assert record.parse_error == ""


def test_it_keeps_a_dlq_message_whose_body_is_not_json():
    record = parse_message("order=42&customer=alice", dlq_attributes(), "dlq")

    assert record.kind == "dlq"
    assert record.request_id == REQUEST_ID
    assert record.has_request_payload is False
    assert record.warnings == (
        "body is not JSON: Expecting value: line 1 column 1 (char 0); kept in the raw body only",
    )


def test_it_reads_a_dlq_message_delivered_through_sns():
    attributes = {
        "RequestID": {"Type": "String", "Value": REQUEST_ID},
        "ErrorCode": {"Type": "Number", "Value": "200"},
        "ErrorMessage": {"Type": "String", "Value": "Task timed out after 3.00 seconds"},
    }
    body = sns_notification(json.dumps({"order": 42}), attributes)

    record = parse_message(body, {}, "dlq")

    assert record.kind == "dlq"
    assert record.envelope == "sns"
    assert record.request_id == REQUEST_ID
    assert record.dlq_error_code == 200
    assert record.error_message == "Task timed out after 3.00 seconds"
    assert record.request_payload == {"order": 42}
    assert record.record_timestamp == datetime(2026, 11, 26, 15, 48, 19, 2000, tzinfo=UTC)


def test_it_trusts_dlq_attributes_over_a_body_that_looks_like_a_destination_record():
    body = json.dumps(destination_record())

    record = parse_message(body, dlq_attributes(), "destination")

    assert record.kind == "dlq"
    assert record.request_payload == destination_record()


def test_it_keeps_a_message_without_attributes_in_a_dlq_as_a_dlq_message():
    record = parse_message('{"order": 42}', {}, "dlq")

    assert record.kind == "dlq"
    assert record.request_payload == {"order": 42}
    assert record.warnings == ("no RequestID, ErrorCode or ErrorMessage attribute",)


def test_it_reads_a_destination_record_in_a_queue_registered_as_a_dlq_as_a_record():
    body = json.dumps(destination_record())

    record = parse_message(body, {}, "dlq")

    assert record.kind == "failure"
    assert record.request_id == REQUEST_ID


def test_it_keeps_the_request_id_of_a_dlq_message_it_cannot_read():
    record = parse_message(b"\xff\xfe", dlq_attributes(), "dlq")

    assert record.kind == "unparsed"
    assert record.request_id == REQUEST_ID


def test_it_reads_a_kinesis_stream_failure_record():
    batch = {
        "shardId": "shardId-000000000001",
        "startSequenceNumber": "49601189658422359378836298521827638475320189012309704722",
        "endSequenceNumber": "49601189658422359378836298522902373528957594348623495186",
        "approximateArrivalOfFirstRecord": "2026-11-26T15:47:45.212Z",
        "approximateArrivalOfLastRecord": "2026-11-26T15:47:45.212Z",
        "batchSize": 500,
        "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
    }
    body = json.dumps(
        {
            "requestContext": {
                "requestId": REQUEST_ID,
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders-stream",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 4,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": "2026-11-26T15:48:18.521Z",
            "KinesisBatchInfo": batch,
        }
    )

    record = parse_message(body, None, "destination")

    assert record.kind == "stream_failure"
    assert record.condition == "RetryAttemptsExhausted"
    assert record.function_name == "orders-stream"
    assert record.approximate_invoke_count == 4
    assert record.function_error == "Unhandled"
    assert record.batch_info == {"KinesisBatchInfo": batch}
    assert record.has_request_payload is False
    assert record.has_response_payload is False


def test_it_reads_a_dynamodb_stream_failure_record():
    batch = {
        "shardId": "shardId-00000001605764217185-6a4b11d2",
        "startSequenceNumber": "1134200000000001553580452",
        "endSequenceNumber": "1134200000000001553580452",
        "approximateArrivalOfFirstRecord": "2026-11-26T15:47:45Z",
        "approximateArrivalOfLastRecord": "2026-11-26T15:47:45Z",
        "batchSize": 1,
        "streamArn": (
            "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-01T00:00:00.000"
        ),
    }
    body = json.dumps(
        {
            "requestContext": {
                "requestId": REQUEST_ID,
                "functionArn": FUNCTION_ARN,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 1,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "version": "1.0",
            "timestamp": "2026-11-26T15:48:18.521Z",
            "DDBStreamBatchInfo": batch,
        }
    )

    record = parse_message(body, None, "destination")

    assert record.kind == "stream_failure"
    assert record.batch_info == {"DDBStreamBatchInfo": batch}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("Hello from a script", "body is not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"\x8b\x1f\x00binary", "body is not UTF-8 text (invalid byte at offset 0)"),
        ('{"order": NaN}', "body is not JSON: NaN is not JSON"),
        ('{"order": 1e999}', "body is not JSON: number 1e999 is out of range"),
        ("[" * 50_000 + "]" * 50_000, "JSON nested too deeply to parse"),
        ("[" * 200 + "]" * 200, "JSON nested deeper than 100 levels"),
        ('{"requestContext": "x"}', "requestContext is a string, not an object"),
        (
            '{"requestContext": {"requestId": "x"}}',
            "requestContext.condition is missing or not a string",
        ),
        (
            '{"orderId": 42, "status": "paid"}',
            "body is JSON of an unknown shape (no requestContext): "
            "an object with keys: orderId, status",
        ),
        ("[1, 2]", "body is JSON of an unknown shape (no requestContext): an array"),
        (None, "body is a NoneType, not text"),
    ],
)
def test_it_stores_what_it_cannot_read_as_unparsed_with_the_reason(body, reason):
    record = parse_message(body, {}, "destination")

    assert record.kind == "unparsed"
    assert record.parse_error == reason


def test_it_reports_an_sns_message_that_is_not_a_record():
    body = sns_notification("deploy finished")

    record = parse_message(body, {}, "destination")

    assert record.kind == "unparsed"
    assert record.parse_error.startswith("SNS Message: body is not JSON")


def test_it_reads_a_utf8_body_given_as_bytes():
    body = json.dumps(destination_record(requestPayload={"name": "Zoë"})).encode("utf-8")

    record = parse_message(body, None, "destination")

    assert record.kind == "failure"
    assert record.request_payload == {"name": "Zoë"}


@pytest.mark.parametrize(
    ("count", "expected"),
    [("three", None), ("3", 3), (True, None), (3.0, 3), (-1, None), (40_000, None)],
)
def test_it_degrades_a_wrongly_typed_invoke_count_with_a_warning(count, expected):
    record_dict = destination_record()
    record_dict["requestContext"]["approximateInvokeCount"] = count

    record = parse_message(json.dumps(record_dict), None, "destination")

    assert record.kind == "failure"
    assert record.approximate_invoke_count == expected
    assert bool(record.warnings) is (expected is None)


def test_it_ignores_wrongly_typed_text_fields_with_a_warning():
    record_dict = destination_record(responseContext={"statusCode": "oops", "functionError": 1})
    record_dict["requestContext"]["requestId"] = ["not", "a", "string"]

    record = parse_message(json.dumps(record_dict), None, "destination")

    assert record.kind == "failure"
    assert record.request_id == ""
    assert record.status_code is None
    assert record.function_error == ""
    assert len(record.warnings) == 3


@pytest.mark.parametrize("timestamp", ["yesterday", "2026-13-40T99:00:00Z", 1795708098, ""])
def test_it_leaves_an_invalid_timestamp_empty(timestamp):
    body = json.dumps(destination_record(timestamp=timestamp))

    record = parse_message(body, None, "destination")

    assert record.kind == "failure"
    assert record.record_timestamp is None


def test_it_converts_an_offset_timestamp_to_utc():
    body = json.dumps(destination_record(timestamp="2026-11-26T16:48:18+01:00"))

    record = parse_message(body, None, "destination")

    assert record.record_timestamp == datetime(2026, 11, 26, 15, 48, 18, tzinfo=UTC)


def test_it_cuts_long_error_texts_to_their_bounds():
    body = json.dumps(
        destination_record(
            responsePayload={
                "errorType": "E" * 1000,
                "errorMessage": "m" * 100_000,
                "stackTrace": ["  frame\n"] * 20_000,
            }
        )
    )

    record = parse_message(body, None, "destination")

    assert len(record.error_type) == MAX_SHORT
    assert len(record.error_message) == MAX_TEXT
    assert record.error_message.endswith("…")
    assert len(record.stack_trace) == MAX_STACK_TRACE


def test_it_keeps_no_payload_copies_of_an_oversized_body_but_still_reads_the_error():
    big = "x" * MAX_BODY_BYTES_WITH_PAYLOADS
    body = json.dumps(destination_record(requestPayload={"blob": big}))

    record = parse_message(body, None, "destination")

    assert record.kind == "failure"
    assert record.has_request_payload is False
    assert record.has_response_payload is False
    assert record.error_type == "ValueError"
    assert record.warnings[0].startswith("payloads not kept")


def test_it_drops_a_payload_that_postgresql_could_not_store():
    body = json.dumps(destination_record(requestPayload={"note": "a\x00b"}))

    record = parse_message(body, None, "destination")

    assert record.has_request_payload is False
    assert record.request_payload is None
    assert "NUL" in record.warnings[0]


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"note": "\ud800"}, "surrogate"),
        (json.loads("[" * 100 + "]" * 100), "nested deeper"),
    ],
)
def test_it_drops_other_payloads_postgresql_could_not_store(payload, problem):
    # The body nests one level deeper than its payload: 101 levels in all.
    body = json.dumps(destination_record(requestPayload=payload))

    record = parse_message(body, None, "destination")

    assert record.kind == "failure" or record.kind == "unparsed"
    assert record.request_payload is None
    assert problem in (record.warnings[0] if record.warnings else record.parse_error)


def test_it_cleans_nul_characters_out_of_error_text():
    body = json.dumps(destination_record(responsePayload={"errorMessage": "bad\x00order"}))

    record = parse_message(body, None, "destination")

    assert record.error_message == "badorder"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST", ("orders", "$LATEST")),
        ("arn:aws:lambda:us-east-1:123456789012:function:orders:7", ("orders", "7")),
        ("arn:aws:lambda:us-east-1:123456789012:function:orders:prod", ("orders", "prod")),
        ("arn:aws:lambda:us-east-1:123456789012:function:orders", ("orders", "")),
        ("arn:aws-cn:lambda:cn-north-1:123456789012:function:my_fn", ("my_fn", "")),
        ("123456789012:function:orders:prod", ("orders", "prod")),
        ("orders", ("orders", "")),
        ("orders:prod", ("orders", "prod")),
        ("arn:aws:sqs:us-east-1:123456789012:orders-dlq", ("", "")),
        ("arn:aws:lambda:us-east-1:123456789012:function:", ("", "")),
        ("arn:aws:lambda:us-east-1:123456789012:function:a:b:c", ("", "")),
        ("<script>", ("", "")),
        ("", ("", "")),
        (None, ("", "")),
    ],
)
def test_it_splits_a_function_arn_into_name_and_qualifier(arn, expected):
    result = function_name_from_arn(arn)

    assert result == expected


def test_it_warns_when_the_function_arn_is_not_a_lambda_arn():
    record_dict = destination_record()
    record_dict["requestContext"]["functionArn"] = "arn:aws:sqs:us-east-1:123456789012:orders"

    record = parse_message(json.dumps(record_dict), None, "destination")

    assert record.function_arn == "arn:aws:sqs:us-east-1:123456789012:orders"
    assert record.function_name == ""
    assert record.warnings == ("requestContext.functionArn is not a Lambda function ARN",)


def test_it_makes_binary_attributes_storable_as_json():
    attributes = {
        "RequestID": {"DataType": "String", "StringValue": REQUEST_ID},
        "Checksum": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
    }

    stored = attributes_for_storage(attributes)

    assert stored == {
        "RequestID": {"DataType": "String", "StringValue": REQUEST_ID},
        "Checksum": {"DataType": "Binary", "BinaryValue": "AP8="},
    }
    assert json.loads(json.dumps(stored)) == stored
