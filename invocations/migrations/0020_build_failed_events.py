"""A FailedEvent row for every failed event already stored, built as ingestion now builds them:
the failure records of one request of a function are one event, with the facts of its most
informative record; a failed synchronous invocation is one; a replay is an attempt of the event
it replayed (a failed replay had been grouped as a new failure: it no longer is). Then every
group is recounted from its events.

Records are read in (environment, request ID, id) order, so the records of one event arrive
together and memory holds one request's at a time, whatever the table's size."""

from django.db import migrations
from django.db.models import Count, Max, Min, Q

from invocations.migrations import _event_facts_0020 as facts

FAILURE_KINDS = ["failure", "dlq", "stream_failure"]


def _function_of(record) -> str:
    return (record.function_name or record.queue.function_name or "(unknown function)")[:140]


def build_events(apps, schema_editor):
    ExecutionRecord = apps.get_model("invocations", "ExecutionRecord")
    FailedEvent = apps.get_model("invocations", "FailedEvent")
    FailureGroup = apps.get_model("invocations", "FailureGroup")
    Invocation = apps.get_model("invocations", "Invocation")

    records = (
        ExecutionRecord.objects.filter(kind__in=FAILURE_KINDS, returned_from__isnull=True)
        .select_related("queue")
        .defer("raw_body", "request_payload", "response_payload", "message_attributes")
        .order_by("environment_id", "request_id", "id")
    )
    pending: dict[tuple, list] = {}
    current_request = None
    for record in records.iterator(chunk_size=2000):
        if record.request_id and (record.environment_id, record.request_id) == current_request:
            pending.setdefault(_key(record), []).append(record)
            continue
        for reports in pending.values():
            _save_event(reports, FailedEvent, ExecutionRecord, Invocation)
        pending = {_key(record): [record]}
        current_request = (record.environment_id, record.request_id) if record.request_id else None
    for reports in pending.values():
        _save_event(reports, FailedEvent, ExecutionRecord, Invocation)

    # A copy sent back to a queue that returned is its origin's event again.
    for returned in ExecutionRecord.objects.filter(returned_from__isnull=False).select_related(
        "returned_from"
    ):
        event_id = returned.returned_from.event_id
        ExecutionRecord.objects.filter(pk=returned.pk).update(event_id=event_id)
        if event_id is not None:
            # It was sent back (once at least) and came back: attempts of the event.
            event = FailedEvent.objects.get(pk=event_id)
            event.came_back_count += 1
            event.sent_back_count = max(event.sent_back_count, event.came_back_count)
            event.save()

    failed_sync = Invocation.objects.filter(
        failure_group__isnull=False, replay_of__isnull=True
    ).order_by("id")
    for invocation in failed_sync.iterator(chunk_size=2000):
        event = FailedEvent(
            environment_id=invocation.environment_id,
            function_name=invocation.function_name[:140],
            request_id=invocation.request_id,
            kind="sync",
            group_id=invocation.failure_group_id,
            invocation_id=invocation.pk,
            arrived_at=invocation.finished_at or invocation.created_at,
        )
        facts.absorb(event, facts.from_sync_invocation(invocation))
        if (
            invocation.request_id
            and FailedEvent.objects.filter(
                environment_id=event.environment_id,
                function_name=event.function_name,
                request_id=event.request_id,
            ).exists()
        ):
            continue
        event.save()

    # Replays are attempts of the event they replayed, never failures of their own.
    replays = Invocation.objects.filter(replay_of__isnull=False).select_related("replay_of")
    for replay in replays.order_by("id").iterator(chunk_size=2000):
        event_id = replay.replay_of.event_id
        Invocation.objects.filter(pk=replay.pk).update(
            replay_of_event_id=event_id, failure_group=None
        )
        if event_id is None:
            continue
        event = FailedEvent.objects.get(pk=event_id)
        event.replay_count += 1
        event.last_replay_at = replay.finished_at or replay.created_at
        event.last_replay_status = replay.status
        if (
            replay.status == "succeeded"
            and replay.function_name == event.function_name
            and replay.environment_id == event.environment_id
        ):
            event.replayed_ok = True
        event.save()

    for group in FailureGroup.objects.order_by("id").iterator(chunk_size=500):
        figures = FailedEvent.objects.filter(group=group).aggregate(
            count=Count("id"),
            first=Min("happened_at"),
            last=Max("happened_at"),
            backlog=Count("id", filter=Q(replayed_ok=False) & ~Q(kind="sync")),
            oldest=Min("happened_at", filter=Q(replayed_ok=False) & ~Q(kind="sync")),
        )
        changes = {
            "count": figures["count"],
            "backlog_count": figures["backlog"],
            "backlog_oldest": figures["oldest"],
        }
        if figures["count"]:
            changes.update(first_seen=figures["first"], last_seen=figures["last"])
        elif not group.activity.exists() and group.assignee_id is None:
            # Made only of what is now part of another group's event (a dead letter grouped
            # apart from its OnFailure record) or of failed replays: nothing of it is left.
            group.delete()
            continue
        FailureGroup.objects.filter(pk=group.pk).update(**changes)


def _key(record) -> tuple:
    if not record.request_id:
        return ("record", record.pk)
    return (record.environment_id, _function_of(record), record.request_id)


def _save_event(reports, FailedEvent, ExecutionRecord, Invocation) -> None:
    first = reports[0]
    event = FailedEvent(
        environment_id=first.environment_id,
        function_name=_function_of(first),
        request_id=first.request_id,
        kind="stream" if any(r.kind == "stream_failure" for r in reports) else "async",
        arrived_at=min(r.received_at for r in reports),
    )
    primary = None
    for record in reports:
        if facts.absorb(event, facts.from_record(record)):
            primary = record
    invocation_id = next((r.invocation_id for r in reports if r.invocation_id), None)
    if invocation_id:
        invocation = Invocation.objects.filter(pk=invocation_id).first()
        if invocation is not None:
            event.invocation_id = invocation.pk
            facts.absorb(event, facts.from_event_invocation(invocation))
    group_id = primary.failure_group_id or next(
        (r.failure_group_id for r in reports if r.failure_group_id), None
    )
    if group_id is None:  # never grouped (stored before grouping existed): left as it was
        return
    event.primary_record_id = primary.pk
    event.group_id = group_id
    event.save()
    ExecutionRecord.objects.filter(pk__in=[r.pk for r in reports]).update(
        event_id=event.pk, failure_group_id=group_id
    )


class Migration(migrations.Migration):
    dependencies = [
        ("invocations", "0019_failed_events"),
    ]

    operations = [
        migrations.RunPython(build_events, migrations.RunPython.noop, elidable=False),
    ]
