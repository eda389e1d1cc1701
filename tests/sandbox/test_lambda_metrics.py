"""Lambda's CloudWatch metrics (AWS/Lambda), read back with GetMetricData."""

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config

from tests.sandbox.helpers import invoke

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

HANDLER = """
import time

def lambda_handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def cloudwatch(aws_client):
    return aws_client("cloudwatch")


def metric_values(cloudwatch, function: str, queries: dict, dimensions=None) -> dict:
    """{query id: summed values} for queries {id: (metric name, statistic)} over the last
    few minutes, in one-hour periods so each query has at most one value."""
    dimensions = dimensions or [{"Name": "FunctionName", "Value": function}]
    now = datetime.now(UTC)
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": name,
                        "Dimensions": dimensions,
                    },
                    "Period": 3600,
                    "Stat": stat,
                },
            }
            for query_id, (name, stat) in queries.items()
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
    )
    return {result["Id"]: result["Values"] for result in response["MetricDataResults"]}


def wait_for_metrics(cloudwatch, function, queries, expected: dict, timeout=20.0, **kwargs):
    deadline = time.monotonic() + timeout
    while True:
        values = metric_values(cloudwatch, function, queries, **kwargs)
        if all(values.get(key) == value for key, value in expected.items()):
            return values
        assert time.monotonic() < deadline, f"{values} is not {expected} after {timeout} s"
        time.sleep(0.2)


def test_invocations_errors_and_duration_are_counted_per_function(
    make_function, awslambda, cloudwatch
):
    function = make_function(HANDLER)
    for payload in [{"sleep": 0.2}, {}, {"fail": True}]:
        invoke(awslambda, function, payload)

    values = metric_values(
        cloudwatch,
        function,
        {
            "invocations": ("Invocations", "Sum"),
            "errors": ("Errors", "Sum"),
            "durations": ("Duration", "SampleCount"),
            "slowest": ("Duration", "Maximum"),
            "p99": ("Duration", "p99"),
            "throttles": ("Throttles", "Sum"),
        },
    )

    assert values["invocations"] == [3.0]
    assert values["errors"] == [1.0]
    assert values["durations"] == [3.0]
    assert values["slowest"][0] >= 200
    assert values["p99"] == values["slowest"]
    assert values["throttles"] == []


def test_a_throttled_call_counts_as_a_throttle_not_an_invocation(
    make_function, awslambda, cloudwatch, sandbox
):
    function = make_function(HANDLER)
    awslambda.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    # The session's clients retry once; this one sends exactly one request.
    single_attempt = boto3.client(
        "lambda",
        endpoint_url=sandbox.endpoint_url,
        region_name=sandbox.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )

    with pytest.raises(single_attempt.exceptions.TooManyRequestsException):
        invoke(single_attempt, function, {})

    values = metric_values(
        cloudwatch,
        function,
        {"throttles": ("Throttles", "Sum"), "invocations": ("Invocations", "Sum")},
    )
    assert values == {"throttles": [1.0], "invocations": []}


def test_a_published_version_has_its_own_resource_and_executed_version(
    make_function, awslambda, cloudwatch
):
    function = make_function(HANDLER)
    version = awslambda.publish_version(FunctionName=function)["Version"]

    invoke(awslambda, function, {}, Qualifier=version)
    invoke(awslambda, function, {})

    resource = [
        {"Name": "FunctionName", "Value": function},
        {"Name": "Resource", "Value": f"{function}:{version}"},
        {"Name": "ExecutedVersion", "Value": version},
    ]
    by_version = metric_values(
        cloudwatch, function, {"invocations": ("Invocations", "Sum")}, dimensions=resource
    )
    by_function = metric_values(cloudwatch, function, {"invocations": ("Invocations", "Sum")})
    assert by_version == {"invocations": [1.0]}
    assert by_function == {"invocations": [2.0]}


def test_asynchronous_events_are_counted_received_aged_dropped_and_undeliverable(
    make_function, awslambda, cloudwatch
):
    missing_queue = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    function = make_function(HANDLER, DeadLetterConfig={"TargetArn": missing_queue})
    awslambda.put_function_event_invoke_config(
        FunctionName=function,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": missing_queue}},
    )

    invoke(awslambda, function, {"fail": True}, InvocationType="Event")

    wait_for_metrics(
        cloudwatch,
        function,
        {
            "received": ("AsyncEventsReceived", "Sum"),
            "ages": ("AsyncEventAge", "SampleCount"),
            "errors": ("Errors", "Sum"),
            "dropped": ("AsyncEventsDropped", "Sum"),
            "destination": ("DestinationDeliveryFailures", "Sum"),
            "dead_letter": ("DeadLetterErrors", "Sum"),
        },
        {
            "received": [1.0],
            "ages": [1.0],
            "errors": [1.0],
            "dropped": [1.0],
            "destination": [1.0],
            "dead_letter": [1.0],
        },
    )


def test_a_stream_mapping_reports_its_iterator_age(
    make_function, aws_client, awslambda, cloudwatch
):
    kinesis = aws_client("kinesis")
    function = make_function(HANDLER)
    stream = f"metrics-{function}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    kinesis.put_record(StreamName=stream, Data=json.dumps({}).encode(), PartitionKey="p")

    awslambda.create_event_source_mapping(
        FunctionName=function, EventSourceArn=arn, StartingPosition="TRIM_HORIZON"
    )

    values = wait_for_metrics(
        cloudwatch,
        function,
        {"ages": ("IteratorAge", "SampleCount"), "oldest": ("IteratorAge", "Maximum")},
        {"ages": [1.0]},
    )
    assert values["oldest"][0] >= 0
