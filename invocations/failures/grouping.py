"""Grouping failures: which failure group a failed record or invocation belongs to, the
group's counts and its backlog of failures not yet replayed. Called by ingestion, invoking and
replay; the team's workflow on a group lives in invocations.failures.triage.

Grouping runs in the transaction that stores the failures (the poller's batch, or the invoke
task's outcome), so a failure is never stored without its group."""

from collections import defaultdict
from datetime import datetime
from typing import TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Min, QuerySet

from invocations.access import redaction
from invocations.failures import events
from invocations.failures.fingerprints import classify, title_message
from invocations.models import (
    Environment,
    ExecutionRecord,
    FailedEvent,
    FailureGroup,
    GroupActivity,
    Invocation,
)
from invocations.shared import bulk, wording

FAILURE_KINDS = {
    ExecutionRecord.Kind.FAILURE,
    ExecutionRecord.Kind.DLQ,
    ExecutionRecord.Kind.STREAM_FAILURE,
}
# Asynchronous invocations end as records (grouped there); these are synchronous outcomes.
FAILED_INVOCATION_STATUSES = {Invocation.Status.FUNCTION_ERROR, Invocation.Status.THROTTLED}

S = FailureGroup.Status
_Records = TypeVar("_Records", bound=QuerySet[ExecutionRecord])


class _Failure:
    """What grouping needs of a failed event to count it into its group (`key`, the group's
    fingerprint, made once by the caller: events.fingerprint_of)."""

    def __init__(
        self,
        key: str,
        environment: Environment,
        function_name: str,
        error_type: str,
        error_message: str,
        condition: str,
        kind: str,
        version: str,
        seen_at: datetime,
        headline: str = "",
    ) -> None:
        self.environment = environment
        self.function_name = function_name or "(unknown function)"
        self.error_type = error_type
        self.error_message = error_message
        self.condition = condition
        self.kind = kind
        self.version = version
        self.seen_at = seen_at
        self.headline = headline
        self.key = key


# The stream a failed batch came from, by its record's *BatchInfo key.
_BATCH_SOURCES = {
    "KinesisBatchInfo": "Kinesis",
    "DDBStreamBatchInfo": "DynamoDB stream",
    "KafkaBatchInfo": "Kafka",
}


def stream_headline(record: ExecutionRecord) -> str:
    """ "Kinesis batch failed: RetryAttemptsExhausted" for a stream failure; "" otherwise. Such
    a record carries the batch's position and Lambda's condition, not the function's error."""
    if record.kind != ExecutionRecord.Kind.STREAM_FAILURE:
        return ""
    keys = list(record.batch_info or {})
    source = _BATCH_SOURCES.get(keys[0], keys[0].removesuffix("BatchInfo")) if keys else ""
    return f"{source or 'Stream'} batch failed" + (
        f": {record.condition}" if record.condition else ""
    )


def group_records(records: list[ExecutionRecord]) -> int:
    """Put each failure record (saved) in its failed event and the event in its group, creating
    both as needed; returns how many records were grouped. Call inside the transaction that
    saved the records (the poller does); called outside one, it opens its own, since it locks
    the groups' rows and PostgreSQL allows that only in a transaction.

    A group counts failed events (events.py): a record of an event already stored (the dead
    letter of an OnFailure record, a redelivered record) adds its facts to the event without
    counting, without moving the group's last seen time and without reopening it. An event
    whose better report says it is another failure than its first one (a dead letter came
    first, then its OnFailure record named the error) moves to that failure's group."""
    if not transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return group_records(records)
    _return_to_origins([r for r in records if r.returned_from_id])
    failures = [r for r in records if r.kind in FAILURE_KINDS and not r.returned_from_id]
    if not failures:
        return 0
    touched = events.take_reports(failures)
    left: set[int] = set()
    reported: dict[int, tuple[int, int]] = {}  # record -> (its event, its group), to store
    # Groups locked in one order by every poller: two transactions never wait on each other.
    for key, items in sorted(_by_key(touched).items()):
        fresh: list[tuple[FailedEvent, list[ExecutionRecord]]] = []
        for event, reports in items:
            if event.pk is None:
                fresh.append((event, reports))
            else:
                _link_reports(reported)  # what _place reads (a group's backlog) is stored
                _place(event, reports, key, left)
        if fresh:
            _place_new(fresh, key, left, reported)
    _link_reports(reported)
    # Only once every event of the batch is placed: a group an event left may have gained
    # one in this batch, and is then kept.
    _drop_empty(left)
    return len(failures)


def _place_new(
    fresh: list[tuple[FailedEvent, list[ExecutionRecord]]],
    key: str,
    left: set[int],
    reported: dict[int, tuple[int, int]],
) -> None:
    """Store the batch's new events of fingerprint `key` in its group (locked, created if
    new) with one insert, and count those inserted there, with one update of the group. As
    `_place` does for each, one at a time: an event another poller stored first is not counted
    here, and is placed as stored."""
    first = _from_event(fresh[0][0], key)
    group = _locked_group(first)
    for event, _reports in fresh:
        event.group = group
    lost = events.insert_new(fresh)
    inserted = [(event, reports) for event, reports in fresh if event.pk is not None]
    if inserted:
        changed = _count_into(group, [_from_event(event, key) for event, _ in inserted])
        pending = [
            event
            for event, _ in inserted
            if event.kind != FailedEvent.Kind.SYNC and not event.replayed_ok
        ]
        if pending:
            group.backlog_count += len(pending)
            group.backlog_oldest = min(
                filter(None, [group.backlog_oldest, *(event.happened_at for event in pending)]),
                default=None,
            )
            changed += ["backlog_count", "backlog_oldest"]
        group.save(update_fields=changed)
    for event, reports in inserted:
        for record in reports:
            reported[record.pk] = (event.pk, group.pk)
            record.event, record.failure_group = event, group
    if lost:
        left.add(group.pk)  # perhaps made for those events: it goes if it holds no other
        _link_reports(reported)
    for stored, reports in lost:
        _place(stored, reports, events.fingerprint_of(stored), left)


def _link_reports(reported: dict[int, tuple[int, int]]) -> None:
    """Store each record's event and group (record -> (event, group)), all in one statement,
    and empty `reported`. The batch's records wait in it until something reads them: the
    backlog of a group an event left counts its events that have records."""
    if not reported:
        return
    meta = ExecutionRecord._meta
    quote = connection.ops.quote_name
    ids = list(reported)
    events_of = " ".join(["WHEN %s THEN %s"] * len(ids))
    params: list[int] = []
    for pk in ids:
        params += [pk, reported[pk][0]]
    for pk in ids:
        params += [pk, reported[pk][1]]
    params += ids
    key, event, group = (
        bulk.column(ExecutionRecord, name) for name in ("id", "event", "failure_group")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} SET {event} = CASE {key} {events_of} END, "
            f"{group} = CASE {key} {events_of} END "
            f"WHERE {key} IN ({', '.join(['%s'] * len(ids))})",
            params,
        )
    reported.clear()


def _drop_empty(groups: set[int]) -> None:
    """Delete those of `groups` that hold no event any more (their events moved away)."""
    if not groups:
        return
    for group in FailureGroup.objects.filter(pk__in=groups).order_by("pk"):
        if not group.events.exists():
            group.delete()


def _by_key(
    touched: list[tuple[FailedEvent, list[ExecutionRecord]]],
) -> dict[str, list[tuple[FailedEvent, list[ExecutionRecord]]]]:
    by_key: dict[str, list[tuple[FailedEvent, list[ExecutionRecord]]]] = defaultdict(list)
    for event, reports in touched:
        by_key[events.fingerprint_of(event)].append((event, reports))
    return by_key


def _place(event: FailedEvent, reports: list[ExecutionRecord], key: str, left: set[int]) -> None:
    """Save `event` (new or updated by `reports`) in the group of fingerprint `key`, counting
    it there if it is new to that group."""
    old_group_id = event.group_id if event.pk else None
    if old_group_id is not None and event.group.fingerprint == key:
        group = event.group
        event.save()
    else:
        group, changed = _count_occurrences([_from_event(event, key)])
        event.group = group
        if event.pk is None:
            stored = events.save_new(event, reports)
            if stored is not event:
                # Another poller stored this event first (its other report) and counted it:
                # undo this count, and place the stored event with what these reports add.
                group.count -= 1
                group.save(update_fields=changed)
                left.add(group.pk)  # made for this event: it goes if it holds no other
                _place(stored, reports, events.fingerprint_of(stored), left)
                return
        else:
            event.save()
        if event.kind != FailedEvent.Kind.SYNC and not event.replayed_ok:
            group.backlog_count += 1
            group.backlog_oldest = min(
                filter(None, [group.backlog_oldest, event.happened_at]), default=None
            )
            changed += ["backlog_count", "backlog_oldest"]
        group.save(update_fields=changed)
    ExecutionRecord.objects.filter(pk__in=[r.pk for r in reports]).update(
        event=event, failure_group=group
    )
    for record in reports:
        record.event, record.failure_group = event, group
    if old_group_id is not None and old_group_id != group.pk:
        _leave(event, old_group_id)
        left.add(old_group_id)


def _leave(event: FailedEvent, old_group_id: int) -> None:
    """`event` moved to another group: its records follow, and the group it left counts one
    event fewer (the caller removes it if it has none left)."""
    ExecutionRecord.objects.filter(event=event).update(failure_group=event.group)
    FailureGroup.objects.filter(pk=old_group_id).update(count=F("count") - 1)
    left = FailureGroup.objects.select_for_update().filter(pk=old_group_id).first()
    if left is not None:
        refresh_backlog(left)


def _from_event(event: FailedEvent, key: str) -> _Failure:
    record = event.primary_record
    return _Failure(
        key,
        event.environment,
        event.function_name,
        event.error_type,
        event.error_message,
        event.condition,
        events.fingerprint_kind(event),
        event.executed_version,
        event.happened_at,
        stream_headline(record) if record is not None else "",
    )


def _return_to_origins(returned: list[ExecutionRecord]) -> None:
    """A message the dashboard sent back that came back: it joins the event and the group of
    the record it was sent from, and is not a new occurrence (no count, no backlog, no
    regression)."""
    if not returned:
        return
    origins = {
        pk: (group_id, event_id)
        for pk, group_id, event_id in ExecutionRecord.objects.filter(
            pk__in={r.returned_from_id for r in returned}
        )
        .order_by()
        .values_list("pk", "failure_group_id", "event_id")
    }
    for record in returned:
        if record.returned_from_id is None:
            continue
        record.failure_group_id, record.event_id = origins.get(
            record.returned_from_id, (None, None)
        )
        if record.failure_group_id or record.event_id:
            ExecutionRecord.objects.filter(pk=record.pk).update(
                failure_group_id=record.failure_group_id, event_id=record.event_id
            )
        if record.event_id:  # the outcome of that send: it failed again
            FailedEvent.objects.filter(pk=record.event_id).update(
                came_back_count=F("came_back_count") + 1
            )


def group_invocation(invocation: Invocation) -> FailureGroup | None:
    """Group a synchronous invocation that failed: it is a failed event of its own. A replay is
    an attempt of the event it replays (events.record_replay), never a new one; other outcomes
    are left alone."""
    if invocation.status not in FAILED_INVOCATION_STATUSES or invocation.failure_group_id:
        return None
    if invocation.replay_of_event_id or invocation.replay_of_id:
        return None
    event = events.from_sync_invocation(invocation)
    key = events.fingerprint_of(event)
    group, changed = _count_occurrences([_from_event(event, key)])
    group.save(update_fields=changed)
    event.group = group
    events.save_new(event, [])
    Invocation.objects.filter(pk=invocation.pk).update(failure_group=group)
    invocation.failure_group = group
    return group


def _locked_group(first: _Failure) -> FailureGroup:
    """The group of `first`'s fingerprint, created if new, locked until the transaction ends
    (two pollers counting into one group take turns)."""
    try:
        return FailureGroup.objects.select_for_update().get(fingerprint=first.key)
    except FailureGroup.DoesNotExist:
        pass
    defaults = {
        "environment": first.environment,
        "function_name": first.function_name[:140],
        "error_class": classify(first.error_type, first.error_message, first.condition, first.kind),
        "error_type": first.error_type[:256],
        "sample_message": first.error_message[:4000],
        "sample_message_redacted": redaction.redact_text(first.error_message[:4000]),
        # Everyone reads the title (Viewers, alerts): made from the redacted message.
        "headline": redaction.redact_text(first.headline or _titled(first))[:200],
        "first_seen": first.seen_at,
        "last_seen": first.seen_at,
    }
    try:
        # A savepoint: two pollers may create the same group at once; the loser reads it.
        with transaction.atomic():
            return FailureGroup.objects.create(fingerprint=first.key, **defaults)
    except IntegrityError:
        return FailureGroup.objects.select_for_update().get(fingerprint=first.key)


def _titled(failure: _Failure) -> str:
    """ "ValueError: order must be a positive integer, got …": the title carries the message,
    its variable parts elided (two groups of one error type read apart)."""
    if not failure.error_type or not failure.error_message.strip():
        return ""
    return f"{failure.error_type}: {title_message(failure.error_message)}"


def _count_occurrences(failures: list[_Failure]) -> tuple[FailureGroup, list[str]]:
    """Count the failures into their (locked) group; returns it, unsaved, with the fields that
    changed."""
    group = _locked_group(failures[0])
    return group, _count_into(group, failures)


def _count_into(group: FailureGroup, failures: list[_Failure]) -> list[str]:
    """Count the failures into `group` (locked), one after another as they arrived: a
    regression or the end of a snooze is noted at the failure that caused it. Returns the
    fields that changed (the caller saves them)."""
    changed: list[str] = []
    for failure in failures:
        for name in _count_one(group, failure):
            if name not in changed:
                changed.append(name)
    return changed


def _count_one(group: FailureGroup, failure: _Failure) -> list[str]:
    group.count += 1
    changed = ["count"]
    if failure.seen_at > group.last_seen:
        group.last_seen = failure.seen_at
        changed.append("last_seen")
    if failure.seen_at < group.first_seen:
        group.first_seen = failure.seen_at
        changed.append("first_seen")
    if group.status == S.RESOLVED and is_regression(group.resolved_in_version, failure.version):
        version = failure.version or "an unknown version"
        group.status = S.OPEN
        group.regressed = True
        group.resolved_by_replay = False
        changed += ["status", "regressed", "resolved_by_replay"]
        GroupActivity.objects.create(
            group=group,
            kind="regression",
            text=f"Regressed: failed again in {version}"
            + (f" (resolved in {group.resolved_in_version})" if group.resolved_in_version else ""),
        )
    if group.snooze_until_count and group.count >= group.snooze_until_count:
        group.snooze_until_count = None
        changed.append("snooze_until_count")
        GroupActivity.objects.create(
            group=group,
            kind="snooze",
            text=f"Snooze ended at {wording.count(group.count, 'occurrence')}",
        )
    return changed


def replayed_in_place() -> QuerySet[ExecutionRecord]:
    """Records replayed with success into their own function (any qualifier) and environment:
    only those count as replayed. A replay into another function or environment (a try in
    staging, a fixed copy) is shown, but it did not put the failed event through."""
    return ExecutionRecord.objects.filter(
        replays__status=Invocation.Status.SUCCEEDED,
        replays__function_name=F("function_name"),
        replays__environment=F("environment"),
    )


def unreplayed(records: _Records) -> _Records:
    """Records whose failed event has not been put through by a successful replay (through any
    of its records)."""
    return records.filter(event__isnull=False, event__replayed_ok=False)


def refresh_backlog(group: FailureGroup) -> None:
    """Recount the group's failed events not yet replayed with success (after a replay, or when
    events moved between groups). Call inside a transaction: the group is locked before it is
    counted, so the events a poller is adding to it are either counted here or added after."""
    FailureGroup.objects.select_for_update().filter(pk=group.pk).values_list("pk").first()
    figures = (
        FailedEvent.objects.of_group(group)
        .pending()
        .aggregate(count=Count("id"), oldest=Min("happened_at"))
    )
    count, oldest = figures["count"], figures["oldest"]
    FailureGroup.objects.filter(pk=group.pk).update(backlog_count=count, backlog_oldest=oldest)
    group.backlog_count, group.backlog_oldest = count, oldest


def _version_number(version: str) -> int | None:
    return int(version) if version and version.isdecimal() else None


def is_regression(resolved_in: str, version: str) -> bool:
    """Does a failure from `version` reopen a group resolved in `resolved_in`?

    No version named: any new failure does. A named version: failures from it or newer do,
    older ones (still draining from queues) do not. $LATEST, aliases and unknown versions
    cannot be proven older, so they do."""
    if not resolved_in:
        return True
    fixed, seen = _version_number(resolved_in), _version_number(version)
    if fixed is None or seen is None:
        return True
    return seen >= fixed
