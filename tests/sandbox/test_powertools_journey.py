"""A journey with Powertools for AWS Lambda (Python), installed as a layer as its documentation
recommends: its batch processor behind an SQS event source mapping, its Logger's JSON read back
with a filter pattern, its Metrics (embedded metric format) read back as CloudWatch metrics, and
its REST API event handler.

Follows Powertools' own documentation (https://docs.powertools.aws.dev/lambda/python/latest/:
"Batch Processing", "Logger", "Metrics", "REST API" and "Installation" / Lambda layer) and
AWS's "Using Lambda with Amazon SQS" (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html:
reporting batch item failures).

The layer is built at test time from the Powertools installed for the tests (its files and
those of typing-extensions, which AWS's runtime lacks), under ``python/`` as a layer keeps them;
the function cannot import the host's copy, only the layer's.
"""

import importlib.metadata
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from tests.sandbox.conftest import ROLE_ARN
from tests.sandbox.helpers import invoke, wait_for_message
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(120)]

LAYER_DISTRIBUTIONS = ("aws-lambda-powertools", "typing-extensions")

ORDERS = """
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

logger = Logger()  # service from POWERTOOLS_SERVICE_NAME
metrics = Metrics()  # namespace from POWERTOOLS_METRICS_NAMESPACE
processor = BatchProcessor(event_type=EventType.SQS)
app = APIGatewayRestResolver()


def record_handler(record):
    order = record.json_body
    if order.get("quantity", 0) <= 0:
        logger.error("order refused", extra={"order_id": order["id"]})
        raise ValueError(f"order {order['id']} has no quantity")
    logger.info("order processed", extra={"order_id": order["id"]})
    metrics.add_metric(name="OrdersProcessed", unit=MetricUnit.Count, value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def sqs_handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


@app.get("/orders/<order_id>")
def get_order(order_id: str):
    logger.info("order read", extra={"order_id": order_id})
    return {"order_id": order_id, "status": "processed"}


@logger.inject_lambda_context
def api_handler(event, context):
    return app.resolve(event, context)
"""


def powertools_layer_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in LAYER_DISTRIBUTIONS:
            distribution = importlib.metadata.distribution(name)
            for file in distribution.files or []:
                if "__pycache__" in file.parts or file.parts[0] in ("..", "bin"):
                    continue
                archive.write(distribution.locate_file(file), f"python/{file}")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def journey(aws_client):
    """The layer, two functions sharing one zip (an SQS worker and an API), and a queue with a
    dead-letter queue after one receive. Returns names and URLs."""
    awslambda = aws_client("lambda")
    sqs = aws_client("sqs")
    suffix = uuid.uuid4().hex[:8]
    layer = awslambda.publish_layer_version(
        LayerName=f"powertools-{suffix}",
        Content={"ZipFile": powertools_layer_zip()},
        CompatibleRuntimes=["python3.11"],
    )["LayerVersionArn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("orders.py", ORDERS)
    namespace = f"Journey{suffix}"
    names = {}
    for kind in ("sqs", "api"):
        names[kind] = f"journey-{kind}-{suffix}"
        awslambda.create_function(
            FunctionName=names[kind],
            Runtime="python3.11",
            Role=ROLE_ARN,
            Handler=f"orders.{kind}_handler",
            Code={"ZipFile": code.getvalue()},
            Layers=[layer],
            Timeout=10,
            Environment={
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "orders",
                    "POWERTOOLS_METRICS_NAMESPACE": namespace,
                }
            },
        )
    dlq_name = f"journey-dlq-{suffix}"
    dlq_url = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq_url)
    input_url = sqs.create_queue(
        QueueName=f"journey-input-{suffix}",
        Attributes={
            "VisibilityTimeout": "2",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}),
        },
    )["QueueUrl"]
    awslambda.create_event_source_mapping(
        FunctionName=names["sqs"],
        EventSourceArn=queue_arn(sqs, input_url),
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    return {**names, "namespace": namespace, "input_url": input_url, "dlq_name": dlq_name}


def queue_arn(sqs, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def test_the_batch_processor_reports_only_the_failed_message_which_reaches_the_dlq(
    journey, sqs, logs
):
    """The good message is handled once and deleted; only the reported one comes back, and
    after its one receive the redrive policy moves it to the dead-letter queue."""
    good, bad = f"good-{uuid.uuid4().hex[:6]}", f"bad-{uuid.uuid4().hex[:6]}"

    sqs.send_message_batch(
        QueueUrl=journey["input_url"],
        Entries=[
            {"Id": "good", "MessageBody": json.dumps({"id": good, "quantity": 2})},
            {"Id": "bad", "MessageBody": json.dumps({"id": bad, "quantity": 0})},
        ],
    )

    dead = wait_for_message(
        sqs, journey["dlq_name"], lambda m: json.loads(m["Body"])["id"] == bad, timeout=40
    )
    assert json.loads(dead["Body"]) == {"id": bad, "quantity": 0}
    group = f"/aws/lambda/{journey['sqs']}"
    lines = wait_for_events(logs, group, f'{{ $.order_id = "{good}" }}')
    processed = json.loads(lines[0]["message"])
    assert (processed["level"], processed["message"]) == ("INFO", "order processed")
    assert processed["order_id"] == good
    assert processed["service"] == "orders"


def test_a_filter_pattern_finds_the_loggers_errors_in_its_json(journey, sqs, logs):
    refused = f"refused-{uuid.uuid4().hex[:6]}"
    sqs.send_message(
        QueueUrl=journey["input_url"], MessageBody=json.dumps({"id": refused, "quantity": 0})
    )
    group = f"/aws/lambda/{journey['sqs']}"

    errors = wait_for_events(logs, group, f'{{ $.level = "ERROR" && $.order_id = "{refused}" }}')

    assert len({event["message"] for event in errors}) == 1
    line = json.loads(errors[0]["message"])
    assert (line["message"], line["service"]) == ("order refused", "orders")
    assert line["function_name"] == journey["sqs"]
    infos = logs.filter_log_events(
        logGroupName=group, filterPattern=f'{{ $.level = "INFO" && $.order_id = "{refused}" }}'
    )["events"]
    assert infos == []


def test_the_metrics_utility_becomes_a_cloudwatch_metric(journey, sqs, aws_client):
    cloudwatch = aws_client("cloudwatch")
    sqs.send_message(
        QueueUrl=journey["input_url"],
        MessageBody=json.dumps({"id": f"metric-{uuid.uuid4().hex[:6]}", "quantity": 1}),
    )

    total = wait_for_sum(
        cloudwatch,
        journey["namespace"],
        "OrdersProcessed",
        [{"Name": "service", "Value": "orders"}],
    )

    assert total >= 1.0


def test_the_rest_api_resolver_routes_an_api_gateway_event(journey, awslambda, logs):
    event = {
        "resource": "/orders/{order_id}",
        "path": "/orders/42",
        "httpMethod": "GET",
        "headers": {"Accept": "application/json"},
        "multiValueHeaders": {"Accept": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"order_id": "42"},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/orders/{order_id}",
            "httpMethod": "GET",
            "path": "/prod/orders/42",
            "stage": "prod",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "203.0.113.1"},
        },
        "body": None,
        "isBase64Encoded": False,
    }

    found = json.loads(invoke(awslambda, journey["api"], event)["Payload"])
    missing = json.loads(invoke(awslambda, journey["api"], {**event, "path": "/nope"})["Payload"])

    assert found["statusCode"] == 200
    assert json.loads(found["body"]) == {"order_id": "42", "status": "processed"}
    assert missing["statusCode"] == 404


def wait_for_events(logs, group: str, pattern: str, timeout: float = 40.0) -> list[dict]:
    return wait_until(
        lambda: logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"],
        timeout,
        interval=0.2,
        message=f"nothing matched {pattern}",
    )


def wait_for_sum(cloudwatch, namespace, name, dimensions, timeout: float = 40.0) -> float:
    def points():
        now = datetime.now(UTC)
        return cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=dimensions,
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=10),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]

    found = wait_until(points, timeout, interval=0.2, message=f"no {namespace} {name}")
    return sum(point["Sum"] for point in found)
