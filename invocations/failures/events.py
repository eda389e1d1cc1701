"""A failure group counts failed events (requests), not records.

Lambda often reports one failed event twice: an OnFailure record (with the error) and a dead
letter (the event itself), and may deliver a destination record more than once. All records of
one request in a group are one occurrence; the first of them (the lowest id) stands for it and
dates it. A record without a request ID is an event of its own."""

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from invocations.models import ExecutionRecord

FAILURE_KINDS = [
    ExecutionRecord.Kind.FAILURE,
    ExecutionRecord.Kind.DLQ,
    ExecutionRecord.Kind.STREAM_FAILURE,
]


def first_in_group(records: QuerySet[Any]) -> QuerySet[Any]:
    """`records` narrowed to those that stand for their event in their group."""
    earlier = ExecutionRecord.objects.filter(
        environment=OuterRef("environment"),
        request_id=OuterRef("request_id"),
        failure_group=OuterRef("failure_group"),
        id__lt=OuterRef("id"),
    )
    # A message the dashboard sent back that returned is its origin again, never an event.
    return records.filter(Q(request_id="") | ~Exists(earlier), returned_from__isnull=True)


def first_failure_of_request(records: QuerySet[Any]) -> QuerySet[Any]:
    """`records` (failures) narrowed to the first failure record of each request of their
    environment: a function's failed events, whatever groups they are in."""
    earlier = ExecutionRecord.objects.filter(
        environment=OuterRef("environment"),
        request_id=OuterRef("request_id"),
        kind__in=FAILURE_KINDS,
        id__lt=OuterRef("id"),
    )
    return records.filter(Q(request_id="") | ~Exists(earlier), returned_from__isnull=True)


def starts_event(record: ExecutionRecord, key: str, seen: set[tuple[str, str]]) -> bool:
    """Does `record`, joining the group of fingerprint `key`, start a new event there? `seen`
    holds the (fingerprint, request ID) pairs already in groups, and is added to."""
    if not record.request_id:
        return True
    pair = (key, record.request_id)
    if pair in seen:
        return False
    seen.add(pair)
    return True
