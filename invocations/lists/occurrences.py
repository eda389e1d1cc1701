"""A group's occurrences as its page lists them: its failed events newest first (events.py),
each shown by its most informative report (a record, with the event's other records attached
as its `twins`, or a failed synchronous invocation), with what its replays did."""

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from invocations.ingest import redrive
from invocations.invoking import replay
from invocations.models import ExecutionRecord, FailedEvent, FailureGroup, Invocation

PAGE_SIZE = 25


def cursor_from(before: str | None):
    """The page cursor from ?before=, or None (the first page) when it is not a valid time.
    A time without a zone is read in the site's zone."""
    try:
        cursor = parse_datetime(before or "")
    except ValueError:  # well formed but impossible: month 13, February 30
        return None
    if cursor is not None and timezone.is_naive(cursor):
        cursor = timezone.make_aware(cursor)
    return cursor


def page(group: FailureGroup, before: str | None):
    """The group's failed events, newest first by the time they happened; keyset on that time.
    Each row is (kind, when, item): the report the event is shown by, with `shown_event` (the
    event) and, for a record, `twins` (the event's other records) attached."""
    cursor = cursor_from(before)
    rows = FailedEvent.objects.of_group(group).for_occurrences()
    if cursor is not None:
        rows = rows.filter(happened_at__lt=cursor)
    found = list(rows.order_by("-happened_at", "-id")[: PAGE_SIZE + 1])
    more = len(found) > PAGE_SIZE
    shown = found[:PAGE_SIZE]
    twins: dict[int, list[ExecutionRecord]] = {event.pk: [] for event in shown}
    for record in (
        ExecutionRecord.objects.for_list()
        .filter(event__in=[event.pk for event in shown])
        .order_by("id")
    ):
        twins[record.event_id].append(record)
    items: list[tuple[str, datetime, ExecutionRecord | Invocation]] = []
    for event in shown:
        records = twins[event.pk]
        record = event.primary_record or (records[0] if records else None)
        if record is not None and event.kind != FailedEvent.Kind.SYNC:
            record.twins = [r for r in records if r.pk != record.pk]
            record.shown_event = event  # type: ignore[attr-defined]
            items.append(("record", event.happened_at, record))
        elif event.invocation is not None:
            event.invocation.shown_event = event  # type: ignore[attr-defined]
            items.append(("invocation", event.happened_at, event.invocation))
    cursor_value = shown[-1].happened_at.isoformat() if more and shown else None
    return items, cursor_value


def moved_by_sqs(record: ExecutionRecord | None) -> dict[str, str] | None:
    """A dead letter with no error at all (none of Lambda's RequestID, ErrorCode, ErrorMessage
    attributes) was moved by SQS, after its source queue's maxReceiveCount receives: the DLQ it
    is in and, from the inventory's event source mapping, the queue it came from."""
    if record is None or record.kind != ExecutionRecord.Kind.DLQ:
        return None
    if record.error_type or record.error_message or record.dlq_error_code is not None:
        return None
    source = redrive.source_queue_url(record)
    return {"dlq": record.queue.name, "source": source.rsplit("/", 1)[-1] if source else ""}


def replayed_rows(occurrences, shown_records) -> set[int]:
    """The rows (by the record they are shown by) whose event was replayed with success."""
    return {
        item.pk
        for kind, _, item in occurrences
        if kind == "record" and item.shown_event.replayed_ok
    }


def replayed_elsewhere_rows(occurrences, shown_records) -> dict[int, str]:
    """{row's record: "hello in staging"} for events replayed only elsewhere."""
    elsewhere = replay.replayed_elsewhere(shown_records)
    rows = {}
    for kind, _, item in occurrences:
        if kind == "record" and not item.shown_event.replayed_ok:
            for record in [item, *item.twins]:
                if record.pk in elsewhere:
                    rows[item.pk] = elsewhere[record.pk]
    return rows
