"""Sending dead letters back to a queue: the stored body and attributes, as they arrived.

Lambda's DLQs are fed by Lambda or SNS, and SQS's StartMessageMoveTask refuses such sources,
so this sends a copy with SendMessage instead."""

import base64

from django.db import transaction

from invocations import audit, aws
from invocations.models import ExecutionRecord


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


def send_back(records: list[ExecutionRecord], environment, queue_url: str, request) -> int:
    """Send each record's stored body and attributes to `queue_url`; audited one by one.
    Returns how many were sent; stops at the first AWS error (raised as AwsError)."""
    sent = 0
    for record in records:
        message_id = aws.send_message(
            environment,
            queue_url,
            record.raw_body,
            attributes_for_sending(record.message_attributes),
        )
        sent += 1
        with transaction.atomic():
            audit.record(
                "record.redrive",
                request=request,
                target=record,
                summary=f"sent record #{record.pk} back to {queue_url.rsplit('/', 1)[-1]}",
                details={"queue_url": queue_url, "message_id": message_id},
            )
    return sent
