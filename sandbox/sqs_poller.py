"""An SQS event source mapping, as Lambda's poller runs it.

It gathers up to ``BatchSize`` messages, waiting at most ``MaximumBatchingWindowInSeconds``
after the first one, receiving with the queue's own visibility timeout. A batch the function
handles is deleted; a failed (or throttled) batch is left alone, so its messages come back when
their visibility timeout ends and move to the queue's redrive dead-letter queue once received
``maxReceiveCount`` times. With ``FunctionResponseTypes=["ReportBatchItemFailures"]`` the
function may answer ``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}``: only those
messages stay; an answer naming an unknown or empty identifier fails the whole batch, as on
Lambda. ``FilterCriteria`` patterns (EventBridge's syntax) select the messages the function
gets; the others are deleted, as Lambda does.

One batch is in flight per mapping at a time (Lambda runs at least two pollers).
"""

import base64
import contextlib
import json
import time

from botocore.exceptions import BotoCoreError, ClientError

from sandbox.mappings import PollContext, event_filters, passes_filters

LONG_POLL_S = 1  # short enough to notice a stop or a disabled mapping quickly
IDLE_WAIT_S = 0.2
THROTTLE_BACKOFF_S = 0.2
LAMBDA_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
)


def poll(context: PollContext) -> None:
    mapping = context.mapping
    queue_arn = mapping.event_source_arn
    _, _, _, region, account, name = queue_arn.split(":")
    sqs = context.clients.get("sqs", region)
    url = None
    while context.running():
        if not mapping.enabled:
            context.wait(IDLE_WAIT_S)
            continue
        try:
            url = (
                url or sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            )
            batch = _gather(context, sqs, url)
        except (ClientError, BotoCoreError):
            url = None  # the queue may be gone or not yet there
            context.wait(IDLE_WAIT_S * 5)
            continue
        if not batch:
            continue
        patterns = event_filters(mapping)
        records = [lambda_record(message, queue_arn, region) for message in batch]
        kept = [passes_filters(patterns, filter_view(record)) for record in records]
        # Lambda deletes the messages its filters leave out.
        _delete(sqs, url, [message for message, keep in zip(batch, kept, strict=True) if not keep])
        batch = [message for message, keep in zip(batch, kept, strict=True) if keep]
        if not batch:
            continue
        event = {"Records": [record for record, keep in zip(records, kept, strict=True) if keep]}
        outcome = context.clients.invoke(mapping.function_arn, event)
        if not outcome.invoked:
            context.wait(THROTTLE_BACKOFF_S)  # throttled: the messages come back later
            continue
        if outcome.function_error:
            continue  # the messages come back when their visibility timeout ends
        failed = failed_message_ids(
            outcome.parsed_payload(), batch, "ReportBatchItemFailures" in _response_types(mapping)
        )
        done = [message for message in batch if message["MessageId"] not in failed]
        _delete(sqs, url, done)


def _gather(context: PollContext, sqs, url: str) -> list[dict]:
    mapping = context.mapping
    size = int(mapping.batch_size)
    window = float(mapping.max_batch_window or 0)
    messages: list[dict] = []
    deadline = None
    while len(messages) < size and context.running():
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        wait = LONG_POLL_S if remaining is None or remaining >= 1 else 0
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, size - len(messages)),
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        received = response.get("Messages", [])
        # A visibility timeout shorter than the window lets a message come back into the
        # batch it is already in: keep it once, with its newest receipt handle.
        seen = {message["MessageId"]: index for index, message in enumerate(messages)}
        for message in received:
            if message["MessageId"] in seen:
                messages[seen[message["MessageId"]]] = message
            else:
                messages.append(message)
        if messages and deadline is None:
            if window <= 0:
                break
            deadline = time.monotonic() + window
        if not messages:
            return []  # nothing yet: the caller checks for a stop and polls again
        if not received and wait == 0:
            context.wait(min(0.05, max(remaining or 0, 0)))
    return messages


def filter_view(record: dict) -> dict:
    """What FilterCriteria patterns see of an SQS record: the record, its ``body`` parsed when
    it is a JSON object ("Filtering Amazon SQS messages"), else the body as a string."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        return record
    return {**record, "body": body} if isinstance(body, dict) else record


def lambda_record(message: dict, queue_arn: str, region: str) -> dict:
    """An SQS message as Lambda's SQS event carries it."""
    attributes = message.get("Attributes", {})
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {key: attributes[key] for key in LAMBDA_ATTRIBUTES if key in attributes},
        "messageAttributes": {
            name: _lambda_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_attribute(value: dict) -> dict:
    attribute = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute


def failed_message_ids(answer, batch: list[dict], partial_responses: bool) -> set[str]:
    """The IDs of the messages to leave on the queue after a successful invoke."""
    every_id = {message["MessageId"] for message in batch}
    if not partial_responses or not isinstance(answer, dict):
        return set()
    failures = answer.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return every_id
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in every_id:
            return every_id  # Lambda fails the whole batch on a malformed answer
        failed.add(identifier)
    return failed


def _response_types(mapping) -> list[str]:
    return list(mapping.function_response_types or [])


def _delete(sqs, url: str, messages: list[dict]) -> None:
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(chunk)
        ]
        # A failed delete lets the messages come back to be processed again, as on Lambda.
        with contextlib.suppress(ClientError, BotoCoreError):
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
