"""The team's workflow on a failure group: status, assignee, snooze, comments, and resolving
by replay. Each step writes the group's timeline and an AuditEvent, in the caller's transaction
(the views wrap them in one). `apply` is the one entry point of the list's bulk actions and of
the group page."""

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from invocations.access import audit
from invocations.access.actor import Actor
from invocations.failures.grouping import refresh_backlog
from invocations.models import FailedEvent, FailureGroup, GroupActivity
from invocations.shared import wording

S = FailureGroup.Status
# status → the statuses a person may move it to
TRANSITIONS: dict[str, set[str]] = {
    S.OPEN: {S.ACKNOWLEDGED, S.RESOLVED, S.IGNORED},
    S.ACKNOWLEDGED: {S.OPEN, S.RESOLVED, S.IGNORED},
    S.RESOLVED: {S.OPEN},
    S.IGNORED: {S.OPEN},
}
# The bulk actions of the list that set a status directly.
STATUS_ACTIONS = {"acknowledged", "resolved", "ignored", "open"}


class TriageError(ValueError):
    """A workflow step that is not allowed; its message is shown to the person."""


def apply(
    group: FailureGroup,
    action: str,
    actor: Actor,
    *,
    status: str = "",
    version: str = "",
    assignee: User | None = None,
    hours: int | None = None,
    occurrences: int | None = None,
    text: str = "",
) -> None:
    """Apply one workflow action of `actor` to `group` (locked by the caller).

    Actions: "status" (to `status`, `version` fixed in), or a status name directly; "assign"
    (to `assignee`), "assign_me", "unassign"; "snooze" (`hours` and/or `occurrences`) or
    "snooze_<hours>"; "comment" (`text`). Raises TriageError for a step not allowed."""
    if action in STATUS_ACTIONS:
        set_status(group, action, actor)
    elif action == "status":
        set_status(group, status, actor, version)
    elif action == "assign_me":
        assign(group, actor.user, actor)
    elif action == "unassign":
        assign(group, None, actor)
    elif action == "assign":
        assign(group, assignee, actor)
    elif action.startswith("snooze"):
        if action != "snooze":
            hours = int(action.removeprefix("snooze_"))
        until = timezone.now() + timedelta(hours=hours) if hours else None
        snooze(group, actor, until=until, occurrences=occurrences)
    elif action == "comment":
        comment(group, text, actor)
    else:
        raise TriageError(f"Unknown action {action!r}.")


def _log(
    group: FailureGroup,
    actor: Actor,
    kind: str,
    text: str,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    GroupActivity.objects.create(group=group, actor=actor.user, kind=kind, text=text)
    audit.record(
        action,
        actor=actor,
        target=group,
        summary=f"{text}: {group}"[:500],
        details=details or {},
    )


def set_status(group: FailureGroup, status: str, actor: Actor, version: str = "") -> None:
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
        actor,
        "status",
        text,
        f"group.{status}",
        {"before": before, "after": status, "version": group.resolved_in_version},
    )


def assign(group: FailureGroup, assignee: User | None, actor: Actor) -> None:
    before = group.assignee.get_username() if group.assignee else None
    group.assignee = assignee
    group.save(update_fields=["assignee"])
    after = assignee.get_username() if assignee else None
    text = f"assigned to {after}" if after else "unassigned"
    _log(group, actor, "assign", text, "group.assign", {"before": before, "after": after})


def snooze(
    group: FailureGroup,
    actor: Actor,
    until: datetime | None = None,
    occurrences: int | None = None,
) -> None:
    if until is None and not occurrences:
        raise TriageError("Snooze until a time or for a number of occurrences.")
    group.snoozed_until = until
    group.snooze_until_count = group.count + occurrences if occurrences else None
    group.save(update_fields=["snoozed_until", "snooze_until_count"])
    text = (
        f"snoozed until {until:%Y-%m-%d %H:%M} UTC"
        if until
        else f"snoozed for {wording.count(occurrences or 0, 'more occurrence')}"
    )
    _log(
        group,
        actor,
        "snooze",
        text,
        "group.snooze",
        {"until": until.isoformat() if until else None, "occurrences": occurrences},
    )


def comment(group: FailureGroup, text: str, actor: Actor) -> None:
    text = text.strip()
    if not text:
        raise TriageError("A comment needs some text.")
    GroupActivity.objects.create(group=group, actor=actor.user, kind="comment", text=text[:5000])
    audit.record(
        "group.comment",
        actor=actor,
        target=group,
        summary=f"commented on {group}"[:500],
        details={"text": text[:5000]},
    )


def resolve_by_replay(group: FailureGroup, user: User | None) -> bool:
    """Resolve a group once every failure record in it has been replayed with success.

    A synchronous invocation in the group is not waited for: its caller got the error in the
    answer, and there is no event to replay (a replay sends a record's event). The activity line
    says so when there is one, so "resolved by replay" never claims more than it checked."""
    refresh_backlog(group)
    pending = FailedEvent.objects.of_group(group).pending()
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
        text="resolved " + replay_resolution(group),
    )
    audit.record(
        "group.resolved",
        actor=Actor.person(user),
        target=group,
        summary=f"resolved by replay: {group}"[:500],
        details={"by_replay": True},
    )
    return True


def replay_resolution(group: FailureGroup) -> str:
    """What "resolved by replay" checked, in the group's activity and on its page."""
    text = "by replay: every failed event replayed with success"
    synchronous = group.events.filter(kind=FailedEvent.Kind.SYNC).count()
    if synchronous:
        text += (
            f"; the {wording.count(synchronous, 'synchronous invocation')} in this group "
            "cannot be replayed (the caller got the error) and did not hold it open"
        )
    return text
