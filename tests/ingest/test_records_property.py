"""Whatever arrives on a queue, the parser gives a record and never raises: an unparsable message
is stored as `unparsed`, never dropped nor re-read forever."""

import json
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invocations.failures.fingerprints import fingerprint
from invocations.ingest.records import (
    KINDS,
    MAX_ARN,
    MAX_CONDITION,
    MAX_FUNCTION_ERROR,
    MAX_FUNCTION_NAME,
    MAX_PARSE_ERROR,
    MAX_QUALIFIER,
    MAX_REQUEST_ID,
    MAX_SHORT,
    MAX_STACK_TRACE,
    MAX_TEXT,
    MAX_VERSION,
    ParsedRecord,
    parse_message,
)

# No example database: the suite leaves no files behind, and a failure prints its example anyway.
FAST = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and Infinity included: json.dumps writes them, the parser must refuse
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)

attribute_values = st.one_of(
    st.fixed_dictionaries(
        {"DataType": st.sampled_from(["String", "Number", "Binary", "String.custom"])},
        optional={
            "StringValue": st.text(max_size=30) | st.integers() | st.none(),
            "BinaryValue": st.binary(max_size=30),
        },
    ),
    st.fixed_dictionaries({"Type": st.just("String"), "Value": st.text(max_size=30)}),
    json_values,
)
attributes = st.none() | st.dictionaries(
    st.sampled_from(["RequestID", "ErrorCode", "ErrorMessage"]) | st.text(max_size=10),
    attribute_values,
    max_size=4,
)
# An SNS envelope is JSON itself, so its attributes hold JSON values: {"Type", "Value"}.
sns_attributes = st.dictionaries(
    st.sampled_from(["RequestID", "ErrorCode", "ErrorMessage"]) | st.text(max_size=10),
    st.fixed_dictionaries({"Type": st.sampled_from(["String", "Number"]), "Value": json_values})
    | json_values,
    max_size=4,
)
queue_kinds = st.sampled_from(["destination", "dlq", "", "Destination"])
system_attributes = st.none() | st.fixed_dictionaries(
    {}, optional={"SentTimestamp": st.text(max_size=20) | st.integers().map(str) | json_values}
)

# Records of the right shape whose fields may hold anything: the usual source of crashes.
request_contexts = st.fixed_dictionaries(
    {"condition": st.sampled_from(["Success", "RetriesExhausted", ""]) | json_values},
    optional={
        "requestId": json_values,
        "functionArn": json_values
        | st.sampled_from(
            [
                "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST",
                "arn:aws:lambda:us-east-1:123456789012:function:",
                "::::::function:x:y:z",
            ]
        ),
        "approximateInvokeCount": json_values | st.just("three"),
    },
)
records = st.fixed_dictionaries(
    {"requestContext": request_contexts | json_values},
    optional={
        "version": json_values,
        "timestamp": json_values
        | st.sampled_from(["2026-11-26T15:48:18.521Z", "0001-01-01T00:00:00-23:59"]),
        "requestPayload": json_values,
        "responseContext": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "statusCode": json_values,
                "executedVersion": json_values,
                "functionError": json_values | st.just("Unhandled"),
            },
        ),
        "responsePayload": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "errorType": json_values,
                "errorMessage": json_values,
                "stackTrace": json_values,
                "trace": json_values,
            },
        ),
        "KinesisBatchInfo": json_values,
        "DDBStreamBatchInfo": json_values,
    },
)


def sns_wrapped(inner):
    return st.builds(
        lambda message, extra: json.dumps(
            {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": message}
            | extra
        ),
        inner,
        st.fixed_dictionaries(
            {}, optional={"MessageAttributes": sns_attributes, "Timestamp": json_values}
        ),
    )


def eventbridge_wrapped(inner):
    return inner.map(
        lambda detail: json.dumps(
            {
                "source": "lambda",
                "detail-type": "Lambda Function Invocation Result - Failure",
                "detail": detail,
            }
        )
    )


def assert_is_a_sound_record(record):
    assert isinstance(record, ParsedRecord)
    assert record.kind in KINDS
    assert bool(record.parse_error) is (record.kind == "unparsed")
    assert len(record.parse_error) <= MAX_PARSE_ERROR
    assert len(record.error_message) <= MAX_TEXT
    assert len(record.stack_trace) <= MAX_STACK_TRACE
    for text, limit in [
        (record.condition, MAX_CONDITION),
        (record.request_id, MAX_REQUEST_ID),
        (record.function_arn, MAX_ARN),
        (record.function_name, MAX_FUNCTION_NAME),
        (record.qualifier, MAX_QUALIFIER),
        (record.executed_version, MAX_VERSION),
        (record.function_error, MAX_FUNCTION_ERROR),
        (record.error_type, MAX_SHORT),
        (record.envelope, 20),
    ]:
        assert isinstance(text, str)
        assert len(text) <= limit
    for text in (record.error_message, record.stack_trace, record.parse_error, *record.warnings):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates
    for number in (record.approximate_invoke_count, record.status_code):
        assert number is None or 0 <= number <= 32767
    assert record.dlq_error_code is None or abs(record.dlq_error_code) < 2**31
    # What the poller puts in JSON columns must be strict JSON.
    json.dumps(
        [record.request_payload, record.response_payload, record.batch_info], allow_nan=False
    )
    assert record.record_timestamp is None or isinstance(record.record_timestamp, datetime)
    assert (
        record.record_timestamp is None or record.record_timestamp.utcoffset().total_seconds() == 0
    )
    # The parser's safety net must never be what caught the input: that would be a bug.
    assert not record.parse_error.startswith("internal parser error")


@FAST
@given(body=st.binary(max_size=300), attrs=attributes, kind=queue_kinds)
def test_it_never_raises_on_arbitrary_bytes(body, attrs, kind):
    record = parse_message(body, attrs, kind)

    assert_is_a_sound_record(record)


@FAST
@given(body=st.text(max_size=300), attrs=attributes, kind=queue_kinds)
def test_it_never_raises_on_arbitrary_text(body, attrs, kind):
    record = parse_message(body, attrs, kind)

    assert_is_a_sound_record(record)


@FAST
@given(value=json_values, attrs=attributes, kind=queue_kinds, system=system_attributes)
def test_it_never_raises_on_arbitrary_json(value, attrs, kind, system):
    body = json.dumps(value)

    record = parse_message(body, attrs, kind, system_attributes=system)

    assert_is_a_sound_record(record)


@FAST
@given(
    body=records.map(json.dumps)
    | sns_wrapped(records.map(json.dumps))
    | eventbridge_wrapped(records),
    attrs=attributes,
    kind=queue_kinds,
)
def test_it_never_raises_on_records_with_fields_of_any_type(body, attrs, kind):
    record = parse_message(body, attrs, kind)

    assert_is_a_sound_record(record)


@FAST
@given(body=sns_wrapped(st.text(max_size=100) | json_values.map(json.dumps)), kind=queue_kinds)
def test_it_never_raises_on_sns_envelopes_of_anything(body, kind):
    record = parse_message(body, {}, kind)

    assert_is_a_sound_record(record)


@FAST
@given(
    body=records.map(json.dumps),
    as_bytes=st.booleans(),
)
def test_it_reads_a_record_the_same_from_text_and_from_utf8_bytes(body, as_bytes):
    given_body = body.encode("utf-8", "surrogatepass") if as_bytes else body

    record = parse_message(given_body, None, "destination")

    assert record == parse_message(body, None, "destination")


@FAST
@given(
    environment=st.text(max_size=10),
    function=st.text(max_size=20),
    error_type=st.text(max_size=20),
    message=st.text(max_size=200),
    condition=st.text(max_size=20),
    kind=st.sampled_from(KINDS),
)
def test_it_fingerprints_any_text(environment, function, error_type, message, condition, kind):
    digest = fingerprint(environment, function, error_type, message, condition, kind)

    assert len(digest) == 64
    assert int(digest, 16) >= 0
