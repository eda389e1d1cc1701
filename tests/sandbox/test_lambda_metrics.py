"""Lambda's CloudWatch metrics (AWS/Lambda), read back with GetMetricData and
GetMetricStatistics.

Follows "Types of metrics for Lambda functions" and "Viewing metrics for Lambda functions"
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html,
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-view.html) and CloudWatch's
"Dimensions" concept: a metric is identified by its exact set of dimensions
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension).
"""

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
    single_attempt = single_attempt_client(sandbox)

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


def statistics_sum(cloudwatch, name: str, dimensions: list[dict]) -> float | None:
    """GetMetricStatistics' Sum over the last minutes in one period; None without data."""
    now = datetime.now(UTC)
    datapoints = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=name,
        Dimensions=dimensions,
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(point["Sum"] for point in datapoints) if datapoints else None


def single_attempt_client(sandbox):
    """A Lambda client that sends exactly one request (the session's clients retry once)."""
    return boto3.client(
        "lambda",
        endpoint_url=sandbox.endpoint_url,
        region_name=sandbox.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_get_metric_statistics_and_get_metric_data_count_what_ran_once(
    make_function, awslambda, cloudwatch, sandbox
):
    function = make_function(HANDLER)
    for payload in [{}, {}, {}, {"fail": True}, {"fail": True}]:
        invoke(awslambda, function, payload)
    awslambda.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    single_attempt = single_attempt_client(sandbox)
    for _ in range(2):
        with pytest.raises(single_attempt.exceptions.TooManyRequestsException):
            invoke(single_attempt, function, {})

    by_function = [{"Name": "FunctionName", "Value": function}]
    statistics = {
        name: statistics_sum(cloudwatch, name, by_function)
        for name in ("Invocations", "Errors", "Throttles")
    }
    data = metric_values(
        cloudwatch,
        function,
        {
            "invocations": ("Invocations", "Sum"),
            "errors": ("Errors", "Sum"),
            "throttles": ("Throttles", "Sum"),
        },
    )

    assert statistics == {"Invocations": 5.0, "Errors": 2.0, "Throttles": 2.0}
    assert data == {"invocations": [5.0], "errors": [2.0], "throttles": [2.0]}


def test_a_datapoint_belongs_to_exactly_one_dimension_set(make_function, awslambda, cloudwatch):
    function = make_function(HANDLER)
    version = awslambda.publish_version(FunctionName=function)["Version"]
    awslambda.create_alias(FunctionName=function, Name="live", FunctionVersion=version)

    invoke(awslambda, function, {})
    invoke(awslambda, function, {}, Qualifier=version)
    invoke(awslambda, f"{function}:live", {})

    name = {"Name": "FunctionName", "Value": function}

    def resource(value):
        return {"Name": "Resource", "Value": value}

    executed = {"Name": "ExecutedVersion", "Value": version}
    counts = {
        "function": statistics_sum(cloudwatch, "Invocations", [name]),
        "unqualified": statistics_sum(cloudwatch, "Invocations", [name, resource(function)]),
        "version": statistics_sum(
            cloudwatch, "Invocations", [name, resource(f"{function}:{version}")]
        ),
        "alias": statistics_sum(cloudwatch, "Invocations", [name, resource(f"{function}:live")]),
        "alias_on_version": statistics_sum(
            cloudwatch, "Invocations", [name, resource(f"{function}:live"), executed]
        ),
        "resource_alone": statistics_sum(cloudwatch, "Invocations", [resource(f"{function}:live")]),
    }
    assert counts == {
        "function": 3.0,
        "unqualified": 1.0,
        "version": 1.0,
        "alias": 1.0,
        "alias_on_version": 1.0,
        "resource_alone": None,  # no metric has Resource without FunctionName
    }


def test_get_metric_statistics_answers_percentiles_as_get_metric_data_does(
    make_function, awslambda, cloudwatch
):
    function = make_function(HANDLER)
    for seconds in (0.0, 0.05, 0.3):
        invoke(awslambda, function, {"sleep": seconds})
    now = datetime.now(UTC)

    datapoints = cloudwatch.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Duration",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
        Period=3600,
        ExtendedStatistics=["p50", "p99"],
    )["Datapoints"]
    data = metric_values(
        cloudwatch, function, {"p50": ("Duration", "p50"), "p99": ("Duration", "p99")}
    )

    assert len(datapoints) == 1
    assert datapoints[0]["ExtendedStatistics"] == {"p50": data["p50"][0], "p99": data["p99"][0]}
    assert datapoints[0]["ExtendedStatistics"]["p99"] >= 300


def test_the_account_wide_series_has_no_dimensions(make_function, awslambda, cloudwatch):
    function = make_function(HANDLER)
    before = statistics_sum(cloudwatch, "Invocations", []) or 0.0

    invoke(awslambda, function, {})

    after = statistics_sum(cloudwatch, "Invocations", [])
    by_function = statistics_sum(
        cloudwatch, "Invocations", [{"Name": "FunctionName", "Value": function}]
    )
    assert by_function == 1.0
    assert after is not None and after >= before + 1.0


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
