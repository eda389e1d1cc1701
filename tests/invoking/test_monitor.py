"""The Monitor panel: Lambda's CloudWatch metrics read from the sandbox by the worker, beside
what the dashboard saw; AWS errors in the panel; console links only for a real account."""

import io
import json
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from django.urls import reverse

from invocations import aws
from invocations.invoking import monitor
from invocations.models import Environment, Function, FunctionMetrics, Invocation
from tests.waiting import wait_until

HANDLER = """
def lambda_handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
"""


def _client(sandbox, service: str):
    return boto3.client(
        service,
        endpoint_url=sandbox.endpoint_url,
        region_name=sandbox.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def probe(sandbox):
    """A throwaway function in the sandbox, invoked three times (once failing)."""
    awslambda = _client(sandbox, "lambda")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", HANDLER)
    name = f"monitor-probe-{uuid.uuid4().hex[:8]}"
    awslambda.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::123456789012:role/lambda-sandbox",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    for payload in ({}, {}, {"fail": True}):
        awslambda.invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    yield name
    awslambda.delete_function(FunctionName=name)


def panel(client, name: str, range_key: str = "1h"):
    return client.get(reverse("function-monitor", args=[name]) + f"?range={range_key}")


def figure(page, metric_id: str) -> str:
    """The CloudWatch cell of one metric's row."""
    row = page.text.split(f'data-metric="{metric_id}"', 1)[1].split("</tr>", 1)[0]
    return row.split('<td class="num">', 1)[1].split("</td>", 1)[0].strip()


@pytest.mark.sandbox
def test_the_panel_shows_the_sandboxs_invocation_and_error_counts(client, bob, sandbox_env, probe):
    Function.objects.create(environment=sandbox_env, name=probe)
    Invocation.objects.create(environment=sandbox_env, function_name=probe, status="succeeded")

    monitor.fetch(sandbox_env.pk, probe, "1h")
    client.force_login(bob)
    page = panel(client, probe)

    assert page.status_code == 200
    assert figure(page, "invocations") == "3"
    assert figure(page, "errors") == "1"
    assert figure(page, "throttles") in ("0", "—")
    assert "1 invoked" in page.text  # what the dashboard itself saw
    assert "hx-trigger" not in page.text  # fresh: the panel stops polling


@pytest.mark.sandbox
@pytest.mark.broker
def test_the_worker_reads_the_metrics_while_the_panel_waits(
    client, bob, celery_worker, sandbox_env, probe
):
    Function.objects.create(environment=sandbox_env, name=probe)
    client.force_login(bob)

    first = panel(client, probe)
    deadline = time.monotonic() + 30
    page = first
    while "hx-trigger" in page.text and time.monotonic() < deadline:
        time.sleep(0.2)
        page = panel(client, probe)

    assert "Loading CloudWatch metrics" in first.text
    assert "hx-trigger" in first.text
    assert figure(page, "invocations") == "3"
    assert FunctionMetrics.objects.get(function_name=probe, range_key="1h").fetched_at


def test_an_aws_error_is_shown_in_the_panel_not_a_500(client, bob, db, settings):
    settings.AWS_CONNECT_TIMEOUT = 0.5
    aws.reset_clients()
    env = Environment.objects.default()
    env.endpoint_url = "http://127.0.0.1:9"
    env.save()
    Function.objects.create(environment=env, name="hello")

    monitor.fetch(env.pk, "hello", "24h")
    client.force_login(bob)
    page = panel(client, "hello", "24h")

    aws.reset_clients()
    assert page.status_code == 200
    assert "CloudWatch did not answer" in page.text
    assert "EndpointConnectionError" in page.text


def test_an_unknown_range_is_the_default_not_an_error(client, bob, db):
    env = Environment.objects.default()
    Function.objects.create(environment=env, name="hello")
    FunctionMetrics.objects.create(
        environment=env, function_name="hello", range_key="24h", values={}, error="x"
    )
    client.force_login(bob)

    page = client.get(reverse("function", args=["hello"]) + "?range=<script>")

    assert page.status_code == 200
    assert "?range=24h" in page.text


def test_console_links_for_a_real_account_and_none_for_the_sandbox(client, bob, db):
    real = Environment.objects.default()
    real.endpoint_url = ""
    real.region = "eu-west-1"
    real.save()
    Function.objects.create(environment=real, name="orders")
    client.force_login(bob)

    page = client.get(reverse("function", args=["orders"]))
    insights = client.get(
        reverse("function-insights", args=["orders"]) + "?request_id=6bc28136-ab7e-4d7e-9a8b"
    )
    real.endpoint_url = "http://127.0.0.1:4566"
    real.save()
    sandbox_page = client.get(reverse("function", args=["orders"]))
    sandbox_insights = client.get(
        reverse("function-insights", args=["orders"]) + "?request_id=6bc28136"
    )

    assert (
        "https://eu-west-1.console.aws.amazon.com/lambda/home?region=eu-west-1#/functions/orders"
        in page.text
    )
    assert "log-group/$252Faws$252Flambda$252Forders" in page.text
    assert insights.status_code == 302
    assert insights["Location"].startswith(
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:logs-insights"
    )
    assert "6bc28136-ab7e-4d7e-9a8b" in insights["Location"]
    assert "console.aws.amazon.com" not in sandbox_page.text
    assert sandbox_insights.status_code == 404


FAILING = """
def lambda_handler(event, context):
    raise ValueError("always")
"""


@pytest.mark.sandbox
def test_events_lambda_dropped_without_reaching_a_queue_are_named_beside_what_was_seen_here(
    client, bob, sandbox_env, sandbox
):
    """AsyncEventsDropped counts every event whose retries are spent, whether a destination then
    took it or not (AWS's "Monitoring asynchronous invocations" metrics); the panel subtracts
    the failed async events a watched queue delivered, and names the rest."""
    awslambda, cloudwatch = _client(sandbox, "lambda"), _client(sandbox, "cloudwatch")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", FAILING)
    name = f"monitor-drop-{uuid.uuid4().hex[:8]}"
    awslambda.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::123456789012:role/lambda-sandbox",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    # No destination, no DLQ, no retry: each failed event is dropped at once.
    awslambda.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    for _ in range(2):
        awslambda.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")

    def dropped() -> float:
        answer = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="AsyncEventsDropped",
            Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=datetime.now(UTC) - timedelta(hours=1),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=3600,
            Statistics=["Sum"],
        )
        return sum(point["Sum"] for point in answer["Datapoints"])

    try:
        wait_until(lambda: dropped() >= 2, timeout=60, message="the sandbox never dropped both")
        Function.objects.create(environment=sandbox_env, name=name)
        monitor.fetch(sandbox_env.pk, name, "1h")
        client.force_login(bob)
        page = panel(client, name)
    finally:
        awslambda.delete_function(FunctionName=name)

    assert figure(page, "async_dropped") == "2"
    assert "0 failed async events reached a watched queue" in page.text
    assert "2 events were dropped by Lambda and reached no queue" in page.text


def test_what_reached_no_queue_is_dropped_less_the_failed_async_events_seen(db):
    seen = {"async_failed_events": 3}

    assert monitor.reached_no_queue(None, seen) is None  # CloudWatch has not answered
    assert monitor.reached_no_queue(5.0, seen) == 2
    assert monitor.reached_no_queue(3.0, seen) == 0
    assert monitor.reached_no_queue(1.0, seen) == 0  # never below nothing (ranges differ a little)
