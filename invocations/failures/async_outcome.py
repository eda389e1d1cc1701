"""The outcome of an Event invocation, once Lambda reports it.

Lambda answers an Event invoke with 202 at once; how the event ended arrives later as a record
with the same request ID (an OnSuccess or OnFailure record, or a dead letter). When such a record
is linked to the invocation, the invocation's status becomes that outcome, its attempts the
record's approximateInvokeCount and its finished time the outcome's time. The 202 stays in
status_code: the pages show it as how the event was accepted.

A destination record says more than a dead letter (the attempts, the condition), so it wins
whichever arrives first."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from invocations.access import redaction
from invocations.failures import events
from invocations.models import ExecutionRecord, Function, Invocation

S = Invocation.Status
K = ExecutionRecord.Kind
# Statuses an outcome may still replace: waiting, or known only from a dead letter.
SETTLEABLE = [S.ACCEPTED, S.DEAD_LETTERED]
OUTCOME_KINDS = [K.SUCCESS, K.FAILURE, K.DLQ]


def _rank(record: ExecutionRecord) -> int:
    return 0 if record.kind == K.DLQ else 1


def outcome_fields(record: ExecutionRecord) -> dict[str, Any]:
    """The Invocation fields that `record` (an outcome of its request) sets."""
    when = record.record_timestamp or record.received_at
    fields: dict[str, Any] = {"finished_at": when}
    if record.executed_version:
        fields["executed_version"] = record.executed_version[:32]
    count = record.approximate_invoke_count
    if record.kind == K.SUCCESS:
        fields.update(status=S.SUCCEEDED, error_code="", error_text="")
    elif record.kind == K.DLQ:
        fields.update(
            status=S.DEAD_LETTERED,
            error_code=(record.error_type or "")[:100],
            error_text=record.error_message[:5000],
        )
    elif record.condition in ("EventAgeExceeded", "ZeroReservedConcurrency") and not count:
        # The function never ran: the 1 attempt of the accepted API call must not read as a run.
        fields.update(status=S.NEVER_RAN, error_code=record.condition, error_text="", attempts=0)
    else:
        fields.update(
            status=S.EVENT_FAILED,
            error_code=(record.error_type or record.condition)[:100],
            error_text=record.error_message[:5000],
            function_error=record.function_error[:20],
        )
    if count:
        fields["attempts"] = count
    return redaction.copies("Invocation", fields)


def link_and_settle(invocation: Invocation) -> int:
    """Once an Event invocation has its request ID: link the records that arrived before it,
    and take the outcome they report. Returns how many records were linked."""
    with transaction.atomic():
        linked = ExecutionRecord.objects.link_to(invocation)
        if linked:
            events.link_invocation(invocation)
            settle([invocation.pk])
    return linked


def settle(invocation_ids: Iterable[int | None]) -> int:
    """Give each Event invocation among `invocation_ids` that still waits the outcome its linked
    records report; returns how many changed. Call it in the transaction that linked them."""
    ids = {pk for pk in invocation_ids if pk}
    if not ids:
        return 0
    waiting = set(
        Invocation.objects.filter(
            pk__in=ids, invocation_type=Invocation.Type.EVENT, status__in=SETTLEABLE
        ).values_list("pk", flat=True)
    )
    if not waiting:
        return 0
    best: dict[int, ExecutionRecord] = {}
    for record in (
        ExecutionRecord.objects.filter(invocation_id__in=waiting, kind__in=OUTCOME_KINDS)
        .only(
            "invocation_id",
            "kind",
            "condition",
            "approximate_invoke_count",
            "executed_version",
            "error_type",
            "error_message",
            "function_error",
            "record_timestamp",
            "received_at",
        )
        .order_by("id")
    ):
        pk = record.invocation_id
        if pk is None:
            continue
        current = best.get(pk)
        if current is None or _rank(record) > _rank(current):
            best[pk] = record
    changed = 0
    for pk, record in best.items():
        fields = outcome_fields(record)
        # A dead letter never replaces a destination's outcome.
        allowed = Q(status=S.ACCEPTED) | Q(status=S.DEAD_LETTERED)
        if fields["status"] == S.DEAD_LETTERED:
            allowed = Q(status=S.ACCEPTED)
        changed += Invocation.objects.filter(allowed, pk=pk).update(**fields)
    return changed


# Lambda's defaults when the function has no event invoke configuration.
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_EVENT_AGE = 6 * 60 * 60
# Lambda waits about one minute before the first retry and two before the second.
RETRY_WAITS = (60, 120)
# Delivery to the destination and the next poll of its queue.
DELIVERY_MARGIN = timedelta(minutes=2)


def reported(function: Function | None) -> set[str]:
    """Which outcomes of an Event invocation of `function` (from the inventory) reach a queue:
    "success" through OnSuccess, "failure" through OnFailure or a dead-letter queue."""
    if function is None:
        return set()
    outcomes = set()
    if function.on_success_destination:
        outcomes.add("success")
    if function.on_failure_destination or function.dlq_target:
        outcomes.add("failure")
    return outcomes


def report_deadline(function: Function, accepted_at: datetime) -> datetime:
    """When Lambda must have reported a failure of an event accepted at `accepted_at`: its
    retries and maximum event age have passed, plus the delivery of the record."""
    retries = function.async_max_retries
    retries = DEFAULT_MAX_RETRIES if retries is None else retries
    age = function.async_max_event_age or DEFAULT_MAX_EVENT_AGE
    waits = sum(RETRY_WAITS[:retries])
    return (
        accepted_at
        + timedelta(seconds=age + waits)
        + DELIVERY_MARGIN
        + timedelta(seconds=settings.POLL_INTERVAL_SECONDS)
    )
