"""Draining watched queues into execution records, losing nothing: a message is deleted only
after its record is committed, and a redelivered one is saved once (the unique key).

For each enabled queue, up to POLL_LEASES_PER_QUEUE pollers at a time, each holding one of its
leases (`WatchedQueue.claim`, a conditional UPDATE per slot):

    receive 10 → parse (pure) → one transaction: insert the new ones, group the failures
               → after the commit: DeleteMessageBatch → receive again …

until the queue is empty or the time budget is used (on a deep queue, receives run ahead and
two or three batches share a transaction: see _drain). The order is what makes it safe:

- SQS delivers at least once, and a crash after the commit but before the delete makes the
  message come back; the unique key (queue, message ID) turns its second save into a no-op and
  the next poll deletes it. So storage is exactly once.
- A message that cannot be parsed is stored as `unparsed` with its raw body, and deleted like any
  other: never dropped, never read forever.
- No AWS call happens inside `transaction.atomic()`.
- Memory is bounded by READ_AHEAD + 1 batches: nothing is kept once a batch is deleted.

One failing queue stores its error (`last_error`, `last_error_at`) and never stops the others;
an AWS outage is a stored error on each queue, not a crash.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.db.models import Count, F

from invocations import aws
from invocations.access import redaction
from invocations.failures import async_outcome, grouping
from invocations.ingest import records, redrive
from invocations.models import ExecutionRecord, Invocation, QueueLease, WatchedQueue, clock
from invocations.shared import bulk
from invocations.shared.text import storable

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

# How long ReceiveMessage waits on an empty queue. Short polling (0) on real SQS samples only
# some servers and can answer "empty" while messages wait; one second of long polling asks them
# all, and costs a second only when the queue really is empty.
RECEIVE_WAIT_SECONDS = 1
# A queue that was empty at its last poll is asked with a short receive (an empty queue then
# costs milliseconds, not the second above, so eight quiet queues take no eight seconds), and
# with the long poll again at least this often, in case short receives keep missing a message
# (on real SQS they sample some servers only; such a message waits for the next long poll).
LONG_POLL_AT_LEAST_EVERY = 60.0
# Queue id -> when this process last long-polled it and found it empty.
_quiet: dict[int, float] = {}
# On a deep queue: receives in flight while a batch is stored, and received batches stored in
# one transaction. Memory stays bounded by (READ_AHEAD + 1) batches of 10.
READ_AHEAD = 3
MIN_BATCHES_PER_COMMIT = 2  # waited for, when read ahead
BATCHES_PER_COMMIT = 3  # taken, when they have arrived
# The deletes of this many transactions may be in flight at once: a transaction waits for the
# deletes of the one before the last, not of the last (a DeleteMessageBatch round trip is
# longer than storing a batch, and waiting for it had become most of the drain's time).
COMMITS_DELETING = 2
# A claim is a lease of POLL_CLAIM_SECONDS, renewed while the poller drains (after a batch, once
# half of it is used). A poller that died (SIGKILL, out of memory, a lost machine) releases
# nothing: its slot is free again when the lease runs out, not after the whole time budget.
# Several pollers on one queue (or a lease that ran out under a slow poller) cost duplicate
# receives at worst, never a duplicate record (the unique key) or a lost message.
# PostgreSQL ends one of two transactions that wait on each other (a deadlock) or a
# serialization failure with an error; the batch is stored again, from fresh reads.
RETRIED_SQLSTATES = {"40P01": "deadlock", "40001": "serialization failure"}
STORE_ATTEMPTS = 5


@dataclass
class PollResult:
    queue_id: int
    queue_name: str
    skipped: bool = False  # other pollers hold every lease of the queue
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    delete_failures: int = 0
    error: str = ""
    seconds: float = 0.0


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
    queues: Iterable[WatchedQueue] | None = None,
    *,
    budget_seconds: float | None = None,
    wait_seconds: int | None = None,
) -> PassResult:
    """Poll every enabled watched queue (of every environment) once; never raises for a queue."""
    if queues is None:
        queues = WatchedQueue.objects.filter(enabled=True).select_related("environment")
    outcome = PassResult()
    pending = list(queues)
    while pending:
        # The queue fewest pollers hold first: pollers that start together spread over the
        # queues, then join the ones still draining.
        queue = _least_held(pending)
        pending.remove(queue)
        outcome.results.append(
            poll_queue(queue, budget_seconds=budget_seconds, wait_seconds=wait_seconds)
        )
    return outcome


def _least_held(queues: list[WatchedQueue]) -> WatchedQueue:
    if len(queues) == 1:
        return queues[0]
    held = dict(
        QueueLease.objects.filter(queue__in=queues, until__gte=clock.now())
        .values("queue")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("queue", "n")
    )
    return min(queues, key=lambda queue: held.get(queue.pk, 0))


def poll_queue(
    queue: WatchedQueue, *, budget_seconds: float | None = None, wait_seconds: int | None = None
) -> PollResult:
    """Drain one queue until it is empty or `budget_seconds` is used (None: the setting; 0 or
    less: no limit). Stores the error on the queue instead of raising."""
    if budget_seconds is None:
        budget_seconds = settings.POLL_TIME_BUDGET_SECONDS
    chosen_wait = wait_seconds is None
    if wait_seconds is None:
        wait_seconds = _receive_wait(queue.pk)
    result = PollResult(queue.pk, queue.name)
    lease = queue.claim(settings.POLL_CLAIM_SECONDS)
    if lease is None:
        result.skipped = True
        return result
    started = time.monotonic()
    try:
        _drain(queue, lease, result, budget_seconds, wait_seconds)
    except aws.AwsError as error:
        result.error = str(error)
        log.warning("polling %s failed: %s", queue.url, redaction.redact_text(result.error))
    except Exception as exc:  # one broken queue must never stop the others
        result.error = f"{type(exc).__name__}: {exc}"
        log.exception("polling %s failed", queue.url)
    finally:
        result.seconds = time.monotonic() - started
        _finish(queue, result)
        lease.release()
    if chosen_wait:
        _remember_quiet(queue.pk, result, wait_seconds)
    return result


def _receive_wait(queue_id: int) -> int:
    """The long poll, or a short receive for a queue found empty by a recent long poll."""
    quiet_since = _quiet.get(queue_id)
    if quiet_since is not None and time.monotonic() - quiet_since < LONG_POLL_AT_LEAST_EVERY:
        return 0
    return RECEIVE_WAIT_SECONDS


def _remember_quiet(queue_id: int, result: PollResult, wait: int) -> None:
    if result.received or result.error:
        _quiet.pop(queue_id, None)
    elif wait > 0:
        _quiet[queue_id] = time.monotonic()


def _drain(
    queue: WatchedQueue, lease: QueueLease, result: PollResult, budget: float, wait: int
) -> None:
    """Receive, store, delete until the queue is empty or the budget is used.

    On a queue deeper than one batch, receives and deletes run on helper threads: up to
    READ_AHEAD receives are in flight while batches are stored, two to three of them in one
    transaction, so AWS and the database work at the same time and a transaction's fixed cost
    is shared. A delete is still sent only after the commit of its messages. Batches already
    read when the budget runs out are stored too (a poll may overrun it by READ_AHEAD batches);
    batches read but not stored because of an error are made visible again at once."""
    deadline = time.monotonic() + budget if budget > 0 else None
    lease_seconds = settings.POLL_CLAIM_SECONDS
    renewed = time.monotonic()
    read_ahead = None  # decided when the queue proves deeper than one batch
    reading = True

    def receive() -> list[MessageTypeDef]:
        return aws.receive_messages(queue.environment, queue.url, wait_seconds=wait)

    ahead: deque[Future[list[MessageTypeDef]]] = deque()

    def keep_reading_ahead() -> None:
        """As soon as a receive is taken, the next one is sent: READ_AHEAD stay in flight."""
        while reading and read_ahead and len(ahead) < READ_AHEAD:
            ahead.append(calls.submit(receive))

    deleting: list[tuple[Future[list[aws.DeleteFailure]], list[dict[str, Any]]]] = []
    unstored: list[MessageTypeDef] = []  # received, not yet committed
    # The receives ahead and the deletes in flight.
    threads = READ_AHEAD + BATCHES_PER_COMMIT * COMMITS_DELETING
    with ThreadPoolExecutor(threads, thread_name_prefix=f"poll-{queue.pk}") as calls:
        try:
            batch = receive()
            unstored = list(batch)
            while True:
                if not batch:
                    reading = False  # the queue looks empty: store what is in flight, then stop
                if deadline is not None and time.monotonic() >= deadline:
                    reading = False
                if batch:
                    result.received += len(batch)
                    if read_ahead is None and len(batch) == 10:
                        read_ahead = _may_read_ahead(queue)
                    messages = unstored
                    # Another receive is taken only while its (up to) 10 messages still fit:
                    # after a short batch, "fewer than 30" would let a fourth one in.
                    while ahead and len(messages) + 10 <= 10 * BATCHES_PER_COMMIT:
                        if len(messages) >= 10 * MIN_BATCHES_PER_COMMIT and not ahead[0].done():
                            break
                        receiving = ahead.popleft()
                        keep_reading_ahead()
                        arrived = receiving.result()
                        reading = reading and bool(arrived)
                        result.received += len(arrived)
                        messages += arrived
                    # Keep AWS busy while the database works.
                    keep_reading_ahead()
                    new = store_batch(queue, messages)
                    unstored = []
                    result.stored += new
                    result.duplicates += len(messages) - new  # delivered again, or twice
                    _wait_for_deletes(
                        queue, deleting, result, keep=BATCHES_PER_COMMIT * (COMMITS_DELETING - 1)
                    )
                    # Only now, after the commit, may the messages leave the queue: one
                    # DeleteMessageBatch per 10, side by side (one after another, their round
                    # trips set the pace of the whole drain: bench/ingest.py measured it).
                    for start in range(0, len(messages), 10):
                        # What a delete needs, not the bodies: memory stays bounded.
                        chunk = [
                            {"MessageId": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]}
                            for m in messages[start : start + 10]
                        ]
                        deleting.append(
                            (
                                calls.submit(
                                    aws.delete_messages, queue.environment, queue.url, chunk
                                ),
                                chunk,
                            )
                        )
                if ahead:
                    receiving = ahead.popleft()
                    keep_reading_ahead()
                    batch = receiving.result()
                elif reading:
                    # One batch at a time: it must be deleted before the next receive, or a
                    # queue with a visibility timeout of 0 would hand it out again.
                    _wait_for_deletes(queue, deleting, result)
                    batch = receive()
                else:
                    break
                unstored = list(batch)
                if time.monotonic() - renewed > lease_seconds / 2:
                    if not lease.renew(lease_seconds):
                        # It ran out and another poller has the slot: finish what was
                        # received, read no more (at most the slots' number of pollers).
                        reading = False
                    renewed = time.monotonic()
        except BaseException:
            _release(queue, unstored)
            for receiving in ahead:
                _release_when_received(queue, receiving)
            _wait_for_deletes(queue, deleting, result, failing=True)
            raise
        _wait_for_deletes(queue, deleting, result)


def _wait_for_deletes(
    queue: WatchedQueue,
    deleting: list[tuple[Future[list[aws.DeleteFailure]], list[dict[str, Any]]]],
    result: PollResult,
    failing: bool = False,
    keep: int = 0,
) -> None:
    """Wait for the DeleteMessageBatch calls sent on helper threads, oldest first, until at
    most `keep` are in flight; note what they refused. `failing`: the drain is already raising
    an error, which one from a delete must not hide."""
    while len(deleting) > keep:
        sent, messages = deleting.pop(0)
        try:
            failures = sent.result()
        except Exception as exc:
            if not failing:
                raise
            log.warning("deleting a batch from %s failed too: %s", queue.url, exc)
            continue
        _note_delete_failures(queue, messages, failures, result)


def _may_read_ahead(queue: WatchedQueue) -> bool:
    """Reading the next batch before this one is deleted is only useful if this one stays
    invisible meanwhile: not on a queue whose visibility timeout is 0 (every receive would
    return the batch being stored)."""
    try:
        return aws.visibility_timeout(queue.environment, queue.url) > 0
    except aws.AwsError as exc:
        log.info("no read-ahead on %s: %s", queue.url, exc)
        return False


def _release(queue: WatchedQueue, messages: Sequence[Mapping[str, Any]]) -> None:
    """Make messages received but not stored visible again at once, instead of after their
    visibility timeout (best effort: if this fails, the timeout does it)."""
    if not messages:
        return
    try:
        aws.release_messages(queue.environment, queue.url, messages)
    except Exception as exc:
        log.info("could not release %d messages of %s: %s", len(messages), queue.url, exc)


def _release_when_received(queue: WatchedQueue, receiving: Future[list[MessageTypeDef]]) -> None:
    try:
        messages = receiving.result()
    except Exception:
        return  # that receive failed: it holds nothing
    _release(queue, messages)


def store_batch(queue: WatchedQueue, messages: Sequence[Mapping[str, Any]]) -> int:
    """Parse and save received messages in one transaction; the number of new records.

    A message already stored (a redelivery) is skipped: the IDs present are read first. Another
    poller of the same queue may store the same message between that read and the insert (SQS
    delivered it twice, or its visibility timeout ran out); the unique (queue, message_id) key
    then refuses the insert, the transaction is rolled back, and the batch is stored again from
    fresh rows, skipping it. A deadlock that PostgreSQL broke is retried the same way.
    """
    attempt = 1
    while True:
        try:
            rows = _rows(queue, messages)
            stored = _insert(queue, rows)
            break
        except IntegrityError:
            if attempt == STORE_ATTEMPTS:
                raise
        except OperationalError as exc:
            broken = retryable_conflict(exc)
            if attempt == STORE_ATTEMPTS or not broken:
                raise
            log.warning(
                "PostgreSQL broke a %s while storing a batch of %s; trying again", broken, queue.url
            )
            time.sleep(random.uniform(0, 0.05 * attempt))
        attempt += 1
    # The batch is committed: a failure from here on must not store it again.
    try:
        _link_late_invocations(queue, rows)
    except DatabaseError as exc:
        log.warning("linking a stored batch of %s to its invocations failed: %s", queue.url, exc)
    return stored


def _link_late_invocations(queue: WatchedQueue, rows: dict[str, ExecutionRecord]) -> None:
    """After the batch's commit, link its records to invocations that got their request ID while
    it was being stored. The worker saves an Event invocation's request ID and then links the
    records already stored; a batch committed in between (on PostgreSQL neither transaction sees
    the other's rows) would be linked by neither. Looking again once the batch is committed
    closes that gap: either this look sees the request ID, or the worker's later link sees the
    records."""
    unlinked = {
        row.request_id
        for row in rows.values()
        if row.pk is not None and row.request_id and row.invocation_id is None
    }
    if not unlinked:
        return
    first: dict[str, int] = {}
    for request_id, pk in (
        Invocation.objects.filter(environment_id=queue.environment_id, request_id__in=unlinked)
        .order_by()
        .values_list("request_id", "id")
    ):
        first[request_id] = min(pk, first.get(request_id, pk))
    for pk in first.values():
        async_outcome.link_and_settle(
            Invocation.objects.only("pk", "environment_id", "request_id").get(pk=pk)
        )


def retryable_conflict(exc: OperationalError) -> str:
    """ "deadlock" or "serialization failure" when PostgreSQL rolled the transaction back to
    break one (running it again is safe and expected to succeed); "" for any other error."""
    return RETRIED_SQLSTATES.get(getattr(exc.__cause__, "sqlstate", None) or "", "")


def _rows(queue: WatchedQueue, messages: Sequence[Mapping[str, Any]]) -> dict[str, ExecutionRecord]:
    rows: dict[str, ExecutionRecord] = {}
    for message in messages:
        message_id = message["MessageId"]
        if message_id not in rows:  # standard queues may hand out the same message twice
            rows[message_id] = _record(queue, message)
    return rows


def _insert(queue: WatchedQueue, rows: dict[str, ExecutionRecord]) -> int:
    """One transaction: the rows inserted by one statement that skips those already stored,
    the failures grouped, the queue's counter moved once. On PostgreSQL every statement is a
    round trip to the server, which on a busy machine waits to be scheduled: this used to read
    the stored message IDs first, then insert (bench/ingest_pg.py measured the difference)."""
    request_ids = {row.request_id for row in rows.values() if row.request_id}
    with transaction.atomic():
        # No ORDER BY in this lookup: with the models' default ordering SQLite walks the
        # environment's whole index in order instead of seeking each key, and a drain slows
        # down with every record it stores (bench/ingest.py found it).
        if request_ids:
            linked: dict[str, int] = {}
            for request_id, pk in (
                Invocation.objects.filter(
                    environment_id=queue.environment_id, request_id__in=request_ids
                )
                .order_by()
                .values_list("request_id", "id")
            ):
                linked[request_id] = min(pk, linked.get(request_id, pk))  # the first invocation
            for row in rows.values():
                row.invocation_id = linked.get(row.request_id)
        redrive.link_returns(queue.environment, list(rows.values()))
        new = _insert_skipping_stored(rows)
        if not new:
            return 0
        # Failures join their groups in the same transaction: never stored ungrouped.
        grouping.group_records(new)
        async_outcome.settle({row.invocation_id for row in new})
        WatchedQueue.objects.filter(pk=queue.pk).update(
            records_stored=F("records_stored") + len(new)
        )
    return len(new)


def _insert_skipping_stored(rows: dict[str, ExecutionRecord]) -> list[ExecutionRecord]:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id, message_id` for all rows in one statement
    (shared/bulk.py, which prepares its values without Django's per-value work): a message
    already stored (a redelivery: the unique queue and message ID) is skipped by the database.
    Returns the rows inserted, in the order received, their keys set."""
    inserted = {
        message_id: pk
        for pk, message_id in bulk.insert_skipping_conflicts(
            ExecutionRecord, list(rows.values()), ("id", "message_id")
        )
    }
    new = []
    for message_id, row in rows.items():
        if message_id in inserted:
            row.pk = inserted[message_id]
            row._state.adding = False
            row._state.db = "default"
            new.append(row)
    return new


def _note_delete_failures(
    queue: WatchedQueue,
    messages: Sequence[Mapping[str, Any]],
    failures: list[aws.DeleteFailure],
    result: PollResult,
) -> None:
    """A partly failed delete is logged and remembered on the queue; those messages come back,
    are skipped as duplicates, and deleted then."""
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


def _record(queue: WatchedQueue, message: Mapping[str, Any]) -> ExecutionRecord:
    """One message as a record to insert, with the redacted copies of its texts made now: the
    one time they are redacted (until REDACT_KEYS changes)."""
    body = message.get("Body", "")
    attributes = message.get("MessageAttributes") or {}
    parsed = records.parse_message(
        body, attributes, queue.kind, system_attributes=message.get("Attributes") or {}
    )
    return ExecutionRecord(
        environment=queue.environment,
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
        dlq_error_code=parsed.dlq_error_code,
        envelope=parsed.envelope,
        batch_info=parsed.batch_info,
        record_timestamp=parsed.record_timestamp,
        # SQS bodies cannot hold NUL (it is outside SQS's allowed characters); the one text rule
        # makes sure anyway.
        raw_body=storable(body if isinstance(body, str) else str(body)),
        message_attributes=records.attributes_for_storage(attributes),
        **redaction.copies(
            "ExecutionRecord",
            {
                "error_message": parsed.error_message,
                "stack_trace": parsed.stack_trace,
                "parse_error": parsed.parse_error,
                "request_payload": parsed.request_payload,
                "response_payload": parsed.response_payload,
            },
        ),
    )


def _small(value: int | None) -> int | None:
    """The model's PositiveSmallIntegerField columns hold 0..32767; an HTTP status always fits."""
    return value if value is not None and 0 <= value <= 32767 else None


def _finish(queue: WatchedQueue, result: PollResult) -> None:
    now = clock.now()  # /health/ and the Workers page judge "late" by the same clock
    if result.error:
        # Shown on the Queues and Health pages and sent in alerts: stored redacted.
        fields = {"last_error": redaction.redact_text(result.error[:2000]), "last_error_at": now}
        WatchedQueue.objects.filter(pk=queue.pk).update(poll_errors=F("poll_errors") + 1)
    else:
        fields = {"last_polled_at": now, "last_poll_seconds": round(result.seconds, 3)}
        if result.delete_failures:
            fields["last_error"] = (
                f"{result.delete_failures} message(s) could not be deleted; they will be read "
                "again, skipped as already stored, and deleted then"
            )
            fields["last_error_at"] = now
    WatchedQueue.objects.filter(pk=queue.pk).update(**fields)
    for name, value in fields.items():
        setattr(queue, name, value)
