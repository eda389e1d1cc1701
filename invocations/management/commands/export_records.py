"""Write execution records as JSON lines with the fields scripts rely on (README, "Commands"),
streaming: memory stays flat however many."""

import json
from datetime import UTC

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from invocations.access import audit
from invocations.access.actor import SYSTEM
from invocations.models import ExecutionRecord

FIELDS = [
    "message_id",
    "kind",
    "condition",
    "request_id",
    "function_arn",
    "function_name",
    "executed_version",
    "approximate_invoke_count",
    "status_code",
    "function_error",
    "error_type",
    "error_message",
    "request_payload",
    "response_payload",
    "record_timestamp",
    "parse_error",
]


class Command(BaseCommand):
    help = "Print execution records as JSON lines, oldest first, with their documented fields."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", help="only records received at or after this ISO 8601 time (UTC if bare)"
        )
        parser.add_argument("--kind", choices=[value for value, _ in ExecutionRecord.Kind.choices])

    def handle(self, *args, since=None, kind=None, **options):
        records = ExecutionRecord.objects.order_by("id")
        if since:
            moment = parse_datetime(since)
            if moment is None:
                raise CommandError(f"--since: not an ISO 8601 time: {since!r}")
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            records = records.filter(received_at__gte=moment)
        if kind:
            records = records.filter(kind=kind)
        count = 0
        for row in records.values(*FIELDS).iterator(chunk_size=500):
            if row["record_timestamp"] is not None:
                row["record_timestamp"] = row["record_timestamp"].isoformat()
            self.stdout.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            count += 1
        with transaction.atomic():
            audit.record(
                "records.export",
                actor=SYSTEM,
                summary=f"Exported {count} record(s) with manage.py export_records",
                details={"since": since or "", "kind": kind or "", "count": count},
            )
