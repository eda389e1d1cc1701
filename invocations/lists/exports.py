"""Exports of a list (triage groups, records, invocations) as CSV or JSON Lines, streamed so
memory stays flat, and audited: who exported which list, with which filters, how many rows."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import transaction

from invocations.access import audit
from invocations.access.actor import Actor

FORMATS = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
# An export is for a spreadsheet or a script, not a backup: beyond this, narrow the filters.
EXPORT_LIMIT = 100_000
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

FIELDS = {
    "triage": [
        "id", "function_name", "error_type", "error_class", "sample_message", "status",
        "regressed", "assignee__username", "count", "first_seen", "last_seen", "backlog_count",
        "headline",
    ],
    "records": [
        "id", "received_at", "queue__url", "message_id", "kind", "condition", "request_id",
        "function_arn", "function_name", "executed_version", "approximate_invoke_count",
        "status_code", "function_error", "error_type", "error_message", "request_payload",
        "response_payload", "record_timestamp", "parse_error", "failure_group_id",
        # The failed event it reports, with the event's best facts (a dead letter's blank
        # version is its OnFailure record's).
        "event_id", "event__error_type", "event__executed_version", "event__happened_at",
    ],
    "invocations": [
        "id", "created_at", "function_name", "qualifier", "invocation_type", "status",
        "status_code", "function_error", "request_id", "executed_version", "duration_ms",
        "requested_by__username", "error_code", "error_text", "failure_group_id",
    ],
}  # fmt: skip
# What a function or a message wrote (payloads, errors, parse reasons, a group's sample message):
# the pages show its redacted copy, stored beside it, to people without the raw-payload
# permission, and so does an export (the copy is read under the raw column's name).
REDACTED_FIELDS = (
    "request_payload",
    "response_payload",
    "error_message",
    "parse_error",
    "error_text",
    "sample_message",
)


def neutralise(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading quote before a formula character."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def rows(list_name: str, queryset, *, raw_payloads: bool) -> Iterator[dict]:
    """The list's rows as plain dicts, at most EXPORT_LIMIT: the stored redacted copies unless
    the person may see raw payloads."""
    fields = FIELDS[list_name]
    read = (
        fields if raw_payloads else [f"{f}_redacted" if f in REDACTED_FIELDS else f for f in fields]
    )
    for values in queryset.values(*read)[:EXPORT_LIMIT].iterator(chunk_size=500):
        yield {name: _plain(values[column]) for name, column in zip(fields, read, strict=True)}


def as_csv(fields: list[str], data: Iterable[dict]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(fields)
    yield flush()
    for row in data:
        cells = []
        for name in fields:
            value = row.get(name)
            if isinstance(value, dict | list):
                value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            cells.append(neutralise(value) if isinstance(value, str) else value)
        writer.writerow(cells)
        yield flush()


def as_json_lines(data: Iterable[dict]) -> Iterator[str]:
    for row in data:
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def stream(list_name: str, fmt: str, queryset, *, raw_payloads: bool) -> Iterator[str]:
    data = rows(list_name, queryset, raw_payloads=raw_payloads)
    return as_csv(FIELDS[list_name], data) if fmt == "csv" else as_json_lines(data)


def record_export(actor: Actor, list_name: str, fmt: str, queryset, filters: str) -> int:
    """Audit the export before it streams; returns the number of rows it will hold."""
    count = queryset.order_by().values("pk")[:EXPORT_LIMIT].count()
    with transaction.atomic():
        audit.record(
            f"{list_name}.export",
            actor=actor,
            summary=f"Exported {count} {list_name} row(s) as {fmt}",
            details={"list": list_name, "format": fmt, "filters": filters[:1000], "count": count},
        )
    return count
