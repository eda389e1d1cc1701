"""Sending dead letters back to a queue: the stored body and attributes, as they arrived.

Lambda's DLQs are fed by Lambda or SNS, and SQS's StartMessageMoveTask refuses such sources,
so this sends a copy with SendMessage instead. The button runs it in the worker (request()
sends the task, run() is its body): one SendMessage per record is too many calls to make while
a web request waits. The triage page shows the last result (latest())."""

import base64

from django.db import transaction

from invocations import audit, aws, sending
from invocations.models import AuditEvent, ExecutionRecord

# At most this many dead letters are sent back by one press of the button.
MAX_RECORDS = 10_000


def attributes_for_sending(stored: dict) -> dict:
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


def send_back(records: list[ExecutionRecord], environment, queue_url: str, *, user=None):
    """Send each record's stored body and attributes to `queue_url`; audited one by one.
    Returns how many were sent and, when AWS refused one, why (the rest are not sent)."""
    sent = 0
    for record in records:
        try:
            message_id = aws.send_message(
                environment,
                queue_url,
                record.raw_body,
                attributes_for_sending(record.message_attributes),
            )
        except aws.AwsError as error:
            return sent, str(error)
        sent += 1
        with transaction.atomic():
            audit.record(
                "record.redrive",
                user=user,
                target=record,
                summary=f"sent record #{record.pk} back to {_queue_name(queue_url)}",
                details={"queue_url": queue_url, "message_id": message_id},
            )
    return sent, ""


def _queue_name(queue_url: str) -> str:
    return queue_url.rsplit("/", 1)[-1]


def request(records: list[ExecutionRecord], environment, queue_url: str, *, request) -> bool:
    """The "Send back to queue" button: an audit event, and the sending handed to the worker
    once it is committed. False when the broker did not take it."""
    ids = [record.pk for record in records[:MAX_RECORDS]]
    refused: list[Exception] = []
    with transaction.atomic():
        audit.record(
            "records.redrive.request",
            request=request,
            target=environment,
            summary=f"Asked to send {len(ids)} dead letters back to {_queue_name(queue_url)}",
            details={"queue_url": queue_url, "records": len(ids)},
        )
        sending.send_on_commit(
            sending.REDRIVE_RECORDS, ids, queue_url, request.user.pk, on_failure=refused.append
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
    sent, error = send_back(records, environment, queue_url, user=user)
    summary = f"Sent {sent} of {len(records)} dead letters back to {_queue_name(queue_url)}"
    with transaction.atomic():
        audit.record(
            "records.redrive",
            user=user,
            target=environment,
            summary=summary + (f"; stopped: {error}" if error else ""),
            details={"queue_url": queue_url, "sent": sent, "records": len(records), "error": error},
        )
    return sent


def latest(environment) -> dict | None:
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
    return {
        "running": event.action == "records.redrive.request",
        "summary": event.summary,
        "at": event.created_at,
        "failed": bool((event.details or {}).get("error")),
    }
