"""Small builders for rows the tests need. Realistic values, nothing random."""

import itertools
import uuid

from django.utils import timezone

from invocations.models import Environment, ExecutionRecord, WatchedQueue

_ids = itertools.count(1)


def queue(environment=None, kind="destination", function="orders", name=None):
    environment = environment or Environment.objects.default()
    name = name or f"{function}-{'dlq' if kind == 'dlq' else 'on-failure'}"
    found, _ = WatchedQueue.objects.get_or_create(
        environment=environment,
        url=f"http://127.0.0.1:4566/123456789012/{name}",
        defaults={"kind": kind, "function_name": function},
    )
    return found


def failure_record(
    function="orders",
    error_type="ValueError",
    message="order must be a positive integer, got -1",
    version="$LATEST",
    payload=None,
    kind=ExecutionRecord.Kind.FAILURE,
    condition="RetriesExhausted",
    received_at=None,
    watched=None,
    request_id=None,
):
    watched = watched or queue(function=function, kind="dlq" if kind == "dlq" else "destination")
    record = ExecutionRecord.objects.create(
        environment=watched.environment,
        queue=watched,
        message_id=f"msg-{next(_ids)}",
        kind=kind,
        condition=condition if kind != "dlq" else "",
        request_id=request_id or str(uuid.uuid4()),
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function}:$LATEST",
        function_name=function,
        executed_version=version,
        approximate_invoke_count=3,
        status_code=200,
        function_error="Unhandled",
        error_type=error_type,
        error_message=message,
        request_payload=payload if payload is not None else {"order": -1},
        raw_body="{}",
    )
    if received_at is not None:
        ExecutionRecord.objects.filter(pk=record.pk).update(received_at=received_at)
        record.received_at = received_at
    return record


def now():
    return timezone.now()
