"""Creates the sample functions, queues, topic and event bus, idempotently, against any
endpoint (the sandbox, or a plain moto server).

``seed(endpoint_url)`` returns::

    {"endpoint_url": ..., "region": ...,
     "functions": ["hello", "orders", ...],
     "queues": [{"url": ..., "arn": ..., "kind": "destination" | "dlq", "function": "orders"}],
     "topics": [arn], "event_buses": [arn], "streams": [arn]}

Queues that feed a function (``queue-worker-input``) are not in ``queues``: the dashboard must
not consume them.
"""

import contextlib
import io
import json
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

FUNCTIONS_DIR = Path(__file__).with_name("functions")
ROLE_NAME = "lambda-sandbox"
RUNTIME = "python3.11"
HANDLER = "lambda_function.lambda_handler"
FAILURE_DETAIL_TYPE = "Lambda Function Invocation Result - Failure"

# name -> (Timeout, MemorySize); every folder under functions/ is a sample function.
FUNCTION_SETTINGS = {"slow": (2, 128), "chatty": (3, 256)}


def seed(endpoint_url: str, region: str = "us-east-1") -> dict:
    clients = _Clients(endpoint_url, region)
    result = {
        "endpoint_url": endpoint_url,
        "region": region,
        "functions": [],
        "queues": [],
        "topics": [],
        "event_buses": [],
        "streams": [],
    }

    def queue(name: str, kind: str, function: str) -> str:
        url = clients.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        result["queues"].append({"url": url, "arn": arn, "kind": kind, "function": function})
        return arn

    role_arn = _ensure_role(clients.iam)
    names = sorted(path.name for path in FUNCTIONS_DIR.iterdir() if path.is_dir())
    for name in names:
        dead_letter = queue("orders-dlq", "dlq", "orders") if name == "orders" else None
        _ensure_function(clients.awslambda, name, role_arn, dead_letter)
        result["functions"].append(name)

    _async_config(
        clients.awslambda,
        "orders",
        on_success=queue("orders-on-success", "destination", "orders"),
        on_failure=queue("orders-on-failure", "destination", "orders"),
    )
    _async_config(
        clients.awslambda,
        "flaky",
        on_success=queue("flaky-on-success", "destination", "flaky"),
        on_failure=queue("flaky-on-failure", "destination", "flaky"),
        MaximumRetryAttempts=1,
    )
    clients.awslambda.put_function_concurrency(
        FunctionName="throttled", ReservedConcurrentExecutions=0
    )
    _async_config(
        clients.awslambda,
        "throttled",
        on_failure=queue("throttled-on-failure", "destination", "throttled"),
        MaximumEventAgeInSeconds=60,  # AWS's minimum; the sandbox compresses time
        MaximumRetryAttempts=0,
    )

    topic_arn = _ensure_topic_to_queue(
        clients, "notify-failures", queue("notify-on-failure", "destination", "notify")
    )
    result["topics"].append(topic_arn)
    _async_config(clients.awslambda, "notify", on_failure=topic_arn, MaximumRetryAttempts=0)

    bus_arn = _ensure_bus_to_queue(
        clients, "billing-events", queue("billing-on-failure", "destination", "billing")
    )
    result["event_buses"].append(bus_arn)
    _async_config(clients.awslambda, "billing", on_failure=bus_arn, MaximumRetryAttempts=0)

    # Event source mappings: an SQS queue with partial batch responses and a redrive DLQ, and
    # a Kinesis stream whose discarded batches go to an OnFailure queue.
    worker_dlq = queue("queue-worker-dlq", "dlq", "queue-worker")
    worker_input = _ensure_input_queue(clients.sqs, "queue-worker-input", worker_dlq)
    _ensure_mapping(
        clients.awslambda,
        "queue-worker",
        worker_input,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    stream_arn = _ensure_stream(clients.kinesis, "stream-reader-input")
    result["streams"].append(stream_arn)
    _ensure_mapping(
        clients.awslambda,
        "stream-reader",
        stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumRetryAttempts=2,
        BisectBatchOnFunctionError=True,
        MaximumRecordAgeInSeconds=3600,
        DestinationConfig={
            "OnFailure": {
                # Watched as discovery watches a mapping's OnFailure queue.
                "Destination": queue("stream-reader-on-failure", "dlq", "stream-reader")
            }
        },
    )
    return result


def register_watched_queues(result: dict) -> None:
    """Watch ``result["queues"]`` in the default environment (``invocations.WatchedQueue`` rows:
    url, kind, function). Called by the ``seed_sandbox`` management command.

    Idempotent: a queue already watched keeps its enabled switch and counts; its kind and
    function are brought in line with the seed."""
    from invocations.models import Environment, WatchedQueue

    environment = Environment.objects.default()
    for queue in result["queues"]:
        WatchedQueue.objects.update_or_create(
            environment=environment,
            url=queue["url"],
            defaults={"kind": queue["kind"], "function_name": queue["function"]},
        )


def function_zip(name: str) -> bytes:
    """The folder's files in a zip with fixed timestamps, so the code hash is stable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        folder = FUNCTIONS_DIR / name
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                info = zipfile.ZipInfo(str(path.relative_to(folder)), (2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _ensure_role(iam) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        return iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    except ClientError:
        return iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]["Arn"]


def _ensure_function(awslambda, name: str, role_arn: str, dead_letter: str | None) -> None:
    timeout, memory = FUNCTION_SETTINGS.get(name, (3, 128))
    code = function_zip(name)
    settings = {
        "Role": role_arn,
        "Runtime": RUNTIME,
        "Handler": HANDLER,
        "Timeout": timeout,
        "MemorySize": memory,
        "Description": f"Lambda Triage sample function {name}",
    }
    if dead_letter:
        settings["DeadLetterConfig"] = {"TargetArn": dead_letter}
    try:
        awslambda.get_function(FunctionName=name)
    except awslambda.exceptions.ResourceNotFoundException:
        awslambda.create_function(FunctionName=name, Code={"ZipFile": code}, **settings)
        return
    awslambda.update_function_code(FunctionName=name, ZipFile=code)
    awslambda.update_function_configuration(FunctionName=name, **settings)


def _async_config(awslambda, name: str, on_success=None, on_failure=None, **limits) -> None:
    destinations = {}
    if on_success:
        destinations["OnSuccess"] = {"Destination": on_success}
    if on_failure:
        destinations["OnFailure"] = {"Destination": on_failure}
    awslambda.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig=destinations, **limits
    )


def _ensure_input_queue(sqs, name: str, dead_letter_arn: str) -> str:
    """A queue that feeds a function: AWS wants its visibility timeout to be at least the
    function's timeout; a message received 3 times without being deleted moves to the DLQ."""
    redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": 3}
    attributes = {"VisibilityTimeout": "6", "RedrivePolicy": json.dumps(redrive)}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def _ensure_stream(kinesis, name: str) -> str:
    with contextlib.suppress(kinesis.exceptions.ResourceInUseException):  # seeded before
        kinesis.create_stream(StreamName=name, ShardCount=1)
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def _ensure_mapping(awslambda, function: str, source_arn: str, **settings) -> None:
    existing = awslambda.list_event_source_mappings(
        FunctionName=function, EventSourceArn=source_arn
    )
    mappings = existing["EventSourceMappings"]
    if not mappings:
        awslambda.create_event_source_mapping(
            FunctionName=function, EventSourceArn=source_arn, **settings
        )
        return
    settings.pop("StartingPosition", None)  # fixed at creation
    awslambda.update_event_source_mapping(UUID=mappings[0]["UUID"], **settings)


def _ensure_topic_to_queue(clients, topic_name: str, queue_arn: str) -> str:
    topic_arn = clients.sns.create_topic(Name=topic_name)["TopicArn"]
    subscriptions = clients.sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    if not any(item["Endpoint"] == queue_arn for item in subscriptions):
        clients.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn


def _ensure_bus_to_queue(clients, bus_name: str, queue_arn: str) -> str:
    try:
        bus_arn = clients.events.create_event_bus(Name=bus_name)["EventBusArn"]
    except clients.events.exceptions.ResourceAlreadyExistsException:
        bus_arn = clients.events.describe_event_bus(Name=bus_name)["Arn"]
    pattern = {"source": ["lambda"], "detail-type": [FAILURE_DETAIL_TYPE]}
    clients.events.put_rule(
        Name=f"{bus_name}-failures", EventBusName=bus_name, EventPattern=json.dumps(pattern)
    )
    clients.events.put_targets(
        Rule=f"{bus_name}-failures",
        EventBusName=bus_name,
        Targets=[{"Id": "failures-queue", "Arn": queue_arn}],
    )
    return bus_arn


class _Clients:
    def __init__(self, endpoint_url: str, region: str) -> None:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2})

        def client(service: str):
            return session.client(service, endpoint_url=endpoint_url, config=config)

        self.sqs = client("sqs")
        self.sns = client("sns")
        self.events = client("events")
        self.iam = client("iam")
        self.awslambda = client("lambda")
        self.kinesis = client("kinesis")
