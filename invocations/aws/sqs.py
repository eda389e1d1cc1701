"""SQS: receive, delete, release and send messages; a queue's settings and depth. Each returns
plain data."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from invocations.aws import clients
from invocations.aws.clients import RECEIVE, AwsError

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from invocations.models import Environment


def receive_messages(
    environment: Environment, queue_url: str, wait_seconds: int = 0
) -> list[MessageTypeDef]:
    """ReceiveMessage: up to 10 messages with every message and system attribute; [] if empty.

    Each message is boto3's dict: MessageId, ReceiptHandle, Body, Attributes, MessageAttributes.
    """
    answer = clients.call(
        clients.client(environment, "sqs", RECEIVE).receive_message,
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
    sqs = clients.client(environment, "sqs")
    failures = []
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(chunk)
        ]
        answer = clients.call(sqs.delete_message_batch, QueueUrl=queue_url, Entries=entries)
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
    sqs = clients.client(environment, "sqs")
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
            for index, message in enumerate(messages[start : start + 10])
        ]
        clients.call(sqs.change_message_visibility_batch, QueueUrl=queue_url, Entries=entries)


def visibility_timeout(environment: Environment, queue_url: str) -> int:
    """The queue's default visibility timeout, in seconds."""
    answer = clients.call(
        clients.client(environment, "sqs").get_queue_attributes,
        QueueUrl=queue_url,
        AttributeNames=["VisibilityTimeout"],
    )
    return int(answer.get("Attributes", {}).get("VisibilityTimeout", 30))


def queue_depth(environment: Environment, queue_url: str) -> dict[str, int]:
    """Approximate counts: visible, in flight (received, not deleted) and delayed messages."""
    answer = clients.call(
        clients.client(environment, "sqs").get_queue_attributes,
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
    answer = clients.call(
        clients.client(environment, "sqs").get_queue_url,
        QueueName=parts[5],
        QueueOwnerAWSAccountId=parts[4],
    )
    return answer["QueueUrl"]


def redrive_dead_letter_arn(environment: Environment, queue_arn: str) -> str:
    """The ARN of the dead-letter queue in an SQS queue's RedrivePolicy; "" when it has none."""
    answer = clients.call(
        clients.client(environment, "sqs").get_queue_attributes,
        QueueUrl=queue_url_from_arn(environment, queue_arn),
        AttributeNames=["RedrivePolicy"],
    )
    policy = answer.get("Attributes", {}).get("RedrivePolicy", "")
    try:
        target = json.loads(policy).get("deadLetterTargetArn", "") if policy else ""
    except (ValueError, AttributeError):
        return ""
    return target if isinstance(target, str) else ""


def send_message(
    environment: Environment, queue_url: str, body: str, attributes: dict[str, Any]
) -> str:
    """SendMessage with message attributes in boto3's shape; returns the new MessageId."""
    kwargs: dict[str, object] = {"QueueUrl": queue_url, "MessageBody": body}
    if attributes:
        kwargs["MessageAttributes"] = attributes
    return clients.call(clients.client(environment, "sqs").send_message, **kwargs)["MessageId"]
