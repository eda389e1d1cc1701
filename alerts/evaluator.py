"""Deciding what to tell the team, by reading the database (a beat task in the worker, every
ALERT_EVALUATE_SECONDS). Never part of the poller's transaction: ingestion goes on whatever
happens here.

Once per problem: every (rule, condition, subject) has an AlertState row. A condition fires
only by a conditional UPDATE of that row from "not fired" to "fired", so two evaluators never
both fire it; the row is freed again only when the condition clears (a spike after a quiet
period; a regression by the next regression; a new group never)."""

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from alerts import delivery, notifying
from alerts.firing import Firing
from alerts.models import AlertState, Condition, Rule
from invocations.failures.grouping import unreplayed
from invocations.models import (
    ExecutionRecord,
    FailedEvent,
    FailureGroup,
    GroupActivity,
    WatchedQueue,
)

S = FailureGroup.Status
# subject ("group:1", "queue:2") -> (its group, its queue, the message's figures)
_Subjects = Mapping[str, tuple[FailureGroup | None, WatchedQueue | None, Mapping[str, Any]]]


def evaluate(now: datetime | None = None) -> int:
    """Fire what is due for every enabled rule and create its notifications; their delivery
    is sent to the worker after the commit. Returns how many notifications were created."""
    now = now or timezone.now()
    rules = Rule.objects.filter(enabled=True).select_related("environment")
    with transaction.atomic():
        firings = [firing for rule in rules for firing in _fire(rule, now)]
        created = notifying.notify(firings, now)
    delivery.sweep()
    return created


def _fire(rule: Rule, now: datetime) -> list[Firing]:
    conditions = rule.conditions
    firings: list[Firing] = []
    if Condition.NEW_GROUP in conditions:
        firings += _new_groups(rule, now)
    if Condition.REGRESSION in conditions:
        firings += _regressions(rule, now)
    if Condition.SPIKE in conditions:
        firings += _spikes(rule, now)
    if Condition.BACKLOG_AGE in conditions:
        assert rule.backlog_minutes  # the condition exists only when the field is set
        cutoff = now - timedelta(minutes=rule.backlog_minutes)
        groups = _matching(
            rule,
            FailureGroup.objects.filter(
                environment=rule.environment, backlog_count__gt=0, backlog_oldest__lt=cutoff
            ),
        )
        subjects = {f"group:{g.pk}": (g, None, {"minutes": rule.backlog_minutes}) for g in groups}
        firings += _levels(rule, Condition.BACKLOG_AGE, subjects, now)
    if Condition.POLL_FAILING in conditions:
        firings += _levels(rule, Condition.POLL_FAILING, _failing_queues(rule, now), now)
    if Condition.DLQ_DEPTH in conditions:
        firings += _levels(rule, Condition.DLQ_DEPTH, _deep_queues(rule), now)
    return firings


# --- Which groups a rule is about, and when it keeps quiet. -------------------------------------


def _fixed_match(rule: Rule, group: FailureGroup) -> bool:
    """The filters on what never changes in a group: its function and error type."""
    return rule.matches_function(group.function_name) and rule.matches_error_type(group.error_type)


def _matching(
    rule: Rule, groups: QuerySet[FailureGroup] | list[FailureGroup]
) -> list[FailureGroup]:
    if not isinstance(groups, list):
        groups = list(groups.select_related("environment"))
    kept = [g for g in groups if _fixed_match(rule, g)]
    kinds = rule.kind_list
    if kinds and kept:
        with_kinds = set(
            ExecutionRecord.objects.filter(
                failure_group__in=[g.pk for g in kept], kind__in=kinds
            ).values_list("failure_group_id", flat=True)
        )
        kept = [g for g in kept if g.pk in with_kinds]
    return kept


def quiet(rule: Rule, group: FailureGroup, now: datetime) -> bool:
    """Nothing for a group the team has put aside, or (if the rule says so) already owns."""
    if group.status == S.IGNORED:
        return True
    if group.snoozed_until and group.snoozed_until > now:
        return True
    if group.snooze_until_count and group.count < group.snooze_until_count:
        return True
    if rule.skip_acknowledged and group.status == S.ACKNOWLEDGED:
        return True
    return bool(rule.skip_assigned and group.assignee_id)


def _state(rule: Rule, condition: str, subject: str, **defaults: Any) -> AlertState:
    try:
        with transaction.atomic():
            state, _ = AlertState.objects.get_or_create(
                rule=rule, condition=condition, subject=subject, defaults=defaults
            )
    except IntegrityError:  # another evaluator created it first
        state = AlertState.objects.get(rule=rule, condition=condition, subject=subject)
    return state


# --- Events: a new group, a regression. ---------------------------------------------------------


def _new_groups(rule: Rule, now: datetime) -> list[Firing]:
    """A group newer than the rule, notified once it has lived through the settle window: one
    failed request's records may arrive from two queues a poll apart, and the group the first
    one made may be merged away (deleted) by the second. A deleted group's state goes with it,
    so it never notifies."""
    settle = timedelta(seconds=settings.ALERT_SETTLE_SECONDS)
    fired = AlertState.objects.filter(
        rule=rule, condition=Condition.NEW_GROUP, fired_at__isnull=False
    ).values("group_id")
    newer = FailureGroup.objects.filter(
        environment=rule.environment, pk__gt=rule.first_group_id, count__gt=0
    ).exclude(pk__in=fired)
    candidates = list(newer.select_related("environment"))
    # A group the rule's fixed filters leave out is marked as handled, so that later rounds
    # do not read it again.
    AlertState.objects.bulk_create(
        [
            AlertState(
                rule=rule,
                condition=Condition.NEW_GROUP,
                subject=f"group:{group.pk}",
                group=group,
                noticed_at=now,
                fired_at=now,
                suppressed=True,
            )
            for group in candidates
            if not _fixed_match(rule, group)
        ],
        ignore_conflicts=True,
    )
    firings = []
    for group in _matching(rule, candidates):
        state = _state(rule, Condition.NEW_GROUP, f"group:{group.pk}", group=group, noticed_at=now)
        if now - state.noticed_at < settle:
            continue
        silent = quiet(rule, group, now)
        claimed = AlertState.objects.filter(pk=state.pk, fired_at__isnull=True).update(
            fired_at=now, active=True, suppressed=silent
        )
        if claimed and not silent:
            firings.append(Firing(rule, Condition.NEW_GROUP, group=group))
    return firings


def _regressions(rule: Rule, now: datetime) -> list[Firing]:
    """Every regression notifies: each is a GroupActivity row, and the state remembers the
    newest one notified."""
    newest = (
        GroupActivity.objects.filter(
            kind="regression",
            group__environment=rule.environment,
            created_at__gte=rule.created_at,
        )
        .values("group_id")
        .annotate(newest=Max("id"))
    )
    newest_by_group = {row["group_id"]: row["newest"] for row in newest}
    if not newest_by_group:
        return []
    notified = dict(
        AlertState.objects.filter(rule=rule, condition=Condition.REGRESSION).values_list(
            "group_id", "marker"
        )
    )
    fresh = [pk for pk, marker in newest_by_group.items() if notified.get(pk, 0) < marker]
    if not fresh:
        return []
    firings = []
    for group in _matching(rule, FailureGroup.objects.filter(pk__in=fresh)):
        marker = newest_by_group[group.pk]
        state = _state(rule, Condition.REGRESSION, f"group:{group.pk}", group=group)
        silent = quiet(rule, group, now)
        claimed = AlertState.objects.filter(pk=state.pk, marker__lt=marker).update(
            marker=marker, fired_at=now, active=True, suppressed=silent
        )
        if claimed and not silent:
            firings.append(Firing(rule, Condition.REGRESSION, group=group))
    return firings


# --- Levels: true for a while, then clear. ------------------------------------------------------


def _spikes(rule: Rule, now: datetime) -> list[Firing]:
    """N occurrences within M minutes. It notifies again only after a quiet period (M minutes,
    at least ALERT_SPIKE_QUIET_MINUTES) below the threshold, so a long storm is one message."""
    assert rule.spike_minutes and rule.spike_count  # the condition exists only when both are set
    since = now - timedelta(minutes=rule.spike_minutes)
    counts: dict[int, int] = defaultdict(int)
    # Occurrences are failed events: an OnFailure record and its dead letter count once, and a
    # failed replay is an attempt of its event, never a new one.
    rows = FailedEvent.objects.filter(environment=rule.environment, arrived_at__gte=since)
    for row in rows.order_by().values("group").annotate(n=Count("id")):
        counts[row["group"]] += row["n"]
    hot = [pk for pk, n in counts.items() if n >= rule.spike_count]
    groups = _matching(rule, FailureGroup.objects.filter(pk__in=hot))
    subjects = {
        f"group:{g.pk}": (g, None, {"window_count": counts[g.pk], "minutes": rule.spike_minutes})
        for g in groups
    }
    quiet_for = timedelta(minutes=max(rule.spike_minutes, settings.ALERT_SPIKE_QUIET_MINUTES))
    return _levels(rule, Condition.SPIKE, subjects, now, clear_after=quiet_for)


def _failing_queues(rule: Rule, now: datetime) -> _Subjects:
    assert rule.poll_failing_minutes  # the condition exists only when the field is set
    cutoff = now - timedelta(minutes=rule.poll_failing_minutes)
    subjects = {}
    for queue in WatchedQueue.objects.filter(environment=rule.environment, enabled=True):
        if not queue.is_failing:
            continue
        if queue.function_name and not rule.matches_function(queue.function_name):
            continue
        # Failing since the last poll that worked (or since it was watched, if none has).
        since = queue.last_polled_at or queue.created_at
        if since <= cutoff:
            subjects[f"queue:{queue.pk}"] = (None, queue, {"minutes": rule.poll_failing_minutes})
    return subjects


def _deep_queues(rule: Rule) -> _Subjects:
    """A watched DLQ's depth, read from the database: the poller drains the queue into records,
    so what waits is its dead letters not yet replayed with success. No AWS call."""
    assert rule.dlq_depth is not None  # the condition exists only when the field is set
    subjects = {}
    dlqs = WatchedQueue.objects.filter(
        environment=rule.environment, enabled=True, kind=WatchedQueue.Kind.DLQ
    )
    for queue in dlqs:
        if queue.function_name and not rule.matches_function(queue.function_name):
            continue
        letters = ExecutionRecord.objects.filter(queue=queue, kind=ExecutionRecord.Kind.DLQ)
        depth = unreplayed(letters).count()
        if depth > rule.dlq_depth:
            subjects[f"queue:{queue.pk}"] = (None, queue, {"depth": depth})
    return subjects


def _levels(
    rule: Rule,
    condition: str,
    subjects: _Subjects,
    now: datetime,
    clear_after: timedelta | None = None,
) -> list[Firing]:
    """Fire each true subject that is not active yet; clear active ones no longer true (after
    `clear_after` without being true, if given). A quiet group is skipped, not marked: if the
    condition still holds when the snooze ends, it notifies then. A steady state (the same
    problems still there) costs a fixed number of queries, however many there are."""
    states = {
        state.subject: state
        for state in AlertState.objects.filter(rule=rule, condition=condition).only(
            "subject", "active", "last_true_at"
        )
    }
    clearing = [
        state.pk
        for subject, state in states.items()
        if state.active
        and subject not in subjects
        and not (clear_after and state.last_true_at and now - state.last_true_at < clear_after)
    ]
    if clearing:
        AlertState.objects.filter(pk__in=clearing, active=True).update(active=False, cleared_at=now)
    if clear_after is not None:
        still_true = [states[subject].pk for subject in subjects if subject in states]
        AlertState.objects.filter(pk__in=still_true).update(last_true_at=now)
    firings = []
    for subject, (group, queue, extra) in subjects.items():
        state = states.get(subject)
        if state is not None and state.active:
            continue
        if group is not None and quiet(rule, group, now):
            continue
        if state is None:
            state = _state(rule, condition, subject, group=group, queue=queue)
        claimed = AlertState.objects.filter(pk=state.pk, active=False).update(
            active=True, fired_at=now, last_true_at=now
        )
        if claimed:
            firings.append(Firing(rule, condition, group=group, queue=queue, extra=extra))
    return firings
