"""The one module that talks to AWS (or the sandbox): a cached client per environment and service.

Retries: botocore's standard mode would retry a 429 from Lambda quietly; we set it so that
TooManyRequestsException reaches our code, which retries visibly with backoff and jitter.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import (
        FunctionConfigurationTypeDef,
        FunctionEventInvokeConfigTypeDef,
    )
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from invocations.models import Environment

_clients: dict[tuple[object, ...], Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class AwsError(Exception):
    """An AWS call failed: `code` is AWS's error code (or a botocore class name)."""

    code: str
    message: str
    status: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# How long a client waits for an answer. Only Invoke waits for the function itself (up to
# Lambda's 900 s maximum); list, describe, log and queue calls answer in seconds, so they use a
# short read timeout and a slow AWS cannot hold a web request or a worker for minutes.
INVOKE = "invoke"  # AWS_READ_TIMEOUT
SHORT = "short"  # AWS_SHORT_READ_TIMEOUT
RECEIVE = "receive"  # an SQS long poll: its wait time plus the short timeout
PROBE = "probe"  # the health page: one quick attempt


def _config(service: str, read: str) -> Config:
    # Lambda: one attempt, so that a 429 is ours to retry. Others: botocore's standard retries.
    attempts = 1 if service == "lambda" or read == PROBE else 3
    read_timeout = {
        INVOKE: settings.AWS_READ_TIMEOUT,
        SHORT: settings.AWS_SHORT_READ_TIMEOUT,
        RECEIVE: settings.AWS_SHORT_READ_TIMEOUT + 20,
        PROBE: 3,
    }[read]
    return Config(
        connect_timeout=2 if read == PROBE else settings.AWS_CONNECT_TIMEOUT,
        read_timeout=read_timeout,
        retries={"max_attempts": attempts, "mode": "standard"},
        max_pool_connections=20,
    )


def _session(environment: Environment) -> boto3.session.Session:
    session = boto3.session.Session(
        profile_name=environment.profile or None, region_name=environment.region
    )
    if not environment.role_arn:
        return session
    # Assumed-role credentials expire after an hour: botocore refreshes them before they do.
    sts = session.client("sts", config=Config(connect_timeout=settings.AWS_CONNECT_TIMEOUT))

    def fetch() -> dict[str, str]:
        answer = sts.assume_role(RoleArn=environment.role_arn, RoleSessionName="lambda-triage")
        creds = answer["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    core = botocore.session.get_session()
    # botocore has no public setter for refreshable credentials.
    core._credentials = RefreshableCredentials.create_from_metadata(  # type: ignore[attr-defined]
        fetch(), fetch, "assume-role"
    )
    return boto3.session.Session(botocore_session=core, region_name=environment.region)


@overload
def client(
    environment: Environment, service: Literal["lambda"], read: str = SHORT
) -> LambdaClient: ...
@overload
def client(environment: Environment, service: Literal["sqs"], read: str = SHORT) -> SQSClient: ...
@overload
def client(
    environment: Environment, service: Literal["logs"], read: str = SHORT
) -> CloudWatchLogsClient: ...
@overload
def client(environment: Environment, service: Literal["sns"], read: str = SHORT) -> SNSClient: ...
@overload
def client(
    environment: Environment, service: Literal["events"], read: str = SHORT
) -> EventBridgeClient: ...
@overload
def client(environment: Environment, service: str, read: str = SHORT) -> Any: ...
def client(environment: Environment, service: str, read: str = SHORT) -> Any:
    """A boto3 client for `service` in `environment` with the `read` timeout (INVOKE, SHORT,
    RECEIVE or PROBE), built once and shared between threads."""
    key = (
        environment.pk,
        environment.region,
        environment.endpoint_url,
        environment.profile,
        environment.role_arn,
        service,
        read,
    )
    with _lock:
        found = _clients.get(key)
        if found is None:
            # The service is a name chosen at run time; the overloads above type each client.
            found = _session(environment).client(  # type: ignore[call-overload]
                service,
                endpoint_url=environment.endpoint_url or None,
                config=_config(service, read),
            )
            _clients[key] = found
        return found


def reset_clients() -> None:
    """Forget cached clients (tests; a changed environment)."""
    with _lock:
        _clients.clear()


def as_aws_error(exc: Exception) -> AwsError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return AwsError(error.get("Code", "ClientError"), error.get("Message", str(exc)), status)
    if isinstance(exc, BotoCoreError):
        return AwsError(type(exc).__name__, str(exc))
    raise exc


_Answer = TypeVar("_Answer")


def _call(method: Callable[..., _Answer], **kwargs: Any) -> _Answer:
    try:
        return method(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise as_aws_error(exc) from exc


def probe(environment: Environment) -> str:
    """One quick Lambda call (health page): "" when the API answers, else why not. Uses the
    environment's profile and role like every other call, with a short timeout."""
    try:
        _call(client(environment, "lambda", PROBE).list_functions, MaxItems=1)
    except AwsError as error:
        return error.code
    return ""


# --- Lambda and CloudWatch Logs operations. Each returns plain data. ----------------------------

# Lambda takes and answers at most 6 MB synchronously: the one definition of that limit.
LAMBDA_SYNC_LIMIT = 6 * 1024 * 1024
# Read no more than that of an answer (plus one byte, to tell).
MAX_RESPONSE_BYTES = LAMBDA_SYNC_LIMIT


@dataclass(frozen=True)
class InvokeResult:
    status_code: int
    function_error: str
    payload: bytes
    payload_truncated: bool
    log_result: str
    executed_version: str
    request_id: str


@dataclass(frozen=True)
class LogEvent:
    timestamp: int
    message: str
    stream: str


def invoke(
    environment: Environment, name: str, qualifier: str, invocation_type: str, payload: bytes
) -> InvokeResult:
    """lambda:Invoke, with the 4 KB log tail for a synchronous call. Raises AwsError."""
    kwargs = {"FunctionName": name, "InvocationType": invocation_type, "Payload": payload}
    if qualifier and qualifier != "$LATEST":
        kwargs["Qualifier"] = qualifier
    if invocation_type == "RequestResponse":
        kwargs["LogType"] = "Tail"
    response = _call(client(environment, "lambda", INVOKE).invoke, **kwargs)
    body = response.get("Payload")
    data = body.read(MAX_RESPONSE_BYTES + 1) if body is not None else b""
    if len(data) > MAX_RESPONSE_BYTES:
        # Too large: drop the rest with the connection. A body read to its end returns its
        # connection to the pool instead; closing it would cost a new TCP connection (and a
        # server thread) for every invoke.
        body.close()
    meta = response.get("ResponseMetadata", {})
    request_id = meta.get("RequestId") or meta.get("HTTPHeaders", {}).get("x-amzn-requestid", "")
    log = response.get("LogResult") or ""
    return InvokeResult(
        status_code=response.get("StatusCode") or meta.get("HTTPStatusCode") or 0,
        function_error=response.get("FunctionError", "") or "",
        payload=data[:MAX_RESPONSE_BYTES],
        payload_truncated=len(data) > MAX_RESPONSE_BYTES,
        log_result=base64.b64decode(log).decode("utf-8", "replace") if log else "",
        executed_version=response.get("ExecutedVersion", "") or "",
        request_id=request_id,
    )


def list_functions(environment: Environment) -> list[FunctionConfigurationTypeDef]:
    """Every function's configuration (ListFunctions, all pages)."""
    lam = client(environment, "lambda")
    found, marker = [], None
    while True:
        page = _call(lam.list_functions, **({"Marker": marker} if marker else {}))
        found += page.get("Functions", [])
        marker = page.get("NextMarker")
        if not marker:
            return found


def get_function_concurrency(environment: Environment, name: str) -> int | None:
    answer = _call(client(environment, "lambda").get_function_concurrency, FunctionName=name)
    return answer.get("ReservedConcurrentExecutions")


def get_event_invoke_config(environment: Environment, name: str) -> dict[str, Any] | None:
    """The asynchronous invocation settings, or None when the function has none."""
    try:
        answer = _call(
            client(environment, "lambda").get_function_event_invoke_config, FunctionName=name
        )
    except AwsError as error:
        if error.code == "ResourceNotFoundException":
            return None
        raise
    return {
        "max_retries": answer.get("MaximumRetryAttempts"),
        "max_event_age": answer.get("MaximumEventAgeInSeconds"),
        "on_success": answer.get("DestinationConfig", {}).get("OnSuccess", {}).get("Destination"),
        "on_failure": answer.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
    }


def list_event_source_mappings(environment: Environment, name: str) -> list[dict[str, Any]]:
    lam = client(environment, "lambda")
    answer = _call(lam.list_event_source_mappings, FunctionName=name)
    return [
        {
            "uuid": item.get("UUID", ""),
            "source": item.get("EventSourceArn", ""),
            "state": item.get("State", ""),
            "batch_size": item.get("BatchSize"),
            "on_failure": item.get("DestinationConfig", {})
            .get("OnFailure", {})
            .get("Destination", ""),
        }
        for item in answer.get("EventSourceMappings", [])
    ]


def list_versions(environment: Environment, name: str) -> list[dict[str, Any]]:
    """Every version ($LATEST first) with what a deploy is judged by: {"version",
    "code_sha256", "memory_size", "timeout", "last_modified"} (ListVersionsByFunction, all
    pages)."""
    lam = client(environment, "lambda")
    found, marker = [], None
    while True:
        kwargs = {"FunctionName": name, **({"Marker": marker} if marker else {})}
        page = _call(lam.list_versions_by_function, **kwargs)
        found += [
            {
                "version": item["Version"],
                "code_sha256": item.get("CodeSha256", "") or "",
                "memory_size": item.get("MemorySize"),
                "timeout": item.get("Timeout"),
                "last_modified": item.get("LastModified", "") or "",
            }
            for item in page.get("Versions", [])
        ]
        marker = page.get("NextMarker")
        if not marker:
            return found


def list_aliases(environment: Environment, name: str) -> list[dict[str, Any]]:
    answer = _call(client(environment, "lambda").list_aliases, FunctionName=name)
    return [
        {"Name": item.get("Name", ""), "FunctionVersion": item.get("FunctionVersion", "")}
        for item in answer.get("Aliases", [])
    ]


def filter_log_events(
    environment: Environment,
    group: str,
    term: str,
    start_ms: int,
    limit: int = 500,
    max_pages: int = 10,
) -> tuple[list[LogEvent], bool]:
    """Events of `group` that contain `term` (a plain or quoted term: moto supports no other
    pattern), at most `limit` from at most `max_pages` pages (a filter over a large group can
    answer many empty pages); the flag says whether more were left."""
    logs = client(environment, "logs")
    events: list[LogEvent] = []
    token = None
    for _page in range(max_pages):
        kwargs = {"logGroupName": group, "filterPattern": term, "startTime": start_ms}
        if token:
            kwargs["nextToken"] = token
        page = _call(logs.filter_log_events, **kwargs)
        for item in page.get("events", []):
            events.append(
                LogEvent(item.get("timestamp", 0), item.get("message", ""), item["logStreamName"])
            )
        token = page.get("nextToken")
        if not token or len(events) >= limit:
            return events[:limit], bool(token) or len(events) > limit
    return events[:limit], True


# --- SQS, SNS and EventBridge operations. Each returns plain data. ------------------------------


def receive_messages(
    environment: Environment, queue_url: str, wait_seconds: int = 0
) -> list[MessageTypeDef]:
    """ReceiveMessage: up to 10 messages with every message and system attribute; [] if empty.

    Each message is boto3's dict: MessageId, ReceiptHandle, Body, Attributes, MessageAttributes.
    """
    answer = _call(
        client(environment, "sqs", RECEIVE).receive_message,
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=wait_seconds,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )
    return answer.get("Messages", [])


@dataclass(frozen=True)
class DeleteFailure:
    message_id: str
    code: str
    message: str


def delete_messages(
    environment: Environment, queue_url: str, messages: Sequence[Mapping[str, Any]]
) -> list[DeleteFailure]:
    """DeleteMessageBatch for received messages, 10 a call. Returns the entries SQS refused
    (the call can partly fail); those messages come back after their visibility timeout."""
    sqs = client(environment, "sqs")
    failures = []
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(chunk)
        ]
        answer = _call(sqs.delete_message_batch, QueueUrl=queue_url, Entries=entries)
        for failed in answer.get("Failed", []):
            message_id = chunk[int(failed["Id"])]["MessageId"]
            failures.append(
                DeleteFailure(message_id, failed.get("Code", ""), failed.get("Message", ""))
            )
    return failures


def release_messages(
    environment: Environment, queue_url: str, messages: Sequence[Mapping[str, Any]]
) -> None:
    """ChangeMessageVisibilityBatch to 0: received messages we will not store now are visible
    again at once. Refused entries simply wait for their visibility timeout."""
    sqs = client(environment, "sqs")
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
            for index, message in enumerate(messages[start : start + 10])
        ]
        _call(sqs.change_message_visibility_batch, QueueUrl=queue_url, Entries=entries)


def visibility_timeout(environment: Environment, queue_url: str) -> int:
    """The queue's default visibility timeout, in seconds."""
    answer = _call(
        client(environment, "sqs").get_queue_attributes,
        QueueUrl=queue_url,
        AttributeNames=["VisibilityTimeout"],
    )
    return int(answer.get("Attributes", {}).get("VisibilityTimeout", 30))


def queue_depth(environment: Environment, queue_url: str) -> dict[str, int]:
    """Approximate counts: visible, in flight (received, not deleted) and delayed messages."""
    answer = _call(
        client(environment, "sqs").get_queue_attributes,
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )
    attributes = answer.get("Attributes", {})
    return {
        "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
        "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    }


def queue_url_from_arn(environment: Environment, queue_arn: str) -> str:
    """arn:aws:sqs:region:account:name -> the queue's URL (GetQueueUrl)."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise AwsError("InvalidArn", f"not an SQS queue ARN: {queue_arn}")
    answer = _call(
        client(environment, "sqs").get_queue_url,
        QueueName=parts[5],
        QueueOwnerAWSAccountId=parts[4],
    )
    return answer["QueueUrl"]


def redrive_dead_letter_arn(environment: Environment, queue_arn: str) -> str:
    """The ARN of the dead-letter queue in an SQS queue's RedrivePolicy; "" when it has none."""
    answer = _call(
        client(environment, "sqs").get_queue_attributes,
        QueueUrl=queue_url_from_arn(environment, queue_arn),
        AttributeNames=["RedrivePolicy"],
    )
    policy = answer.get("Attributes", {}).get("RedrivePolicy", "")
    try:
        target = json.loads(policy).get("deadLetterTargetArn", "") if policy else ""
    except (ValueError, AttributeError):
        return ""
    return target if isinstance(target, str) else ""


def list_event_invoke_configs(
    environment: Environment, name: str
) -> list[FunctionEventInvokeConfigTypeDef]:
    """Every qualifier's asynchronous invocation config (ListFunctionEventInvokeConfigs)."""
    lam = client(environment, "lambda")
    found, marker = [], None
    while True:
        kwargs = {"FunctionName": name, **({"Marker": marker} if marker else {})}
        page = _call(lam.list_function_event_invoke_configs, **kwargs)
        found += page.get("FunctionEventInvokeConfigs", [])
        marker = page.get("NextMarker")
        if not marker:
            return found


def topic_queue_subscriptions(environment: Environment, topic_arn: str) -> list[dict[str, Any]]:
    """SQS subscriptions of an SNS topic: [{"queue_arn", "raw_delivery"}]."""
    sns = client(environment, "sns")
    found, token = [], None
    while True:
        kwargs = {"TopicArn": topic_arn, **({"NextToken": token} if token else {})}
        page = _call(sns.list_subscriptions_by_topic, **kwargs)
        for item in page.get("Subscriptions", []):
            if item.get("Protocol") == "sqs":
                found.append({"queue_arn": item.get("Endpoint", ""), "raw_delivery": False})
        token = page.get("NextToken")
        if not token:
            return found


def bus_queue_targets(environment: Environment, bus_arn: str) -> list[str]:
    """ARNs of the SQS queues that rules on an EventBridge bus send to."""
    events = client(environment, "events")
    bus = bus_arn.rsplit("/", 1)[-1] if "/" in bus_arn else bus_arn
    queues = []
    rules = _call(events.list_rules, EventBusName=bus).get("Rules", [])
    for rule in rules:
        targets = _call(events.list_targets_by_rule, Rule=rule["Name"], EventBusName=bus)
        for target in targets.get("Targets", []):
            if target.get("Arn", "").startswith("arn:aws:sqs:"):
                queues.append(target["Arn"])
    return queues


def log_events_between(
    environment: Environment,
    group: str,
    stream: str,
    start_ms: int,
    end_ms: int,
    limit: int = 1000,
    max_pages: int = 10,
) -> tuple[list[str], bool]:
    """The messages of one log stream from `start_ms` to `end_ms` inclusive, oldest first, at
    most `limit` from at most `max_pages` pages; the flag says whether more were left
    (GetLogEvents, forward pages)."""
    logs = client(environment, "logs")
    messages: list[str] = []
    token = None
    for _page in range(max_pages):
        kwargs = {
            "logGroupName": group,
            "logStreamName": stream,
            "startTime": start_ms,
            "endTime": end_ms + 1,
            "startFromHead": True,
            **({"nextToken": token} if token else {}),
        }
        page = _call(logs.get_log_events, **kwargs)
        messages += [event.get("message", "") for event in page.get("events", [])]
        if len(messages) >= limit:
            return messages[:limit], True
        # The forward token repeats itself at the end of the stream.
        if not page.get("events") or page.get("nextForwardToken") in (None, token):
            return messages, False
        token = page["nextForwardToken"]
    return messages, True


# --- Redrive ------------------------------------------------------------------------------------


def send_message(
    environment: Environment, queue_url: str, body: str, attributes: dict[str, Any]
) -> str:
    """SendMessage with message attributes in boto3's shape; returns the new MessageId."""
    kwargs: dict[str, object] = {"QueueUrl": queue_url, "MessageBody": body}
    if attributes:
        kwargs["MessageAttributes"] = attributes
    return _call(client(environment, "sqs").send_message, **kwargs)["MessageId"]


# --- CloudWatch metrics -------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricQuery:
    """One series of GetMetricData: `stat` is Sum, Maximum, Average or a percentile (p99)."""

    id: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int


def get_metric_data(
    environment: Environment, queries: list[MetricQuery], start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, float]]]:
    """GetMetricData for `queries` between `start` and `end`: {query id: [(time, value)]},
    oldest first, all pages."""
    cloudwatch = client(environment, "cloudwatch")
    requests = [
        {
            "Id": query.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": query.namespace,
                    "MetricName": query.metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in query.dimensions],
                },
                "Period": query.period,
                "Stat": query.stat,
            },
            "ReturnData": True,
        }
        for query in queries
    ]
    series: dict[str, list[tuple[datetime, float]]] = {query.id: [] for query in queries}
    token = None
    while True:
        kwargs = {
            "MetricDataQueries": requests,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
            **({"NextToken": token} if token else {}),
        }
        page = _call(cloudwatch.get_metric_data, **kwargs)
        for result in page.get("MetricDataResults", []):
            points = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
            series.setdefault(result["Id"], []).extend(points)
        token = page.get("NextToken")
        if not token:
            break
    return {key: sorted(points) for key, points in series.items()}
