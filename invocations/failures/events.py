"""Failed events: the rows groups count and pages read.

Lambda often reports one failed event twice: an OnFailure record (with the error) and a dead
letter (the event itself), and may deliver a destination record more than once. All reports of
one request of a function are one `FailedEvent`, created by whichever arrives first and given
the facts of the most informative (shared/event_facts.py); a failed synchronous invocation is
an event of its own. Replays are attempts of the event they replay: recorded on it, never a
new event. Nothing derives events from records: the pages read these rows."""

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from invocations.access import redaction
from invocations.failures.fingerprints import fingerprint
from invocations.models import ExecutionRecord, FailedEvent, FailureGroup, Invocation
from invocations.shared import bulk, event_facts

FAILURE_KINDS = [
    ExecutionRecord.Kind.FAILURE,
    ExecutionRecord.Kind.DLQ,
    ExecutionRecord.Kind.STREAM_FAILURE,
]
K = FailedEvent.Kind


def _function_of(record: ExecutionRecord) -> str:
    return (record.function_name or record.queue.function_name or "(unknown function)")[:140]


def take_reports(
    records: list[ExecutionRecord],
) -> list[tuple[FailedEvent, list[ExecutionRecord]]]:
    """Each failure record's event (the stored one, locked, or a new unsaved one) with the
    record's facts taken in; returns each event once with the records that report it."""
    keyed = [r for r in records if r.request_id]
    stored: dict[tuple[int, str, str], FailedEvent] = {}
    if keyed:
        locked = _lock_stored({(r.environment_id, _function_of(r), r.request_id) for r in keyed})
        # Read whole only if there are any: most reports are of new events, and the statement
        # that reads an event with its group and record is costly to build.
        rows = (
            FailedEvent.objects.select_related("group", "environment", "primary_record")
            .filter(pk__in=locked)
            .order_by("pk")
            if locked
            else []
        )
        stored = {(e.environment_id, e.function_name, e.request_id): e for e in rows}
    touched: dict[int, tuple[FailedEvent, list[ExecutionRecord]]] = {}
    for record in records:
        key = (record.environment_id, _function_of(record), record.request_id)
        event = stored.get(key) if record.request_id else None
        if event is None:
            event = _new_event(record)
            if record.request_id:
                stored[key] = event
        if id(event) not in touched:
            touched[id(event)] = (event, [])
        touched[id(event)][1].append(record)
        if event_facts.absorb(event, event_facts.from_record(record)):
            event.primary_record = record
        if record.invocation_id and not event.invocation_id:
            event.invocation_id = record.invocation_id
            invocation = Invocation.objects.filter(pk=record.invocation_id).first()
            if invocation is not None:
                event_facts.absorb(event, event_facts.from_event_invocation(invocation))
    return list(touched.values())


def _lock_stored(keys: set[tuple[int, str, str]]) -> list[int]:
    """Lock the stored events of these (environment, function, request ID) keys, in one order
    by every poller; their IDs. Each planner seeks the unique index only if asked its way: on
    SQLite, which has no statistics, `request_id IN (…)` walked every event of the environment
    in every batch (bench/ingest.py found the drain slowing down) where a join with the keys
    seeks the index per key; PostgreSQL, before its statistics of a new table are made, walked
    every event of the function for each key of the join, and seeks with `IN (…)`."""
    if connection.vendor != "sqlite":
        return list(
            FailedEvent.objects.select_for_update(of=("self",))
            .filter(
                environment_id__in={key[0] for key in keys},
                function_name__in={key[1] for key in keys},
                request_id__in={key[2] for key in keys},
            )
            .exclude(request_id="")  # the unique index's own condition
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    # SQLite: one writer at a time holds the whole database, so there is no row to lock.
    table, key = str(FailedEvent._meta.db_table), bulk.column(FailedEvent, "id")
    quote = connection.ops.quote_name
    environment, function, request = (
        bulk.column(FailedEvent, name) for name in ("environment", "function_name", "request_id")
    )
    wanted = ", ".join(["(%s, %s, %s)"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH wanted (environment, function, request) AS (VALUES {wanted}) "
            f"SELECT e.{key} FROM wanted JOIN {quote(table)} e "
            f"ON e.{environment} = wanted.environment AND e.{function} = wanted.function "
            f"AND e.{request} = wanted.request "
            # The unique index's own condition: an index SQLite may use only when it is said.
            f"WHERE NOT (e.{request} = '') ORDER BY e.{key}",
            [value for triple in sorted(keys) for value in triple],
        )
        return [pk for (pk,) in cursor.fetchall()]


def _new_event(record: ExecutionRecord) -> FailedEvent:
    return FailedEvent(
        environment=record.environment,
        function_name=_function_of(record),
        request_id=record.request_id,
        kind=K.STREAM if record.kind == ExecutionRecord.Kind.STREAM_FAILURE else K.ASYNC,
        arrived_at=timezone.now(),
    )


def from_sync_invocation(invocation: Invocation) -> FailedEvent:
    """A failed synchronous invocation's event, unsaved (the caller gives it its group)."""
    event = FailedEvent(
        environment=invocation.environment,
        function_name=invocation.function_name[:140],
        request_id=invocation.request_id,
        kind=K.SYNC,
        invocation=invocation,
        arrived_at=timezone.now(),
    )
    event_facts.absorb(event, event_facts.from_sync_invocation(invocation))
    return event


def save_new(event: FailedEvent, reports: list[ExecutionRecord]) -> FailedEvent:
    """Insert `event`; if another transaction stored the same event first, that one, locked,
    with `reports` taken in (the caller places it again)."""
    try:
        with transaction.atomic():  # a savepoint: the loser of a race reads the winner's row
            event.save()
        return event
    except IntegrityError:
        return stored_instead(event, reports)


def insert_new(
    fresh: list[tuple[FailedEvent, list[ExecutionRecord]]],
) -> list[tuple[FailedEvent, list[ExecutionRecord]]]:
    """Insert the new events of a batch (their group set), with their redacted copies, in one
    statement; as `save_new` for each, returns the events another transaction stored first (the
    unique request key skipped them), locked, with their reports taken in, for the caller to
    place. Each new event is shown by its own report (`primary_record`, saved): the rows
    returned are told apart by it."""
    by_record = {event.primary_record_id: event for event, _reports in fresh}
    if None in by_record or len(by_record) != len(fresh):
        # Not the poller's shape: one at a time, each in its savepoint.
        placed = [(save_new(event, reports), reports) for event, reports in fresh]
        return [
            (stored, reports)
            for (stored, reports), (event, _) in zip(placed, fresh, strict=True)
            if stored is not event
        ]
    patterns = redaction.current_patterns()
    for event, _reports in fresh:
        redaction.fill_copies(event, patterns)  # what the pre_save hook does for a save()
    inserted = bulk.insert_skipping_conflicts(
        FailedEvent, [event for event, _reports in fresh], ("id", "primary_record")
    )
    for pk, record_id in inserted:
        event = by_record[record_id]
        event.pk = pk
        event._state.adding, event._state.db = False, "default"
    return [
        (stored_instead(event, reports), reports) for event, reports in fresh if event.pk is None
    ]


def stored_instead(event: FailedEvent, reports: list[ExecutionRecord]) -> FailedEvent:
    """The event another transaction stored with `event`'s key, locked, with `reports` taken
    in."""
    stored = (
        FailedEvent.objects.select_for_update(of=("self",))
        .select_related("group", "environment", "primary_record")
        .get(
            environment_id=event.environment_id,
            function_name=event.function_name,
            request_id=event.request_id,
        )
    )
    for record in reports:
        if event_facts.absorb(stored, event_facts.from_record(record)):
            stored.primary_record = record
    return stored


def fingerprint_kind(event: FailedEvent) -> str:
    """The report kind the fingerprint's classification reads: a dead letter's facts alone
    ("dlq": a message without an error type) or a fuller report."""
    if event.kind == K.SYNC:
        return "invocation"
    if event.source_rank <= event_facts.RANK_DEAD_LETTER:
        return ExecutionRecord.Kind.DLQ
    return ExecutionRecord.Kind.STREAM_FAILURE if event.kind == K.STREAM else "failure"


def fingerprint_of(event: FailedEvent) -> str:
    """The fingerprint of the group the event belongs in, from its best facts."""
    return fingerprint(
        event.environment.name,
        event.function_name,
        event.error_type,
        event.error_message,
        event.condition,
        fingerprint_kind(event),
        event.stack_trace,
    )


def link_invocation(invocation: Invocation) -> int:
    """An Event invocation got its request ID after its event's reports arrived: the event
    names it. Returns how many events were linked."""
    if not invocation.request_id:
        return 0
    return FailedEvent.objects.filter(
        environment_id=invocation.environment_id,
        request_id=invocation.request_id,
        invocation__isnull=True,
    ).update(invocation=invocation)


def record_replay(invocation: Invocation) -> FailedEvent | None:
    """A replay finished: record it on the event it replays, with its outcome. A failed replay
    changes no count and no "last failed"; a successful one into the event's own function and
    environment takes the event out of its group's backlog. Call inside a transaction."""
    if not invocation.replay_of_event_id:
        return None
    event = (
        FailedEvent.objects.select_for_update(of=("self",))
        .select_related("group")
        .filter(pk=invocation.replay_of_event_id)
        .first()
    )
    if event is None:
        return None
    event.replay_count += 1
    event.last_replay_at = invocation.finished_at or timezone.now()
    event.last_replay_status = invocation.status
    in_place = (
        invocation.function_name == event.function_name
        and invocation.environment_id == event.environment_id
    )
    if invocation.status == Invocation.Status.SUCCEEDED and in_place:
        event.replayed_ok = True
    event.save(
        update_fields=["replay_count", "last_replay_at", "last_replay_status", "replayed_ok"]
    )
    return event


def event_of(group: FailureGroup, key: str | None) -> FailedEvent | None:
    """The group's event that an occurrence key names: "e12" (the event), "r34" (any of its
    records) or "i56" (its invocation, or a replay of it). None for anything else: the key comes
    from a URL."""
    if not key or len(key) > 24 or key[0] not in "eri":
        return None
    digits = key[1:]
    if not digits.isdigit() or not 0 < int(digits) < 2**63:
        return None
    pk = int(digits)
    events = FailedEvent.objects.of_group(group)
    if key[0] == "e":
        return events.filter(pk=pk).first()
    if key[0] == "r":
        return events.filter(records__pk=pk).first()
    return (events.filter(invocation_id=pk) | events.filter(replays__pk=pk)).distinct().first()
