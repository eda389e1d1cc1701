"""Failure groups: which group a failure belongs to, and the team's workflow on a group.

Grouping runs in the transaction that stores the failures (the poller's batch, or the invoke
task's outcome), so a failure is never stored without its group."""

from collections import defaultdict
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from invocations import audit
from invocations.fingerprints import classify, fingerprint
from invocations.models import ExecutionRecord, FailureGroup, GroupActivity, Invocation

FAILURE_KINDS = {
    ExecutionRecord.Kind.FAILURE,
    ExecutionRecord.Kind.DLQ,
    ExecutionRecord.Kind.STREAM_FAILURE,
}
# Asynchronous invocations end as records (grouped there); these are synchronous outcomes.
FAILED_INVOCATION_STATUSES = {Invocation.Status.FUNCTION_ERROR, Invocation.Status.THROTTLED}

S = FailureGroup.Status
# status → the statuses a person may move it to
TRANSITIONS = {
    S.OPEN: {S.ACKNOWLEDGED, S.RESOLVED, S.IGNORED},
    S.ACKNOWLEDGED: {S.OPEN, S.RESOLVED, S.IGNORED},
    S.RESOLVED: {S.OPEN},
    S.IGNORED: {S.OPEN},
}


class TriageError(ValueError):
    """A workflow step that is not allowed; its message is shown to the person."""


class _Failure:
    """What grouping needs of a record or an invocation."""

    def __init__(
        self,
        environment,
        function_name,
        error_type,
        error_message,
        condition,
        kind,
        version,
        seen_at,
    ):
        self.environment = environment
        self.function_name = function_name or "(unknown function)"
        self.error_type = error_type
        self.error_message = error_message
        self.condition = condition
        self.kind = kind
        self.version = version
        self.seen_at = seen_at
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
        record.record_timestamp or record.received_at or timezone.now(),
    )


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
    """Put each failure record in its group (creating groups as needed). Returns how many were
    grouped. Call inside the transaction that saved the records."""
    failures = [(r, _from_record(r)) for r in records if r.kind in FAILURE_KINDS]
    _follow_twins(failures)
    by_key: dict[str, list] = defaultdict(list)
    for record, failure in failures:
        by_key[failure.key].append((record, failure))
    for items in by_key.values():
        group = _count_occurrences([f for _, f in items])
        ExecutionRecord.objects.filter(pk__in=[r.pk for r, _ in items]).update(failure_group=group)
        for record, _ in items:
            record.failure_group = group
        if _adopt_twins(group, [r for r, _ in items if r.kind != ExecutionRecord.Kind.DLQ]):
            refresh_backlog(group)
        else:
            _add_to_backlog(group, [r for r, _ in items])
    return len(failures)


# One failed event often arrives twice: as an OnFailure record (with the error type) and as a
# dead letter (with only the message). Both belong in the group the record names, whichever
# arrives first.


def _follow_twins(failures) -> None:
    """A dead letter whose request already has a grouped record joins that record's group."""
    letters = {
        r.request_id: f for r, f in failures if r.kind == ExecutionRecord.Kind.DLQ and r.request_id
    }
    if not letters:
        return
    twins = (
        ExecutionRecord.objects.filter(request_id__in=list(letters), failure_group__isnull=False)
        .exclude(kind=ExecutionRecord.Kind.DLQ)
        .values_list("request_id", "failure_group__fingerprint")
    )
    for request_id, key in twins:
        letters[request_id].key = key
    for record, failure in failures:  # twins in the same batch
        if record.kind != ExecutionRecord.Kind.DLQ and record.request_id in letters:
            letters[record.request_id].key = failure.key


def _adopt_twins(group: FailureGroup, records: list[ExecutionRecord]) -> bool:
    """Move dead letters of these records' requests that arrived first (and so formed a
    "dead letter" group of their own) into `group`. Returns whether any moved."""
    request_ids = [r.request_id for r in records if r.request_id]
    if not request_ids:
        return False
    strays = list(
        ExecutionRecord.objects.filter(
            request_id__in=request_ids,
            kind=ExecutionRecord.Kind.DLQ,
            environment_id=group.environment_id,
        )
        .exclude(failure_group=group)
        .exclude(failure_group__isnull=True)
        .values_list("pk", "failure_group_id")
    )
    if not strays:
        return False
    moved_from: dict[int, int] = defaultdict(int)
    for _, old in strays:
        moved_from[old] += 1
    ExecutionRecord.objects.filter(pk__in=[pk for pk, _ in strays]).update(failure_group=group)
    FailureGroup.objects.filter(pk=group.pk).update(count=F("count") + len(strays))
    group.count += len(strays)
    for old_pk, n in moved_from.items():
        FailureGroup.objects.filter(pk=old_pk).update(count=F("count") - n)
        old = FailureGroup.objects.get(pk=old_pk)
        if not old.records.exists() and not old.invocations.exists():
            old.delete()
        else:
            refresh_backlog(old)
    return True


def group_invocation(invocation: Invocation) -> FailureGroup | None:
    """Group a synchronous invocation that failed; other outcomes are left alone."""
    if invocation.status not in FAILED_INVOCATION_STATUSES or invocation.failure_group_id:
        return None
    group = _count_occurrences([_from_invocation(invocation)])
    Invocation.objects.filter(pk=invocation.pk).update(failure_group=group)
    invocation.failure_group = group
    return group


def _get_or_create_group(first: _Failure) -> tuple[FailureGroup, bool]:
    defaults = {
        "environment": first.environment,
        "function_name": first.function_name[:140],
        "error_class": classify(first.error_type, first.error_message, first.condition, first.kind),
        "error_type": first.error_type[:256],
        "sample_message": first.error_message[:4000],
        "first_seen": first.seen_at,
        "last_seen": first.seen_at,
    }
    try:
        # A savepoint: two pollers may create the same group at once; the loser reads it.
        with transaction.atomic():
            return FailureGroup.objects.get_or_create(fingerprint=first.key, defaults=defaults)
    except IntegrityError:
        return FailureGroup.objects.get(fingerprint=first.key), False


def _count_occurrences(failures: list[_Failure]) -> FailureGroup:
    group, _ = _get_or_create_group(failures[0])
    newest = max(f.seen_at for f in failures)
    FailureGroup.objects.filter(pk=group.pk).update(count=F("count") + len(failures))
    group = FailureGroup.objects.select_for_update().get(pk=group.pk)
    changed = []
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
            group=group, kind="snooze", text=f"Snooze ended at {group.count} occurrences"
        )
    if changed:
        group.save(update_fields=changed)
    return group


def unreplayed(records):
    """Records not yet replayed with success, by themselves or through a twin of the same
    request (its dead letter, or its OnFailure record)."""
    replayed = (
        ExecutionRecord.objects.filter(replays__status=Invocation.Status.SUCCEEDED)
        .exclude(request_id="")
        .values("request_id")
    )
    return records.exclude(replays__status=Invocation.Status.SUCCEEDED).exclude(
        request_id__in=replayed
    )


def _add_to_backlog(group: FailureGroup, records: list[ExecutionRecord]) -> None:
    """Add newly grouped records to the backlog figures. Counting only the batch keeps grouping
    independent of the group's size (a full recount per batch made ingestion quadratic)."""
    figures = unreplayed(ExecutionRecord.objects.filter(pk__in=[r.pk for r in records])).aggregate(
        count=Count("id"), oldest=Min("received_at")
    )
    if not figures["count"]:
        return
    oldest = figures["oldest"]
    FailureGroup.objects.filter(pk=group.pk).update(
        backlog_count=F("backlog_count") + figures["count"],
        backlog_oldest=Coalesce(Least("backlog_oldest", Value(oldest)), Value(oldest)),
    )
    # `group` was read under select_for_update by _count_occurrences: its figures are current.
    group.backlog_count += figures["count"]
    group.backlog_oldest = min(filter(None, [group.backlog_oldest, oldest]))


def refresh_backlog(group: FailureGroup) -> None:
    """Recount the group's unreplayed failure records (after grouping and after a replay)."""
    figures = unreplayed(ExecutionRecord.objects.filter(failure_group=group)).aggregate(
        count=Count("id"), oldest=Min("received_at")
    )
    FailureGroup.objects.filter(pk=group.pk).update(
        backlog_count=figures["count"], backlog_oldest=figures["oldest"]
    )
    group.backlog_count, group.backlog_oldest = figures["count"], figures["oldest"]


def _version_number(version: str) -> int | None:
    return int(version) if version and version.isdigit() else None


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


# The team's workflow. Each step writes the group's timeline and an AuditEvent, in the caller's
# transaction (the views wrap them in one).


def _log(group, request, kind: str, text: str, action: str, details: dict | None = None):
    GroupActivity.objects.create(group=group, actor=request.user, kind=kind, text=text)
    audit.record(
        action,
        request=request,
        target=group,
        summary=f"{text}: {group}"[:500],
        details=details or {},
    )


def set_status(group: FailureGroup, status: str, request, version: str = "") -> None:
    if status not in TRANSITIONS.get(group.status, set()):
        raise TriageError(f"A group that is {group.status} cannot become {status}.")
    before = group.status
    group.status = status
    fields = ["status"]
    if status == S.RESOLVED:
        group.resolved_in_version = version.strip()[:32]
        group.resolved_at = timezone.now()
        group.regressed = False
        group.resolved_by_replay = False
        fields += ["resolved_in_version", "resolved_at", "regressed", "resolved_by_replay"]
    group.save(update_fields=fields)
    text = f"{before} → {status}"
    if status == S.RESOLVED and group.resolved_in_version:
        text += f" (fixed in {group.resolved_in_version})"
    _log(
        group,
        request,
        "status",
        text,
        f"group.{status}",
        {"before": before, "after": status, "version": group.resolved_in_version},
    )


def assign(group: FailureGroup, assignee, request) -> None:
    before = group.assignee.get_username() if group.assignee else None
    group.assignee = assignee
    group.save(update_fields=["assignee"])
    after = assignee.get_username() if assignee else None
    text = f"assigned to {after}" if after else "unassigned"
    _log(group, request, "assign", text, "group.assign", {"before": before, "after": after})


def snooze(
    group: FailureGroup, request, until: datetime | None = None, occurrences: int | None = None
) -> None:
    if until is None and not occurrences:
        raise TriageError("Snooze until a time or for a number of occurrences.")
    group.snoozed_until = until
    group.snooze_until_count = group.count + occurrences if occurrences else None
    group.save(update_fields=["snoozed_until", "snooze_until_count"])
    text = (
        f"snoozed until {until:%Y-%m-%d %H:%M} UTC"
        if until
        else f"snoozed for {occurrences} more occurrences"
    )
    _log(
        group,
        request,
        "snooze",
        text,
        "group.snooze",
        {"until": until.isoformat() if until else None, "occurrences": occurrences},
    )


def comment(group: FailureGroup, text: str, request) -> None:
    text = text.strip()
    if not text:
        raise TriageError("A comment needs some text.")
    GroupActivity.objects.create(group=group, actor=request.user, kind="comment", text=text[:5000])
    audit.record(
        "group.comment",
        request=request,
        target=group,
        summary=f"commented on {group}"[:500],
        details={"text": text[:5000]},
    )


def resolve_by_replay(group: FailureGroup, user) -> bool:
    """Resolve a group once every failure record in it has been replayed with success."""
    refresh_backlog(group)
    pending = unreplayed(ExecutionRecord.objects.filter(failure_group=group))
    if group.status in {S.RESOLVED, S.IGNORED} or pending.exists():
        return False
    group.status = S.RESOLVED
    group.resolved_by_replay = True
    group.resolved_at = timezone.now()
    group.regressed = False
    group.save(update_fields=["status", "resolved_by_replay", "resolved_at", "regressed"])
    GroupActivity.objects.create(
        group=group,
        actor=user,
        kind="status",
        text="resolved by replay: every failure replayed with success",
    )
    audit.record(
        "group.resolved",
        user=user,
        target=group,
        summary=f"resolved by replay: {group}"[:500],
        details={"by_replay": True},
    )
    return True
