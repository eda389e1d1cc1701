"""The one module that talks to AWS (or the sandbox): a cached client per environment and service.

Retries: botocore's standard mode would retry a 429 from Lambda quietly; we set it so that
TooManyRequestsException reaches our code, which retries visibly with backoff and jitter.
"""

import threading
from dataclasses import dataclass

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

_clients: dict[tuple, object] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class AwsError(Exception):
    """An AWS call failed: `code` is AWS's error code (or a botocore class name)."""

    code: str
    message: str
    status: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _config(service: str) -> Config:
    # Lambda: one attempt, so that a 429 is ours to retry. Others: botocore's standard retries.
    attempts = 1 if service == "lambda" else 3
    return Config(
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT if service == "lambda" else 30,
        retries={"max_attempts": attempts, "mode": "standard"},
        max_pool_connections=20,
    )


def _session(environment) -> boto3.session.Session:
    session = boto3.session.Session(
        profile_name=environment.profile or None, region_name=environment.region
    )
    if not environment.role_arn:
        return session
    # Assumed-role credentials expire after an hour: botocore refreshes them before they do.
    sts = session.client("sts", config=Config(connect_timeout=settings.AWS_CONNECT_TIMEOUT))

    def fetch() -> dict:
        creds = sts.assume_role(RoleArn=environment.role_arn, RoleSessionName="lambda-triage")
        creds = creds["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    core = botocore.session.get_session()
    core._credentials = RefreshableCredentials.create_from_metadata(fetch(), fetch, "assume-role")
    return boto3.session.Session(botocore_session=core, region_name=environment.region)


def client(environment, service: str):
    """A boto3 client for `service` in `environment`, built once and shared between threads."""
    key = (
        environment.pk,
        environment.region,
        environment.endpoint_url,
        environment.profile,
        environment.role_arn,
        service,
    )
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _session(environment).client(
                service,
                endpoint_url=environment.endpoint_url or None,
                config=_config(service),
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


# --- SQS, SNS and EventBridge operations (ingestion issue). Each returns plain data. ------------


def _aws(method, **kwargs):
    try:
        return method(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise as_aws_error(exc) from exc


def receive_messages(environment, queue_url: str, wait_seconds: int = 0) -> list[dict]:
    """ReceiveMessage: up to 10 messages with every message and system attribute; [] if empty.

    Each message is boto3's dict: MessageId, ReceiptHandle, Body, Attributes, MessageAttributes.
    """
    answer = _aws(
        client(environment, "sqs").receive_message,
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


def delete_messages(environment, queue_url: str, messages: list[dict]) -> list[DeleteFailure]:
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
        answer = _aws(sqs.delete_message_batch, QueueUrl=queue_url, Entries=entries)
        for failed in answer.get("Failed", []):
            message_id = chunk[int(failed["Id"])]["MessageId"]
            failures.append(
                DeleteFailure(message_id, failed.get("Code", ""), failed.get("Message", ""))
            )
    return failures


def queue_depth(environment, queue_url: str) -> dict[str, int]:
    """Approximate counts: visible, in flight (received, not deleted) and delayed messages."""
    answer = _aws(
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


def queue_url_from_arn(environment, queue_arn: str) -> str:
    """arn:aws:sqs:region:account:name -> the queue's URL (GetQueueUrl)."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise AwsError("InvalidArn", f"not an SQS queue ARN: {queue_arn}")
    answer = _aws(
        client(environment, "sqs").get_queue_url,
        QueueName=parts[5],
        QueueOwnerAWSAccountId=parts[4],
    )
    return answer["QueueUrl"]


def list_event_invoke_configs(environment, name: str) -> list[dict]:
    """Every qualifier's asynchronous invocation config (ListFunctionEventInvokeConfigs)."""
    lam = client(environment, "lambda")
    found, marker = [], None
    while True:
        kwargs = {"FunctionName": name, **({"Marker": marker} if marker else {})}
        page = _aws(lam.list_function_event_invoke_configs, **kwargs)
        found += page.get("FunctionEventInvokeConfigs", [])
        marker = page.get("NextMarker")
        if not marker:
            return found


def topic_queue_subscriptions(environment, topic_arn: str) -> list[dict]:
    """SQS subscriptions of an SNS topic: [{"queue_arn", "raw_delivery"}]."""
    sns = client(environment, "sns")
    found, token = [], None
    while True:
        kwargs = {"TopicArn": topic_arn, **({"NextToken": token} if token else {})}
        page = _aws(sns.list_subscriptions_by_topic, **kwargs)
        for item in page.get("Subscriptions", []):
            if item.get("Protocol") == "sqs":
                found.append({"queue_arn": item.get("Endpoint", ""), "raw_delivery": False})
        token = page.get("NextToken")
        if not token:
            return found


def bus_queue_targets(environment, bus_arn: str) -> list[str]:
    """ARNs of the SQS queues that rules on an EventBridge bus send to."""
    events = client(environment, "events")
    bus = bus_arn.rsplit("/", 1)[-1] if "/" in bus_arn else bus_arn
    queues = []
    rules = _aws(events.list_rules, EventBusName=bus).get("Rules", [])
    for rule in rules:
        targets = _aws(events.list_targets_by_rule, Rule=rule["Name"], EventBusName=bus)
        for target in targets.get("Targets", []):
            if target.get("Arn", "").startswith("arn:aws:sqs:"):
                queues.append(target["Arn"])
    return queues
