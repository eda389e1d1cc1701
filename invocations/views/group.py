"""A failure group's page: its evidence (one occurrence in full, breakdown, histogram), its
occurrences, its timeline, and the workflow steps taken on it."""

import json

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from invocations.access import permissions
from invocations.failures import charts, deploys, diagnosis, triage
from invocations.forms.triage import (
    AssignForm,
    CommentForm,
    SnoozeForm,
    StatusForm,
)
from invocations.invoking import logs, replay
from invocations.lists import live, occurrences
from invocations.middleware import actor_of, open_in
from invocations.models import (
    ExecutionRecord,
    FailedEvent,
    FailureGroup,
    GroupActivity,
    Invocation,
)
from invocations.views import edge


@require_GET
@edge.require(permissions.VIEW)
def group_detail(request, pk):
    group = get_object_or_404(
        FailureGroup.objects.select_related("assignee", "environment"),
        pk=pk,
        environment__in=permissions.visible_environments(request.user),
    )
    open_in(request, group.environment)
    # Kept apart from "Last failed": a replay that fails again is not a new failure.
    last_replay = (
        FailedEvent.objects.of_group(group)
        .filter(last_replay_at__isnull=False)
        .order_by("-last_replay_at")
        .only("last_replay_at", "last_replay_status")
        .first()
    )
    rows, next_before = occurrences.page(group, request.GET.get("before"))
    shown_records = [
        record.pk for kind, _, item in rows if kind == "record" for record in [item, *item.twins]
    ]
    return render(
        request,
        "invocations/group.html",
        {
            "group": group,
            **_diagnosis(request, group),
            "deploy_note": deploys.group_note(group),
            "occurrences": rows,
            "next_before": next_before,
            "replay_resolution": (
                triage.replay_resolution(group) if group.resolved_by_replay else ""
            ),
            "activity": GroupActivity.objects.filter(group=group)
            .order_by("-id")
            .select_related("actor")[:200],
            "status_form": StatusForm(initial={"status": group.status}),
            "assign_form": AssignForm(initial={"assignee": group.assignee_id}),
            "snooze_form": SnoozeForm(),
            "comment_form": CommentForm(),
            "can_triage": permissions.can(request.user, permissions.TRIAGE),
            "can_replay": permissions.can(request.user, permissions.REPLAY),
            "replays": group.replays.select_related("environment").order_by("-id")[:10],
            "last_replay": last_replay,
            "last_replay_label": dict(Invocation.Status.choices).get(
                last_replay.last_replay_status, last_replay.last_replay_status
            )
            if last_replay
            else "",
            "replayed_ids": occurrences.replayed_rows(rows, shown_records),
            "replayed_elsewhere": occurrences.replayed_elsewhere_rows(rows, shown_records),
            "cursor": live.now_cursor(),
            "live_seconds": settings.LIVE_POLL_SECONDS,
        },
    )


def _diagnosis(request, group: FailureGroup) -> dict:
    """The evidence first: one occurrence in full (the latest unless `?occurrence=` names
    another), the stepping links, the breakdown and the histogram over `?range=`. A value the
    page does not understand is named in a note and ignored."""
    notes = []
    key = request.GET.get("occurrence", "")
    current = diagnosis.find(group, key) if key else None
    if key and current is None:
        notes.append(f"Occurrence {key[:40]!r} is not one of this group's: showing the latest.")
    current = current or diagnosis.latest(group)
    range_key = request.GET.get("range", "") or diagnosis.DEFAULT_RANGE
    if range_key not in diagnosis.RANGES:
        notes.append(f"Range {range_key[:20]!r} is not one of {', '.join(diagnosis.RANGES)}.")
        range_key = diagnosis.DEFAULT_RANGE
    tail = None
    if current and isinstance(current.item, Invocation) and current.item.log_tail:
        raw = permissions.can(request.user, permissions.RAW_PAYLOADS)
        tail = logs.parse_tail(current.item.log_tail if raw else current.item.log_tail_redacted)
    return {
        "current": current,
        "current_tail": tail,
        "moved_by_sqs": occurrences.moved_by_sqs(
            current.item if current and isinstance(current.item, ExecutionRecord) else None
        ),
        # What a replay would send: a dead letter's body even when it is not JSON.
        "current_payload": replay.payload_of(current.item)
        if current and isinstance(current.item, ExecutionRecord)
        else None,
        # Its redacted copy, stored when the record arrived (None for a dead letter's body that
        # is not JSON: that one is redacted as shown).
        "current_payload_redacted": json.dumps(current.item.request_payload_redacted)
        if current
        and isinstance(current.item, ExecutionRecord)
        and current.item.request_payload is not None
        else None,
        "twins": diagnosis.twins(group, current) if current else [],
        "current_replays": list(current.event.replays.order_by("id")) if current else [],
        "steps": diagnosis.navigation(group, current) if current else {},
        "position": diagnosis.position(group, current) if current else 0,
        "notes": notes,
        "range_key": range_key,
        "ranges": list(diagnosis.RANGES),
        "breakdown": diagnosis.breakdown(group, diagnosis.range_start(range_key)),
        "histogram": charts.histogram(FailedEvent.objects.of_group(group), range_key),
    }


def _done(group: FailureGroup, action: str, data: dict) -> str:
    """The confirmation of one group action, said after it succeeded."""
    if action == "status":
        return f"Status changed to {group.status}."
    if action == "assign":
        assignee = data.get("assignee")
        return f"Assigned to {assignee.get_username()}." if assignee else "Unassigned."
    if action == "snooze":
        return "Snoozed."
    return "Comment added."


@require_POST
@edge.require(permissions.TRIAGE)
def group_action(request, pk, action):
    """One workflow step on one group, from the group page's forms."""
    forms_by_action = {
        "status": StatusForm,
        "assign": AssignForm,
        "snooze": SnoozeForm,
        "comment": CommentForm,
    }
    if action not in forms_by_action:
        return HttpResponse(status=404)
    form = forms_by_action[action](request.POST)
    with transaction.atomic(durable=True):
        group = get_object_or_404(
            FailureGroup.objects.select_for_update(),
            pk=pk,
            environment__in=permissions.visible_environments(request.user),
        )
        if not form.is_valid():
            errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
            messages.error(request, errors)
            return redirect("group", pk=pk)
        data = form.cleaned_data
        try:
            triage.apply(group, action, actor_of(request), **data)
            messages.success(request, _done(group, action, data))
        except triage.TriageError as error:
            messages.error(request, str(error))
    return redirect("group", pk=pk)


@require_GET
@edge.require(permissions.VIEW)
def group_changes(request, pk):
    """The group page's poll: how many occurrences arrived since the page was drawn."""
    group = get_object_or_404(FailureGroup, pk=pk, environment=request.environment)
    since = live.read_time_cursor(request.GET.get("cursor"))
    if since is None:
        return HttpResponse("Bad cursor", status=400)
    return render(
        request,
        "invocations/partials/group_live.html",
        {
            "group": group,
            "new": live.new_occurrences(group, since),
            "limit": live.NEW_LIMIT,
            "cursor": since.isoformat(),
            "live_seconds": settings.LIVE_POLL_SECONDS,
        },
    )
