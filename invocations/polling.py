"""Draining watched queues into execution records, losing nothing (DESIGN §4).

For each enabled queue, one poller at a time (`WatchedQueue.claim`, a conditional UPDATE):

    receive 10 → parse (pure) → one transaction: insert the new ones, count them
               → after the commit: DeleteMessageBatch → receive again …

until the queue is empty or the time budget is used. The order is what makes it safe:

- SQS delivers at least once, and a crash after the commit but before the delete makes the
  message come back; the unique key (queue, message ID) turns its second save into a no-op and
  the next poll deletes it. So storage is exactly once.
- A message that cannot be parsed is stored as `unparsed` with its raw body, and deleted like any
  other: never dropped, never read forever.
- No AWS call happens inside `transaction.atomic()`.
- Memory is bounded by one batch: nothing is kept from one receive to the next.

One failing queue stores its error (`last_error`, `last_error_at`) and never stops the others;
an AWS outage is a stored error on each queue, not a crash.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from invocations import aws, records, triage
from invocations.models import ExecutionRecord, Invocation, WatchedQueue

log = logging.getLogger(__name__)

# How long ReceiveMessage waits on an empty queue. Short polling (0) on real SQS samples only
# some servers and can answer "empty" while messages wait; one second of long polling asks them
# all, and costs a second only when the queue really is empty.
RECEIVE_WAIT_SECONDS = 1
# A claim is a lease of POLL_CLAIM_SECONDS, renewed while the poller drains (after a batch, once
# half of it is used). A poller that died (SIGKILL, out of memory, a lost machine) releases
# nothing: its queue is free again when the lease runs out, not after the whole time budget.
# A lease that runs out under a poller that is merely slow lets a second one in: that costs
# duplicate receives, never a duplicate record (the unique key) or a lost message.


@dataclass
class PollResult:
    queue_id: int
    queue_name: str
    skipped: bool = False  # another poller holds the queue
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    delete_failures: int = 0
    error: str = ""


@dataclass
class PassResult:
    results: list[PollResult] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(result.stored for result in self.results)

    @property
    def polled(self) -> list[PollResult]:
        return [result for result in self.results if not result.skipped]

    @property
    def failed(self) -> list[PollResult]:
        return [result for result in self.results if result.error]


def poll_all(
    queues=None, *, budget_seconds: float | None = None, wait_seconds: int | None = None
) -> PassResult:
    """Poll every enabled watched queue (of every environment) once; never raises for a queue."""
    if queues is None:
        queues = WatchedQueue.objects.filter(enabled=True).select_related("environment")
    outcome = PassResult()
    for queue in queues:
        outcome.results.append(
            poll_queue(queue, budget_seconds=budget_seconds, wait_seconds=wait_seconds)
        )
    return outcome


def poll_queue(
    queue: WatchedQueue, *, budget_seconds: float | None = None, wait_seconds: int | None = None
) -> PollResult:
    """Drain one queue until it is empty or `budget_seconds` is used (None: the setting; 0 or
    less: no limit). Stores the error on the queue instead of raising."""
    if budget_seconds is None:
        budget_seconds = settings.POLL_TIME_BUDGET_SECONDS
    if wait_seconds is None:
        wait_seconds = RECEIVE_WAIT_SECONDS
    result = PollResult(queue.pk, queue.name)
    if not queue.claim(settings.POLL_CLAIM_SECONDS):
        result.skipped = True
        return result
    try:
        _drain(queue, result, budget_seconds, wait_seconds)
    except aws.AwsError as error:
        result.error = str(error)
        log.warning("polling %s failed: %s", queue.url, error)
    except Exception as exc:  # one broken queue must never stop the others
        result.error = f"{type(exc).__name__}: {exc}"
        log.exception("polling %s failed", queue.url)
    finally:
        _finish(queue, result)
        queue.release()
    return result


def _drain(queue: WatchedQueue, result: PollResult, budget: float, wait: int) -> None:
    deadline = time.monotonic() + budget if budget > 0 else None
    lease = settings.POLL_CLAIM_SECONDS
    renewed = time.monotonic()
    while True:
        if time.monotonic() - renewed > lease / 2:
            queue.claim(lease, renew=True)
            renewed = time.monotonic()
        messages = aws.receive_messages(queue.environment, queue.url, wait_seconds=wait)
        if not messages:
            return
        result.received += len(messages)
        new = store_batch(queue, messages)
        result.stored += new
        result.duplicates += len({m["MessageId"] for m in messages}) - new
        # Only now, after the commit, may the messages leave the queue.
        delete_batch(queue, messages, result)
        del messages
        if deadline is not None and time.monotonic() >= deadline:
            return


def store_batch(queue: WatchedQueue, messages: list[dict]) -> int:
    """Parse and save one received batch in one transaction; the number of new records.

    A message already stored (a redelivery) is skipped: the unique (queue, message_id) key makes
    a second insert a no-op, and the IDs already present are read first to count honestly.
    """
    rows: dict[str, ExecutionRecord] = {}
    for message in messages:
        message_id = message["MessageId"]
        if message_id not in rows:  # standard queues may hand out the same message twice
            rows[message_id] = _record(queue, message)
    request_ids = {row.request_id for row in rows.values() if row.request_id}
    with transaction.atomic():
        present = set(
            ExecutionRecord.objects.filter(queue=queue, message_id__in=list(rows)).values_list(
                "message_id", flat=True
            )
        )
        new = [row for message_id, row in rows.items() if message_id not in present]
        if request_ids and new:
            linked = dict(
                Invocation.objects.filter(
                    environment_id=queue.environment_id, request_id__in=request_ids
                )
                .order_by("id")
                .values_list("request_id", "id")
            )
            for row in new:
                row.invocation_id = linked.get(row.request_id)
        ExecutionRecord.objects.bulk_create(new, ignore_conflicts=True)
        if new:
            WatchedQueue.objects.filter(pk=queue.pk).update(
                records_stored=F("records_stored") + len(new)
            )
            # Failures join their groups in the same transaction: never stored ungrouped.
            saved = ExecutionRecord.objects.filter(
                queue=queue, message_id__in=[row.message_id for row in new]
            ).select_related("queue", "environment")
            triage.group_records(list(saved))
    return len(new)


def delete_batch(queue: WatchedQueue, messages: list[dict], result: PollResult) -> None:
    """DeleteMessageBatch after the commit. A partly failed delete is logged and remembered on
    the queue; those messages come back, are skipped as duplicates, and deleted then."""
    failures = aws.delete_messages(queue.environment, queue.url, messages)
    if failures:
        result.delete_failures += len(failures)
        first = failures[0]
        log.warning(
            "deleting %d of %d messages from %s failed (first: %s %s: %s); they will be read "
            "again, skipped as already stored, and deleted then",
            len(failures),
            len(messages),
            queue.url,
            first.message_id,
            first.code,
            first.message,
        )


def _record(queue: WatchedQueue, message: dict) -> ExecutionRecord:
    body = message.get("Body", "")
    attributes = message.get("MessageAttributes") or {}
    parsed = records.parse_message(
        body, attributes, queue.kind, system_attributes=message.get("Attributes") or {}
    )
    return ExecutionRecord(
        environment_id=queue.environment_id,
        queue=queue,
        message_id=message["MessageId"],
        kind=parsed.kind,
        condition=parsed.condition,
        request_id=parsed.request_id,
        function_arn=parsed.function_arn,
        # A dead letter's body is the bare event: the queue knows whose it is.
        function_name=parsed.function_name or queue.function_name,
        qualifier=parsed.qualifier,
        executed_version=parsed.executed_version,
        approximate_invoke_count=parsed.approximate_invoke_count,
        status_code=_small(parsed.status_code),
        function_error=parsed.function_error[:20],
        error_type=parsed.error_type,
        error_message=parsed.error_message,
        stack_trace=parsed.stack_trace,
        dlq_error_code=parsed.dlq_error_code,
        request_payload=parsed.request_payload,
        response_payload=parsed.response_payload,
        envelope=parsed.envelope,
        batch_info=parsed.batch_info,
        record_timestamp=parsed.record_timestamp,
        # SQS bodies cannot hold NUL (it is outside SQS's allowed characters); PostgreSQL refuses
        # it, so be sure anyway.
        raw_body=body.replace("\x00", "\ufffd") if isinstance(body, str) else str(body),
        message_attributes=records.attributes_for_storage(attributes),
        parse_error=parsed.parse_error,
    )


def _small(value: int | None) -> int | None:
    """The model's PositiveSmallIntegerField columns hold 0..32767; an HTTP status always fits."""
    return value if value is not None and 0 <= value <= 32767 else None


def _finish(queue: WatchedQueue, result: PollResult) -> None:
    now = timezone.now()
    if result.error:
        fields = {"last_error": result.error[:2000], "last_error_at": now}
    else:
        fields = {"last_polled_at": now}
        if result.delete_failures:
            fields["last_error"] = (
                f"{result.delete_failures} message(s) could not be deleted; they will be read "
                "again, skipped as already stored, and deleted then"
            )
            fields["last_error_at"] = now
    WatchedQueue.objects.filter(pk=queue.pk).update(**fields)
    for name, value in fields.items():
        setattr(queue, name, value)


def link_records_to_invocation(invocation: Invocation) -> int:
    """Link records that arrived before their invocation was saved (call it once the request ID
    is known); returns how many were linked."""
    if not invocation.request_id:
        return 0
    return ExecutionRecord.objects.filter(
        environment_id=invocation.environment_id,
        request_id=invocation.request_id,
        invocation__isnull=True,
    ).update(invocation=invocation)


def purge_old_records(days: int | None = None, chunk: int = 1000) -> int:
    """Delete records received more than `days` (RECORD_RETENTION_DAYS) ago, in chunks so that no
    transaction holds the table long; one audit event (system) says how many."""
    from invocations import audit

    days = days if days is not None else settings.RECORD_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            ExecutionRecord.objects.filter(received_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:chunk]
        )
        if not ids:
            break
        with transaction.atomic():
            _, per_model = ExecutionRecord.objects.filter(id__in=ids).delete()
        deleted += per_model.get(ExecutionRecord._meta.label, 0)
    with transaction.atomic():
        audit.record(
            "records.purge",
            summary=f"Purged {deleted} record(s) received before {cutoff:%Y-%m-%d %H:%M} UTC",
            details={"deleted": deleted, "retention_days": days, "cutoff": cutoff.isoformat()},
        )
    return deleted
