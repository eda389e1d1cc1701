"""A group's occurrences as its page lists them: failed events newest first, a record event
shown by its first record with the other records of its request attached (its `twins`: the
dead letter of an OnFailure record), merged on time with the group's failed invocations, and
which of them were replayed."""

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from invocations.failures import events
from invocations.ingest import redrive
from invocations.invoking import replay
from invocations.models import ExecutionRecord, FailureGroup, Invocation

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
    """Failed events of the group, newest first, merged on time; keyset on time. A record
    event is a row for its first record with the other records of its request attached
    (`twins`: the dead letter of an OnFailure record)."""
    cursor = cursor_from(before)
    records = events.first_in_group(ExecutionRecord.objects.for_list().filter(failure_group=group))
    invocations = (
        Invocation.objects.for_list().filter(failure_group=group).defer(*Invocation.BIG_FIELDS)
    )
    if cursor is not None:
        records = records.filter(received_at__lt=cursor)
        invocations = invocations.filter(created_at__lt=cursor)
    items = [
        ("record", r.received_at, r)
        for r in records.order_by("-received_at", "-id")[: PAGE_SIZE + 1]
    ]
    items += [
        ("invocation", i.created_at, i)
        for i in invocations.order_by("-created_at", "-id")[: PAGE_SIZE + 1]
    ]
    items.sort(key=lambda item: item[1], reverse=True)
    page = items[:PAGE_SIZE]
    more = len(items) > PAGE_SIZE
    _attach_twins(group, [item for kind, _, item in page if kind == "record"])
    cursor_value = page[-1][1].isoformat() if more and page else None
    # Pages go by arrival (the indexed column); each row shows when the failure happened, the
    # notion the group's first/last failed and backlog figures use.
    shown = [
        (
            kind,
            (item.record_timestamp or item.received_at)
            if kind == "record"
            else (item.finished_at or item.created_at),
            item,
        )
        for kind, _, item in page
    ]
    return shown, cursor_value


def _attach_twins(group: FailureGroup, firsts: list[ExecutionRecord]) -> None:
    by_request = {r.request_id: r for r in firsts if r.request_id}
    for record in firsts:
        record.twins = []
    if not by_request:
        return
    twins = (
        ExecutionRecord.objects.for_list()
        .filter(failure_group=group, request_id__in=list(by_request))
        .exclude(pk__in=[r.pk for r in firsts])
        .order_by("id")
    )
    for twin in twins:
        by_request[twin.request_id].twins.append(twin)


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
    """The rows (by their first record) whose event was replayed with success, through any of
    its records."""
    done = replay.succeeded_record_ids(shown_records)
    return {
        item.pk
        for kind, _, item in occurrences
        if kind == "record" and any(r.pk in done for r in [item, *item.twins])
    }


def replayed_elsewhere_rows(occurrences, shown_records) -> dict[int, str]:
    """{row's first record: "hello in staging"} for events replayed only elsewhere."""
    elsewhere = replay.replayed_elsewhere(shown_records)
    rows = {}
    for kind, _, item in occurrences:
        if kind == "record":
            for record in [item, *item.twins]:
                if record.pk in elsewhere:
                    rows[item.pk] = elsewhere[record.pk]
    return rows
