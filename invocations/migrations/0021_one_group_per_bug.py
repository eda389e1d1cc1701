"""One group per bug: every group's fingerprint is made again the new way (the innermost frame
of the function's own code when its events carry a stack trace, else the message with its
variable parts normalised), from the best facts of its events, and groups that now share a
fingerprint are merged into the oldest of them.

A merge keeps everything of both: every event, record and invocation, every activity line,
replay batch and alert notification; the assignee (the kept group's, else the other's); the most
advanced status (resolved over ignored over acknowledged over open). The merge itself is an
activity line and an audit event (by the system)."""

from django.db import migrations
from django.db.models import Count, Max, Min, Q

from invocations.migrations import _fingerprints_0021 as fingerprints

# Most advanced last.
STATUS_ORDER = ["open", "acknowledged", "ignored", "resolved"]


def _kind(event) -> str:
    if event.kind == "sync":
        return "invocation"
    if event.source_rank <= 1:
        return "dlq"
    return "stream_failure" if event.kind == "stream" else "failure"


def _headline(group, event) -> str:
    if group.headline and not group.error_type:
        return group.headline  # a stream batch's title
    if not event.error_type or not event.error_message.strip():
        return ""
    # Everyone reads the title (Viewers, exports, alerts): made from the redacted message, as
    # grouping makes it for a new group.
    from invocations.access.redaction import redact_text

    titled = f"{event.error_type}: {fingerprints.title_message(event.error_message)}"
    return redact_text(titled)[:200]


def merge_groups(apps, schema_editor):
    FailureGroup = apps.get_model("invocations", "FailureGroup")
    FailedEvent = apps.get_model("invocations", "FailedEvent")
    models = {
        "FailureGroup": FailureGroup,
        "FailedEvent": FailedEvent,
        "ExecutionRecord": apps.get_model("invocations", "ExecutionRecord"),
        "Invocation": apps.get_model("invocations", "Invocation"),
        "GroupActivity": apps.get_model("invocations", "GroupActivity"),
        "ReplayBatch": apps.get_model("invocations", "ReplayBatch"),
        "AuditEvent": apps.get_model("invocations", "AuditEvent"),
        "AlertState": apps.get_model("alerts", "AlertState"),
        "Notification": apps.get_model("alerts", "Notification"),
    }

    # Fingerprints are unique: each group first takes a temporary one, so that two groups
    # trading keys never collide half way.
    new_keys: dict[int, str] = {}
    for group in FailureGroup.objects.select_related("environment").order_by("id").iterator():
        event = (
            FailedEvent.objects.filter(group=group).order_by("-source_rank", "happened_at", "id")
        ).first()
        if event is None:
            continue
        new_keys[group.pk] = fingerprints.fingerprint(
            group.environment.name,
            event.function_name,
            event.error_type,
            event.error_message,
            event.condition,
            _kind(event),
            event.stack_trace,
        )
        FailureGroup.objects.filter(pk=group.pk).update(
            fingerprint=f"migrating-{group.pk}", headline=_headline(group, event)
        )
    by_key: dict[str, list[int]] = {}
    for pk, key in sorted(new_keys.items()):
        by_key.setdefault(key, []).append(pk)
    for key, pks in by_key.items():
        kept_pk, *merged = pks
        for other_pk in merged:
            _merge(
                FailureGroup.objects.get(pk=kept_pk),
                FailureGroup.objects.get(pk=other_pk),
                models,
            )
        FailureGroup.objects.filter(pk=kept_pk).update(fingerprint=key)
        if merged:
            _recount(FailureGroup.objects.get(pk=kept_pk), FailedEvent, FailureGroup)


def _merge(kept, other, models) -> None:
    FailedEvent = models["FailedEvent"]
    FailedEvent.objects.filter(group=other).update(group=kept)
    models["ExecutionRecord"].objects.filter(failure_group=other).update(failure_group=kept)
    models["Invocation"].objects.filter(failure_group=other).update(failure_group=kept)
    models["GroupActivity"].objects.filter(group=other).update(group=kept)
    models["ReplayBatch"].objects.filter(group=other).update(group=kept)
    Notification = models["Notification"]
    Notification.objects.filter(group=other).update(group=kept)
    for notification in Notification.objects.filter(groups=other):
        notification.groups.add(kept)
    AlertState = models["AlertState"]
    for state in AlertState.objects.filter(group=other):
        if AlertState.objects.filter(
            rule_id=state.rule_id, condition=state.condition, group=kept
        ).exists():
            state.delete()
        else:
            AlertState.objects.filter(pk=state.pk).update(group=kept, subject=f"group:{kept.pk}")
    changes = {}
    if STATUS_ORDER.index(other.status) > STATUS_ORDER.index(kept.status):
        changes.update(
            status=other.status,
            resolved_in_version=other.resolved_in_version,
            resolved_at=other.resolved_at,
            resolved_by_replay=other.resolved_by_replay,
            regressed=other.regressed,
        )
    if kept.assignee_id is None and other.assignee_id is not None:
        changes["assignee_id"] = other.assignee_id
    if changes:
        models["FailureGroup"].objects.filter(pk=kept.pk).update(**changes)
    text = (
        f"Merged group #{other.pk} ({other.status}, {other.count} failed events) into this one: "
        "the same bug (same function, error type and place in the code, or the same message)"
    )
    models["GroupActivity"].objects.create(group=kept, kind="merge", text=text)
    models["AuditEvent"].objects.create(
        actor_name="system",
        action="group.merged",
        target_type="failuregroup",
        target_id=str(kept.pk),
        target_repr=f"{kept.function_name}: {kept.error_type or kept.error_class}"[:300],
        summary=text[:500],
        details={"kept": kept.pk, "merged": other.pk, "merged_status": other.status},
    )
    other.delete()


def _recount(group, FailedEvent, FailureGroup) -> None:
    pending = Q(replayed_ok=False) & ~Q(kind="sync")
    figures = FailedEvent.objects.filter(group=group).aggregate(
        count=Count("id"),
        first=Min("happened_at"),
        last=Max("happened_at"),
        backlog=Count("id", filter=pending),
        oldest=Min("happened_at", filter=pending),
    )
    FailureGroup.objects.filter(pk=group.pk).update(
        count=figures["count"],
        first_seen=figures["first"],
        last_seen=figures["last"],
        backlog_count=figures["backlog"],
        backlog_oldest=figures["oldest"],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("invocations", "0020_build_failed_events"),
        ("alerts", "0002_admin_role_manages_alerts"),
    ]

    operations = [
        migrations.RunPython(merge_groups, migrations.RunPython.noop, elidable=False),
    ]
