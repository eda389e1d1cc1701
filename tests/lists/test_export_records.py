"""export_records: JSON lines with exactly the documented fields (README, "Commands")."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from invocations.models import AuditEvent, Environment, ExecutionRecord, WatchedQueue

DOCUMENTED_FIELDS = {
    "message_id", "kind", "condition", "request_id", "function_arn", "function_name",
    "executed_version", "approximate_invoke_count", "status_code", "function_error",
    "error_type", "error_message", "request_payload", "response_payload", "record_timestamp",
    "parse_error",
}  # fmt: skip


@pytest.fixture
def queue(db):
    return WatchedQueue.objects.create(
        environment=Environment.objects.default(), url="https://sqs.x/1/orders-dlq", kind="dlq"
    )


def record(queue, message_id, kind="failure", **fields):
    return ExecutionRecord.objects.create(
        environment=queue.environment,
        queue=queue,
        message_id=message_id,
        kind=kind,
        raw_body="{}",
        **fields,
    )


def lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_it_prints_one_json_object_a_line_with_the_design_fields(queue, capsys):
    record(
        queue,
        "m1",
        condition="RetriesExhausted",
        request_id="r1",
        approximate_invoke_count=3,
        request_payload={"order": -1},
        record_timestamp=datetime(2026, 11, 26, 15, 48, 18, tzinfo=UTC),
    )
    record(queue, "m2", kind="unparsed", parse_error="body is not JSON")

    call_command("export_records")

    first, second = lines(capsys)
    assert set(first) == DOCUMENTED_FIELDS
    assert first["request_payload"] == {"order": -1}
    assert first["approximate_invoke_count"] == 3
    assert first["record_timestamp"] == "2026-11-26T15:48:18+00:00"
    assert second["parse_error"] == "body is not JSON"
    assert AuditEvent.objects.get(action="records.export").details["count"] == 2


def test_it_filters_by_kind_and_since(queue, capsys):
    old = record(queue, "old")
    record(queue, "new")
    record(queue, "dead", kind="dlq")
    ExecutionRecord.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()

    call_command("export_records", "--since", since, "--kind", "failure")

    assert [row["message_id"] for row in lines(capsys)] == ["new"]


def test_it_refuses_a_time_that_is_not_iso_8601(queue):
    with pytest.raises(CommandError, match="not an ISO 8601 time"):
        call_command("export_records", "--since", "yesterday")
