"""Grouping failures: which failure group a failed record or invocation belongs to, the
group's counts and its backlog of failures not yet replayed. Called by ingestion, invoking and
replay; the team's workflow on a group lives in invocations.failures.triage.

Grouping runs in the transaction that stores the failures (the poller's batch, or the invoke
task's outcome), so a failure is never stored without its group."""

from collections import defaultdict
from datetime import datetime
from typing import NamedTuple, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from invocations.access import redaction
from invocations.failures import events
from invocations.failures.fingerprints import classify, fingerprint
from invocations.models import (
    Environment,
    ExecutionRecord,
    FailureGroup,
    GroupActivity,
    Invocation,
)
from invocations.shared import wording

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
    """What grouping needs of a record or an invocation."""

    def __init__(
        self,
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
        self.key = fingerprint(
            environment.name, self.function_name, error_type, error_message, condition, kind
        )


def _from_record(record: ExecutionRecord) -> _Failure:
    function_name = record.function_name or record.queue.function_name
    return _Failure(
        record.environment,
        function_name,
        record.error_type,
        record.error_message,
        record.condition,
        record.kind,
        record.executed_version,
        _failed_at(record) or timezone.now(),
        stream_headline(record),
    )


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


def _failed_at(record: ExecutionRecord) -> datetime | None:
    """When the failure happened: Lambda's own time in the record, else when it arrived. The
    group's first/last seen and its backlog's oldest all use this one notion."""
    return record.record_timestamp or record.received_at


def _from_invocation(invocation: Invocation) -> _Failure:
    error_type = invocation.error_code
    message = invocation.error_text
    return _Failure(
        invocation.environment,
        invocation.function_name,
        error_type,
        message,
        "",
        "invocation",
        invocation.executed_version,
        invocation.finished_at or timezone.now(),
    )


def group_records(records: list[ExecutionRecord]) -> int:
    """Put each failure record (saved) in its group, creating groups as needed; returns how
    many were grouped. Call inside the transaction that saved the records (the poller does);
    called outside one, it opens its own, since it locks the groups' rows and PostgreSQL allows
    that only in a transaction.

    A group counts failed events, not records (events.py): a record of a request already in
    the group (the dead letter of an OnFailure record, a redelivered record) joins it without
    counting, without moving its last seen time and without reopening it.

    A batch costs one query plus three per group it touches, whatever the groups' sizes:
    ingestion must not slow down as a group grows. The backlog figures are added to, not
    recounted; whatever removes records or replays them recounts (refresh_backlog)."""
    if not transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return group_records(records)
    _return_to_origins([r for r in records if r.returned_from_id])
    failures = [
        (r, _from_record(r)) for r in records if r.kind in FAILURE_KINDS and not r.returned_from_id
    ]
    if not failures:
        return 0
    relatives = _relatives([r for r, _ in failures])
    _follow_twins(failures, relatives)
    replayed = {row.request_id for row in relatives if row.replayed_in_place}
    seen = {(row.group_key, row.request_id) for row in relatives if row.group_key}
    strays = defaultdict(set)  # a set: a record with several replays is a row per replay
    for row in relatives:
        if row.kind == ExecutionRecord.Kind.DLQ and row.group_id:
            strays[row.request_id].add((row.pk, row.group_id, row.request_id))
    by_key: dict[str, list[tuple[ExecutionRecord, _Failure]]] = defaultdict(list)
    for record, failure in failures:
        by_key[failure.key].append((record, failure))
    # Groups locked in one order by every poller: two transactions never wait on each other.
    adopting = []
    for key in sorted(by_key):
        items = by_key[key]
        starting = [(r, f) for r, f in items if events.starts_event(r, key, seen)]
        if starting:
            group, changed = _count_occurrences([f for _, f in starting])
        else:
            group, changed = _locked_group(items[0][1]), []
        for record, _ in items:
            record.failure_group = group
        ExecutionRecord.objects.filter(pk__in=[r.pk for r, _ in items]).update(failure_group=group)
        fresh = [r for r, _ in starting if not r.request_id or r.request_id not in replayed]
        group.backlog_count += len(fresh)
        group.backlog_oldest = min(
            filter(None, [group.backlog_oldest, *(_failed_at(r) for r in fresh)]), default=None
        )
        group.save(update_fields={*changed, "backlog_count", "backlog_oldest"})
        adopted = {
            (pk, old, request_id)
            for record, _ in items
            if record.kind != ExecutionRecord.Kind.DLQ
            for pk, old, request_id in strays.get(record.request_id, ())
            if old != group.pk
        }
        if adopted:
            adopting.append((group, sorted(adopted)))
    # Only once every record of the batch is in its group: a group a stray leaves may have
    # gained a record in this batch, and is then kept.
    moved: set[int] = set()  # a stray moves once, even if two groups of the batch name it
    for group, candidates in adopting:
        adopted_now = [stray for stray in candidates if stray[0] not in moved]
        if adopted_now:
            moved.update(pk for pk, _, _ in adopted_now)
            _adopt(group, adopted_now)
            refresh_backlog(group)
    return len(failures)


def _return_to_origins(returned: list[ExecutionRecord]) -> None:
    """A message the dashboard sent back that came back: it joins the group of the record it
    was sent from, and is not a new occurrence (no count, no backlog, no regression)."""
    if not returned:
        return
    origins = dict(
        ExecutionRecord.objects.filter(pk__in={r.returned_from_id for r in returned})
        .order_by()
        .values_list("pk", "failure_group_id")
    )
    for record in returned:
        if record.returned_from_id is None:
            continue
        record.failure_group_id = origins.get(record.returned_from_id)
        if record.failure_group_id:
            ExecutionRecord.objects.filter(pk=record.pk).update(
                failure_group_id=record.failure_group_id
            )


# One failed event often arrives twice: as an OnFailure record (with the error type) and as a
# dead letter (with only the message). Both belong in the group the record names, whichever
# arrives first.


class _Relative(NamedTuple):
    request_id: str
    pk: int
    kind: str
    group_id: int | None
    group_key: str | None
    replay_status: str | None
    function_name: str
    environment_id: int
    replay_function: str | None
    replay_environment_id: int | None

    @property
    def replayed_in_place(self) -> bool:
        """Replayed with success into its own function (any qualifier) and environment."""
        return (
            self.replay_status == SUCCEEDED
            and self.replay_function == self.function_name
            and self.replay_environment_id == self.environment_id
        )


SUCCEEDED = Invocation.Status.SUCCEEDED


def _relatives(records: list[ExecutionRecord]) -> list[_Relative]:
    """Stored records of the same requests as `records` (twins, and their replays' outcomes):
    one query for what grouping needs to know about the past."""
    request_ids = {r.request_id for r in records if r.request_id}
    if not request_ids:
        return []
    rows = (
        ExecutionRecord.objects.filter(
            environment_id__in={r.environment_id for r in records}, request_id__in=request_ids
        )
        .order_by()
        .values_list(
            "request_id",
            "pk",
            "kind",
            "failure_group_id",
            "failure_group__fingerprint",
            "replays__status",
            "function_name",
            "environment_id",
            "replays__function_name",
            "replays__environment_id",
        )
    )
    return [_Relative(*row) for row in rows]


def _follow_twins(
    failures: list[tuple[ExecutionRecord, _Failure]], relatives: list[_Relative]
) -> None:
    """A dead letter whose request already has a grouped record joins that record's group."""
    letters = {
        r.request_id: f for r, f in failures if r.kind == ExecutionRecord.Kind.DLQ and r.request_id
    }
    if not letters:
        return
    for row in relatives:
        if row.kind != ExecutionRecord.Kind.DLQ and row.group_key and row.request_id in letters:
            letters[row.request_id].key = row.group_key
    for record, failure in failures:  # twins in the same batch
        if record.kind != ExecutionRecord.Kind.DLQ and record.request_id in letters:
            letters[record.request_id].key = failure.key


def _adopt(group: FailureGroup, strays: list[tuple[int, int, str]]) -> None:
    """Move stray dead letters (pk, old group, request ID) into `group`. Counts are of events:
    `group` gains the requests it did not have yet, an old group loses those it has no record
    of any more."""
    moving = [pk for pk, _, _ in strays]
    requests = {request_id for _, _, request_id in strays}
    already = set(
        ExecutionRecord.objects.filter(failure_group=group, request_id__in=requests)
        .exclude(pk__in=moving)
        .values_list("request_id", flat=True)
    )
    ExecutionRecord.objects.filter(pk__in=moving).update(failure_group=group)
    gained = len(requests - already)
    FailureGroup.objects.filter(pk=group.pk).update(count=F("count") + gained)
    group.count += gained
    leaving: dict[int, set[str]] = defaultdict(set)
    for _, old, request_id in strays:
        leaving[old].add(request_id)
    for old_pk, old_requests in leaving.items():
        kept = set(
            ExecutionRecord.objects.filter(
                failure_group_id=old_pk, request_id__in=old_requests
            ).values_list("request_id", flat=True)
        )
        lost = len(old_requests - kept)
        FailureGroup.objects.filter(pk=old_pk).update(count=F("count") - lost)
        left = FailureGroup.objects.get(pk=old_pk)
        if not left.records.exists() and not left.invocations.exists():
            left.delete()
        else:
            refresh_backlog(left)


def group_invocation(invocation: Invocation) -> FailureGroup | None:
    """Group a synchronous invocation that failed; other outcomes are left alone."""
    if invocation.status not in FAILED_INVOCATION_STATUSES or invocation.failure_group_id:
        return None
    group, changed = _count_occurrences([_from_invocation(invocation)])
    group.save(update_fields=changed)
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
        "headline": first.headline[:200],
        "first_seen": first.seen_at,
        "last_seen": first.seen_at,
    }
    try:
        # A savepoint: two pollers may create the same group at once; the loser reads it.
        with transaction.atomic():
            return FailureGroup.objects.create(fingerprint=first.key, **defaults)
    except IntegrityError:
        return FailureGroup.objects.select_for_update().get(fingerprint=first.key)


def _count_occurrences(failures: list[_Failure]) -> tuple[FailureGroup, list[str]]:
    """Count the failures into their (locked) group; returns it, unsaved, with the fields that
    changed."""
    group = _locked_group(failures[0])
    group.count += len(failures)
    changed = ["count"]
    newest = max(f.seen_at for f in failures)
    if newest > group.last_seen:
        group.last_seen = newest
        changed.append("last_seen")
    if min(f.seen_at for f in failures) < group.first_seen:
        group.first_seen = min(f.seen_at for f in failures)
        changed.append("first_seen")
    if group.status == S.RESOLVED:
        regressing = [f for f in failures if is_regression(group.resolved_in_version, f.version)]
        if regressing:
            version = regressing[0].version or "an unknown version"
            group.status = S.OPEN
            group.regressed = True
            group.resolved_by_replay = False
            changed += ["status", "regressed", "resolved_by_replay"]
            GroupActivity.objects.create(
                group=group,
                kind="regression",
                text=f"Regressed: failed again in {version}"
                + (
                    f" (resolved in {group.resolved_in_version})"
                    if group.resolved_in_version
                    else ""
                ),
            )
    if group.snooze_until_count and group.count >= group.snooze_until_count:
        group.snooze_until_count = None
        changed.append("snooze_until_count")
        GroupActivity.objects.create(
            group=group,
            kind="snooze",
            text=f"Snooze ended at {wording.count(group.count, 'occurrence')}",
        )
    return group, changed


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
    """Records not yet replayed with success into their function, by themselves or through a
    twin of the same request (its dead letter, or its OnFailure record)."""
    done = replayed_in_place()
    return records.exclude(pk__in=done.values("pk")).exclude(
        request_id__in=done.exclude(request_id="").values("request_id")
    )


def _backlog_in_database(group: FailureGroup) -> tuple[int, datetime | None]:
    """The group's unreplayed failed events: how many, and when the oldest failed (as
    _failed_at tells it)."""
    pending = unreplayed(ExecutionRecord.objects.filter(failure_group=group))
    figures = events.first_in_group(pending).aggregate(
        count=Count("id"), oldest=Min(Coalesce("record_timestamp", "received_at"))
    )
    return figures["count"], figures["oldest"]


def refresh_backlog(group: FailureGroup) -> None:
    """Recount the group's unreplayed failed events (after a replay, or when records moved
    between groups). Call inside a transaction: the group is locked before it is counted, so
    the records a poller is adding to it are either counted here or added after."""
    FailureGroup.objects.select_for_update().filter(pk=group.pk).values_list("pk").first()
    count, oldest = _backlog_in_database(group)
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
