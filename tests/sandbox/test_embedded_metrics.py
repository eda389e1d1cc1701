"""A function's log lines in CloudWatch's embedded metric format become metrics, in their
namespace and dimensions, as Lambda's logs do on AWS.

Follows "Specification: Embedded metric format"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
and "Embedding metrics within logs"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format.html).
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.sandbox.helpers import invoke
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

HANDLER = """
import json, time

def lambda_handler(event, context):
    print(json.dumps({
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{
                "Namespace": event["namespace"],
                "Dimensions": [["service"], ["service", "route"]],
                "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"},
                            {"Name": "Orders", "Unit": "Count"}],
            }],
        },
        "service": "shop",
        "route": "/orders",
        "Latency": [12, 30],
        "Orders": 2,
        "requestId": context.aws_request_id,
    }))
    print(json.dumps({
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{"Namespace": event["namespace"], "Dimensions": [["service"]],
                                   "Metrics": [{"Name": "Broken"}]}],
        },
        "service": "shop",
        "Broken": "not a number",
    }))
    return "ok"
"""


@pytest.fixture(scope="module")
def cloudwatch(aws_client):
    return aws_client("cloudwatch")


def statistics(cloudwatch, namespace: str, name: str, dimensions: list[dict]) -> dict | None:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=dimensions,
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
        Period=3600,
        Statistics=["Sum", "SampleCount", "Maximum"],
    )["Datapoints"]
    return points[0] if points else None


def wait_for_statistics(cloudwatch, namespace, name, dimensions, timeout=20.0) -> dict:
    return wait_until(
        lambda: statistics(cloudwatch, namespace, name, dimensions),
        timeout,
        message=f"no {namespace} {name}",
    )


def test_an_emf_line_becomes_metrics_under_each_dimension_set(awslambda, cloudwatch, make_function):
    namespace = f"Shop-{uuid.uuid4().hex[:8]}"
    function = make_function(HANDLER)

    invoke(awslambda, function, {"namespace": namespace})

    service = [{"Name": "service", "Value": "shop"}]
    route = [*service, {"Name": "route", "Value": "/orders"}]
    latency = wait_for_statistics(cloudwatch, namespace, "Latency", service)
    assert (latency["Sum"], latency["SampleCount"], latency["Maximum"]) == (42.0, 2.0, 30.0)
    assert latency["Unit"] == "Milliseconds"
    assert statistics(cloudwatch, namespace, "Orders", route)["Sum"] == 2.0
    assert statistics(cloudwatch, namespace, "Orders", []) is None


def test_an_invalid_emf_line_yields_no_metric(awslambda, cloudwatch, make_function, logs):
    namespace = f"Shop-{uuid.uuid4().hex[:8]}"
    function = make_function(HANDLER)

    invoke(awslambda, function, {"namespace": namespace})

    wait_for_statistics(cloudwatch, namespace, "Orders", [{"Name": "service", "Value": "shop"}])
    listed = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    assert "Broken" not in {metric["MetricName"] for metric in listed}
    events = logs.filter_log_events(
        logGroupName=f"/aws/lambda/{function}", filterPattern='"not a number"'
    )["events"]
    assert len(events) == 1  # the line stays in the log
