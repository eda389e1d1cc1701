"""Sending dead letters back to a queue: the stored body and attributes, as they arrived.

Lambda's DLQs are fed by Lambda or SNS, and SQS's StartMessageMoveTask refuses such sources,
so this sends a copy with SendMessage instead. The button runs it in the worker (request()
sends the task, run() is its body): one SendMessage per record is too many calls to make while
a web request waits. The triage page shows the last result (latest())."""

import base64
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from invocations import aws
from invocations.access import audit
from invocations.access.actor import Actor
from invocations.models import (
    AuditEvent,
    Environment,
    ExecutionRecord,
    FailedEvent,
    GroupActivity,
    WatchedQueue,
)
from invocations.ops import sending
from invocations.shared.wording import count

# Every message the dashboard sends back names the record it came from ("environment:id"), so
# that when it returns (the function failed it again) it is linked to that record instead of
# being counted as a new failure.
ORIGIN_ATTRIBUTE = "LambdaTriageOriginRecord"


class RedriveRefused(ValueError):
    """A target that would bring the messages straight back; its message is shown."""


def check_target(records: list[ExecutionRecord], environment: Environment, queue_url: str) -> None:
    """Refuse a queue the dashboard watches as a dead-letter queue (the records' own DLQ among
    them): the poller would take the messages back at once, as new failures."""
    url = queue_url.strip().rstrip("/")
    sources = {r.queue.url.rstrip("/") for r in records}
    if url in sources:
        raise RedriveRefused(
            "That is the dead-letter queue these messages came from: the dashboard watches it, "
            "so they would come straight back as failures. Send them to the queue that feeds "
            "the function (its event source), or replay them."
        )
    if WatchedQueue.objects.filter(
        environment=environment, kind=WatchedQueue.Kind.DLQ, url__in=[url, url + "/"]
    ).exists():
        raise RedriveRefused(
            "That queue is a dead-letter queue the dashboard watches: the messages would come "
            "straight back as failures. Send them to the queue that feeds the function."
        )


def source_queue_url(record: ExecutionRecord) -> str:
    """The SQS queue that feeds the dead letter's function (its event source mapping, from the
    inventory), as the SQS console's "redrive to source" would choose; "" when unknown."""
    from invocations.models import Function

    name = record.function_name or record.queue.function_name
    function = Function.objects.filter(environment=record.environment_id, name=name).first()
    if function is None:
        return ""
    for mapping in function.event_source_mappings or []:
        # The inventory stores each mapping as aws.list_event_source_mappings shapes it.
        arn = mapping.get("source", "") if isinstance(mapping, dict) else ""
        parts = arn.split(":")
        if len(parts) == 6 and parts[2] == "sqs":
            # The queue URL is the DLQ's host with the source queue's account and name.
            scheme_host = record.queue.url.split("/", 3)[:3]
            return "/".join([*scheme_host, parts[4], parts[5]])
    return ""


def origin_of(attributes: dict[str, Any] | None) -> tuple[str, int] | None:
    """(environment name, record id) from a received message's attributes, if we sent it."""
    entry = (attributes or {}).get(ORIGIN_ATTRIBUTE)
    value = entry.get("StringValue", "") if isinstance(entry, dict) else ""
    environment, _, pk = value.rpartition(":")
    ours = environment and pk.isascii() and pk.isdigit()  # as we wrote it: "²" is not
    return (environment, int(pk)) if ours else None


def link_returns(environment: Environment, rows: list[ExecutionRecord]) -> None:
    """Set `returned_from` on new rows (unsaved) whose message we sent back from a record of
    `environment`. One query, only when a message carries the attribute."""
    wanted = {}
    for row in rows:
        origin = origin_of(row.message_attributes)
        if origin and origin[0] == environment.name:
            wanted[row.message_id] = origin[1]
    if not wanted:
        return
    present = set(
        ExecutionRecord.objects.filter(environment=environment, pk__in=set(wanted.values()))
        .order_by()
        .values_list("pk", flat=True)
    )
    for row in rows:
        if wanted.get(row.message_id) in present:
            row.returned_from_id = wanted[row.message_id]


# At most this many dead letters are sent back by one press of the button.
MAX_RECORDS = 10_000


def attributes_for_sending(stored: dict[str, Any]) -> dict[str, Any]:
    """Back from the stored JSON-safe copy to SendMessage's shape (binary values decoded)."""
    attributes = {}
    for name, entry in (stored or {}).items():
        data_type = entry.get("DataType", "String")
        if data_type.startswith("Binary") and "BinaryValue" in entry:
            attributes[name] = {
                "DataType": data_type,
                "BinaryValue": base64.b64decode(entry["BinaryValue"]),
            }
        elif "StringValue" in entry:
            attributes[name] = {"DataType": data_type, "StringValue": entry["StringValue"]}
    return dict(list(attributes.items())[:10])  # SQS takes at most 10 attributes


def send_back(
    records: list[ExecutionRecord],
    environment: Environment,
    queue_url: str,
    *,
    actor: Actor,
) -> tuple[int, str]:
    """Send each record's stored body and attributes to `queue_url`; audited one by one.
    Returns how many were sent and, when AWS refused one, why (the rest are not sent)."""
    sent = 0
    for record in records:
        attributes = attributes_for_sending(record.message_attributes)
        attributes.pop(ORIGIN_ATTRIBUTE, None)
        attributes = dict(list(attributes.items())[:9])  # SQS takes 10, ours included
        attributes[ORIGIN_ATTRIBUTE] = {
            "DataType": "String",
            "StringValue": f"{environment.name}:{record.pk}",
        }
        try:
            message_id = aws.send_message(environment, queue_url, record.raw_body, attributes)
        except aws.AwsError as error:
            return sent, str(error)
        sent += 1
        with transaction.atomic():
            # An attempt of its event, as a replay is: counted there, never a new failure.
            if record.event_id is not None:
                FailedEvent.objects.filter(pk=record.event_id).update(
                    sent_back_count=F("sent_back_count") + 1, last_sent_back_at=timezone.now()
                )
            audit.record(
                "record.redrive",
                actor=actor,
                target=record,
                summary=f"sent record #{record.pk} back to {_queue_name(queue_url)}",
                details={"queue_url": queue_url, "message_id": message_id},
            )
    return sent, ""


def _queue_name(queue_url: str) -> str:
    return queue_url.rsplit("/", 1)[-1]


def request(
    records: list[ExecutionRecord],
    environment: Environment,
    queue_url: str,
    *,
    actor: Actor,
) -> bool:
    """The "Send back to queue" button: an audit event, and the sending handed to the worker
    once it is committed. False when the broker did not take it."""
    ids = [record.pk for record in records[:MAX_RECORDS]]
    refused: list[Exception] = []
    with transaction.atomic(durable=True):
        audit.record(
            "records.redrive.request",
            actor=actor,
            target=environment,
            summary=f"Asked to send {len(ids)} dead letters back to {_queue_name(queue_url)}",
            details={"queue_url": queue_url, "records": len(ids)},
        )
        sending.send_on_commit(
            sending.REDRIVE_RECORDS, ids, queue_url, actor.user_id, on_failure=refused.append
        )
    return not refused


def run(record_ids: list[int], queue_url: str, user_id: int | None) -> int:
    """The worker's side of the button; the outcome is audited for the triage page."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    records = list(
        ExecutionRecord.objects.filter(pk__in=record_ids, kind=ExecutionRecord.Kind.DLQ)
        .select_related("environment")
        .order_by("id")
    )
    if not records:
        return 0
    environment = records[0].environment
    records = [record for record in records if record.environment_id == environment.pk]
    sent, error = send_back(records, environment, queue_url, actor=Actor.person(user))
    summary = f"Sent {sent} of {len(records)} dead letters back to {_queue_name(queue_url)}"
    with transaction.atomic():
        audit.record(
            "records.redrive",
            actor=Actor.person(user),
            target=environment,
            summary=summary + (f"; stopped: {error}" if error else ""),
            details={"queue_url": queue_url, "sent": sent, "records": len(records), "error": error},
        )
        _note_on_groups(records[:sent], queue_url, user)
    return sent


def _note_on_groups(sent: list[ExecutionRecord], queue_url: str, user: User | None) -> None:
    """One line on each touched group's Activity, as a replay leaves one: send_back sends in
    order and stops at the first refusal, so the sent records are the first `sent`."""
    per_group: dict[int, int] = {}
    for record in sent:
        if record.failure_group_id is not None:
            per_group[record.failure_group_id] = per_group.get(record.failure_group_id, 0) + 1
    by = f" by {user.get_username()}" if user is not None else ""
    GroupActivity.objects.bulk_create(
        GroupActivity(
            group_id=group_id,
            actor=user,
            kind="redrive",
            text=f"{count(n, 'dead letter')} sent back to {_queue_name(queue_url)}{by}",
        )
        for group_id, n in per_group.items()
    )


# How long the triage page shows the outcome of the last send back to queue.
OUTCOME_SHOWN_FOR = timedelta(hours=24)


def latest(environment: Environment) -> dict[str, Any] | None:
    """The triage page's view of the last "send back to queue": running or its outcome."""
    event = (
        AuditEvent.objects.filter(
            target_type="environment",
            target_id=str(environment.pk),
            action__in=["records.redrive", "records.redrive.request"],
        )
        .order_by("-id")
        .first()
    )
    if event is None:
        return None
    running = event.action == "records.redrive.request"
    if not running and timezone.now() - event.created_at > OUTCOME_SHOWN_FOR:
        return None  # old news: the audit trail keeps it
    return {
        "id": event.pk,
        "running": running,
        "summary": event.summary,
        "at": event.created_at,
        "failed": bool((event.details or {}).get("error")),
    }
