"""The poller's own multi-row insert (shared/bulk.py) writes what Django's bulk_create writes, on
every column of the models it inserts, and skips only rows that break a unique constraint."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import IntegrityError, transaction

from invocations.failures import grouping
from invocations.models import ExecutionRecord, FailedEvent
from invocations.shared import bulk
from tests import factories

pytestmark = pytest.mark.django_db

BERLIN = timezone(timedelta(hours=2))


def _record(watched, message_id, **changes):
    values = {
        "environment": watched.environment,
        "queue": watched,
        "message_id": message_id,
        "kind": ExecutionRecord.Kind.FAILURE,  # a str enum: the field's own way
        "condition": "RetriesExhausted",
        "request_id": "5a1c-ünïcode",
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST",
        "function_name": "orders",
        "qualifier": "$LATEST",
        "executed_version": "7",
        "approximate_invoke_count": 3,
        "status_code": 200,
        "function_error": "Unhandled",
        "error_type": "ValueError",
        "error_message": "order must be positive, got -1 ✓",
        "stack_trace": '  File "/var/task/f.py", line 7\n    raise',
        "dlq_error_code": -(2**31),
        "request_payload": {"order": -1, "items": [{"price": 9.99, "ok": True}], "none": None},
        "response_payload": ["a", 1, 2.5, None, {"nested": {"deep": "é"}}],
        "envelope": "sns",
        "batch_info": {"KinesisBatchInfo": {"shardId": "s-1", "batchSize": 10}},
        "record_timestamp": datetime(2026, 11, 26, 17, 48, 18, 521000, tzinfo=BERLIN),
        "raw_body": '{"x": "\\u00e9"}',
        "message_attributes": {"RequestID": {"StringValue": "r", "DataType": "String"}},
        "parse_error": "",
        "error_message_redacted": "order must be positive, got -1 ✓",
        "stack_trace_redacted": "trace",
        "parse_error_redacted": "",
        "request_payload_redacted": {"order": -1},
        "response_payload_redacted": "a JSON string",
        "invocation": None,
        "failure_group": None,
        "event": None,
        "returned_from": None,
    }
    values.update(changes)
    return ExecutionRecord(**values)


def _stored(model, pk, leave_out):
    row = model.objects.filter(pk=pk).values().get()
    return {name: value for name, value in row.items() if name not in leave_out}


def test_a_record_is_stored_as_bulk_create_stores_it_on_every_column():
    watched = factories.queue()
    other = factories.failure_record(watched=watched)
    for changes in (
        {},
        # Every nullable column empty, JSON null as SQL NULL, a status code, a scalar payload.
        {
            "approximate_invoke_count": None,
            "status_code": None,
            "dlq_error_code": None,
            "request_payload": None,
            "response_payload": "just text",
            "batch_info": None,
            "record_timestamp": None,
            "request_payload_redacted": None,
            "response_payload_redacted": 0,
            "kind": "unparsed",
            "parse_error": "body is not JSON",
        },
        # Keys to other rows.
        {"returned_from_id": other.pk, "failure_group": None, "invocation": None},
    ):
        ours = _record(watched, "ours", **changes)
        django = _record(watched, "django", **changes)

        inserted = bulk.insert_skipping_conflicts(ExecutionRecord, [ours], ("id", "message_id"))
        ExecutionRecord.objects.bulk_create([django])

        assert [message_id for _pk, message_id in inserted] == ["ours"]
        assert ours.received_at is not None  # set on the row, as Django's insert does
        leave_out = {"id", "message_id", "received_at"}
        assert _stored(ExecutionRecord, inserted[0][0], leave_out) == _stored(
            ExecutionRecord, django.pk, leave_out
        )
        stored = ExecutionRecord.objects.get(pk=inserted[0][0])
        assert stored.received_at == ours.received_at
        ExecutionRecord.objects.filter(message_id__in=["ours", "django"]).delete()


def test_an_event_is_stored_as_bulk_create_stores_it_on_every_column():
    record = factories.failure_record()
    grouping.group_records([record])
    group = record.failure_group
    values = {
        "environment": record.environment,
        "function_name": "orders",
        "kind": FailedEvent.Kind.ASYNC,
        "group": group,
        "primary_record": record,
        "source_rank": 3,
        "invocation": None,
        "error_type": "ValueError",
        "error_message": "bad",
        "stack_trace": "trace",
        "error_message_redacted": "bad",
        "stack_trace_redacted": "trace",
        "executed_version": "$LATEST",
        "qualifier": "prod",
        "condition": "RetriesExhausted",
        "attempts": 3,
        "happened_at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "happened_from": "lambda",
        "arrived_at": datetime(2026, 1, 2, 3, 4, 6, tzinfo=BERLIN),
        "replay_count": 2,
        "last_replay_at": None,
        "last_replay_status": "",
        "replayed_ok": True,
        "sent_back_count": 0,
        "last_sent_back_at": datetime(2026, 1, 3, tzinfo=UTC),
        "came_back_count": 1,
    }
    ours = FailedEvent(request_id="ours", **values)
    django = FailedEvent(request_id="django", **values)

    inserted = bulk.insert_skipping_conflicts(FailedEvent, [ours], ("id", "request_id"))
    FailedEvent.objects.bulk_create([django])

    leave_out = {"id", "request_id"}
    assert _stored(FailedEvent, inserted[0][0], leave_out) == _stored(
        FailedEvent, django.pk, leave_out
    )


def test_rows_that_break_a_unique_constraint_are_skipped_and_no_other_violation_is():
    watched = factories.queue()
    first = bulk.insert_skipping_conflicts(
        ExecutionRecord, [_record(watched, "m1"), _record(watched, "m2")], ("id", "message_id")
    )
    again = bulk.insert_skipping_conflicts(
        ExecutionRecord, [_record(watched, "m2"), _record(watched, "m3")], ("id", "message_id")
    )

    assert sorted(message_id for _pk, message_id in first) == ["m1", "m2"]
    assert [message_id for _pk, message_id in again] == ["m3"]
    assert ExecutionRecord.objects.filter(queue=watched).count() == 3
    with pytest.raises(IntegrityError), transaction.atomic():
        # A NOT NULL column left empty is an error, never a row silently skipped.
        bulk.insert_skipping_conflicts(
            ExecutionRecord, [_record(watched, "m4", raw_body=None)], ("id",)
        )
    assert not ExecutionRecord.objects.filter(message_id="m4").exists()


def test_more_rows_than_one_statement_takes_are_all_inserted():
    watched = factories.queue()
    rows = [_record(watched, f"many-{n}") for n in range(bulk.MAX_ROWS * 2 + 3)]

    inserted = bulk.insert_skipping_conflicts(ExecutionRecord, rows, ("id", "message_id"))

    assert len(inserted) == len(rows) == ExecutionRecord.objects.filter(queue=watched).count()
    assert len({pk for pk, _ in inserted}) == len(rows)
