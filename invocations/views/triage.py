"""The triage page (home), a failure group's page, and the workflow actions on groups."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from invocations.access import permissions
from invocations.failures import charts, deploys, diagnosis, events, triage
from invocations.forms.triage import (
    ACTIVE,
    BULK_ACTIONS,
    AssignForm,
    BulkActionForm,
    CommentForm,
    SnoozeForm,
    StatusForm,
    TriageFilterForm,
)
from invocations.ingest import redrive
from invocations.invoking import logs, replay
from invocations.lists import filters, list_search, live, time_ranges
from invocations.middleware import actor_of, open_in
from invocations.models import ExecutionRecord, FailureGroup, GroupActivity, Invocation
from invocations.shared import wording
from invocations.views import guards
from invocations.views.guards import safe_next
from invocations.views.htmx import page_or_fragment
from invocations.views.lists import list_context as _list_context

OCCURRENCES_PAGE = 25
SORT_ORDER = {
    "last_seen": ["-last_seen", "-id"],
    "count": ["-count", "-id"],
    "backlog": ["backlog_oldest", "-id"],
}


def _search(request) -> list_search.Search:
    return list_search.read(
        request.GET, fields=list_search.GROUP_FIELDS, choices=list_search.GROUP_CHOICES
    )


def matching_groups(request):
    """Every group the triage list shows for the request's URL parameters (what export writes)."""
    form = TriageFilterForm(request.GET)
    data = filters.usable(form)
    return _filtered_groups(request, data, _search(request))


def _filtered_groups(request, data: dict, found: list_search.Search | None = None):
    groups = FailureGroup.objects.for_triage().filter(environment=request.environment)
    if found is not None:
        groups = list_search.groups(
            groups, found, environment=request.environment, user=request.user
        )
    # An `is:` in the query bar says the state itself: the status dropdown then stands aside.
    status = "all" if found is not None and found.query.get("is") else data.get("status") or ACTIVE
    if status == ACTIVE:
        # Tested on the row itself, not with `pk IN (snoozed groups)`: that subquery read every
        # group of the table on each page (bench/pages.py, 10,000 groups).
        groups = groups.filter(status__in=["open", "acknowledged"]).exclude(
            Q(snoozed_until__gt=timezone.now()) | Q(snooze_until_count__gt=F("count"))
        )
    elif status == "regressed":
        groups = groups.filter(regressed=True, status="open")
    elif status == "snoozed":
        groups = groups.filter(pk__in=FailureGroup.objects.snoozed().values("pk"))
    elif status != "all":
        groups = groups.filter(status=status)
    if data.get("function"):
        groups = groups.filter(function_name__icontains=data["function"])
    assignee = data.get("assignee") or "anyone"
    if assignee == "me":
        groups = groups.filter(assignee=request.user)
    elif assignee == "unassigned":
        groups = groups.filter(assignee__isnull=True)
    sort = data.get("sort") or "last_seen"
    if sort == "backlog":
        groups = groups.filter(backlog_count__gt=0)
    return groups.order_by(*SORT_ORDER[sort])


def _rows(groups: list[FailureGroup], window: time_ranges.TimeRange | None = None) -> list[dict]:
    """Each group with its sparklines: the last 24 hours and 14 days, or the chosen range."""
    pks = [g.pk for g in groups]
    after = deploys.group_notes(groups)
    if window is not None and window.start is not None:
        in_range = charts.for_groups_in_range(pks, window.start, window.end or timezone.now())
        return [
            {
                "group": g,
                "deploy_note": after.get(g.pk, ""),
                "stamp": live.group_stamp(g),
                "range": charts.points(in_range[g.pk]["series"]),
                "range_total": in_range[g.pk]["total"],
            }
            for g in groups
        ]
    lines = charts.for_groups(pks)
    return [
        {
            "group": g,
            "deploy_note": after.get(g.pk, ""),
            "stamp": live.group_stamp(g),
            "hours": charts.points(lines[g.pk]["hours"]),
            "days": charts.points(lines[g.pk]["days"]),
            "hours_total": sum(lines[g.pk]["hours"]),
            "days_total": sum(lines[g.pk]["days"]),
        }
        for g in groups
    ]


@require_GET
@guards.require(permissions.VIEW)
def triage_list(request):
    form = TriageFilterForm(request.GET)
    data = filters.usable(form)
    found = _search(request)
    page = data.get("page") or 1
    size = found.per_page
    start = (page - 1) * size
    matching = _filtered_groups(request, data, found)
    groups = list(matching[start : start + size + 1])
    more = len(groups) > size
    total, total_more = list_search.bounded_count(matching)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **_list_context(request, found),
        "form": form,
        "rows": _rows(groups[:size], found.range),
        "window": found.range,
        "total": total,
        "total_more": total_more,
        "cursor": live.now_cursor(),
        "page": page,
        "next_page": page + 1 if more else None,
        "query": query.urlencode(),
        "can_triage": permissions.can(request.user, permissions.TRIAGE),
        "can_replay": permissions.can(request.user, permissions.REPLAY),
        "ignored_filters": filters.ignored(form),
        "watched_queues": request.environment.watchedqueue_set.filter(enabled=True).order_by("url")[
            :10
        ],
        "redriven": redrive.latest(request.environment),
    }
    return page_or_fragment(
        request,
        "invocations/triage.html",
        "invocations/partials/group_table.html",
        context,
        target="group-table",
    )


@require_GET
@guards.require(permissions.VIEW)
def triage_changes(request):
    """The triage page's poll: "N new" for groups not on the page that failed since the page was
    drawn, and the rows on the page whose figures or state changed, swapped in place."""
    form = TriageFilterForm(request.GET)
    data = filters.usable(form)
    found = _search(request)
    since = live.read_time_cursor(request.GET.get("cursor"))
    if since is None:
        return HttpResponse("Bad cursor", status=400)
    seen = live.read_seen(request.GET.getlist("seen"))
    changed = live.changed_groups(request.environment, seen)
    query = request.GET.copy()
    for name in ("cursor", "seen", "page"):
        query.pop(name, None)
    return render(
        request,
        "invocations/partials/triage_live.html",
        {
            "new": live.new_groups(_filtered_groups(request, data, found), since, seen),
            "limit": live.NEW_LIMIT,
            "cursor": since.isoformat(),
            "query": query.urlencode(),
            "rows": _rows(changed, found.range),
            "window": found.range,
            "can_triage": permissions.can(request.user, permissions.TRIAGE),
            "live_seconds": settings.LIVE_POLL_SECONDS,
        },
    )


@require_POST
@guards.require(permissions.TRIAGE)
def bulk_action(request):
    """Acknowledge, resolve, ignore, assign or snooze the selected groups; with htmx the
    answer swaps only the changed rows."""
    form = BulkActionForm(request.POST, environment=request.environment)
    if not form.is_valid():
        messages.error(request, "Select at least one group and an action.")
        return _after_bulk(request, [])
    changed, refused = [], []
    for group in form.cleaned_data["groups"]:
        try:
            with transaction.atomic(durable=True):
                group = FailureGroup.objects.select_for_update().get(pk=group.pk)
                triage.apply(group, form.cleaned_data["action"], actor_of(request))
            changed.append(group)
        except triage.TriageError as error:
            refused.append(str(error))
    if changed:
        label = dict(BULK_ACTIONS)[form.cleaned_data["action"]].lower()
        messages.success(request, f"{label}: {wording.count(len(changed), 'group')}.")
    if refused:
        messages.warning(request, f"{len(refused)} not changed: {refused[0]}")
    return _after_bulk(request, changed)


def _after_bulk(request, changed: list[FailureGroup]):
    back = safe_next(request, reverse("triage"))
    if not request.htmx:
        return redirect(back)
    # The rows are swapped in place; a row that the list's filters no longer show (a group
    # resolved in the "open" view) leaves the table at once, not at the next reload. They are
    # drawn as the page drew them: with its time range, if it had one.
    query = QueryDict(urlsplit(back).query)
    found = list_search.read(
        query, fields=list_search.GROUP_FIELDS, choices=list_search.GROUP_CHOICES
    )
    shown = set(
        _filtered_groups(request, filters.usable(TriageFilterForm(query)), found)
        .filter(pk__in=[g.pk for g in changed])
        .values_list("pk", flat=True)
    )
    groups = FailureGroup.objects.for_triage().filter(pk__in=shown)
    html = render_to_string(
        "invocations/partials/group_rows_oob.html",
        {
            "rows": _rows(list(groups), found.range),
            "window": found.range,
            "can_triage": True,
            "gone": [g.pk for g in changed if g.pk not in shown],
        },
        request=request,
    )
    html += render_to_string("invocations/partials/messages_oob.html", request=request)
    return HttpResponse(html)


def _cursor(before: str | None):
    """The page cursor from ?before=, or None (the first page) when it is not a valid time.
    A time without a zone is read in the site's zone."""
    try:
        cursor = parse_datetime(before or "")
    except ValueError:  # well formed but impossible: month 13, February 30
        return None
    if cursor is not None and timezone.is_naive(cursor):
        cursor = timezone.make_aware(cursor)
    return cursor


def _occurrences(group: FailureGroup, before: str | None):
    """Failed events of the group, newest first, merged on time; keyset on time. A record
    event is a row for its first record with the other records of its request attached
    (`twins`: the dead letter of an OnFailure record)."""
    cursor = _cursor(before)
    records = events.first_in_group(ExecutionRecord.objects.for_list().filter(failure_group=group))
    invocations = (
        Invocation.objects.for_list()
        .filter(failure_group=group)
        .defer("payload", "response_payload", "log_tail")
    )
    if cursor is not None:
        records = records.filter(received_at__lt=cursor)
        invocations = invocations.filter(created_at__lt=cursor)
    items = [
        ("record", r.received_at, r)
        for r in records.order_by("-received_at", "-id")[: OCCURRENCES_PAGE + 1]
    ]
    items += [
        ("invocation", i.created_at, i)
        for i in invocations.order_by("-created_at", "-id")[: OCCURRENCES_PAGE + 1]
    ]
    items.sort(key=lambda item: item[1], reverse=True)
    page = items[:OCCURRENCES_PAGE]
    more = len(items) > OCCURRENCES_PAGE
    _attach_twins(group, [item for kind, _, item in page if kind == "record"])
    cursor_value = page[-1][1].isoformat() if more and page else None
    # Pages go by arrival (the indexed column); each row shows when the failure happened, the
    # notion the group's first/last failed and backlog figures use.
    shown = [
        (
            kind,
            (item.record_timestamp or item.received_at)
            if kind == "record"
            else (item.finished_at or item.created_at),
            item,
        )
        for kind, _, item in page
    ]
    return shown, cursor_value


def _attach_twins(group: FailureGroup, firsts: list[ExecutionRecord]) -> None:
    by_request = {r.request_id: r for r in firsts if r.request_id}
    for record in firsts:
        record.twins = []
    if not by_request:
        return
    twins = (
        ExecutionRecord.objects.for_list()
        .filter(failure_group=group, request_id__in=list(by_request))
        .exclude(pk__in=[r.pk for r in firsts])
        .order_by("id")
    )
    for twin in twins:
        by_request[twin.request_id].twins.append(twin)


def _moved_by_sqs(record: ExecutionRecord | None) -> dict[str, str] | None:
    """A dead letter with no error at all (none of Lambda's RequestID, ErrorCode, ErrorMessage
    attributes) was moved by SQS, after its source queue's maxReceiveCount receives: the DLQ it
    is in and, from the inventory's event source mapping, the queue it came from."""
    if record is None or record.kind != ExecutionRecord.Kind.DLQ:
        return None
    if record.error_type or record.error_message or record.dlq_error_code is not None:
        return None
    source = redrive.source_queue_url(record)
    return {"dlq": record.queue.name, "source": source.rsplit("/", 1)[-1] if source else ""}


@require_GET
@guards.require(permissions.VIEW)
def group_detail(request, pk):
    group = get_object_or_404(
        FailureGroup.objects.select_related("assignee", "environment"),
        pk=pk,
        environment__in=permissions.visible_environments(request.user),
    )
    open_in(request, group.environment)
    occurrences, next_before = _occurrences(group, request.GET.get("before"))
    shown_records = [
        record.pk
        for kind, _, item in occurrences
        if kind == "record"
        for record in [item, *item.twins]
    ]
    return render(
        request,
        "invocations/group.html",
        {
            "group": group,
            **_diagnosis(request, group),
            "deploy_note": deploys.group_note(group),
            "occurrences": occurrences,
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
            "replayed_ids": _replayed_events(occurrences, shown_records),
            "replayed_elsewhere": _replayed_elsewhere(occurrences, shown_records),
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
    records, invocations = diagnosis.event_records(group), diagnosis.group_invocations(group)
    tail = None
    if current and isinstance(current.item, Invocation) and current.item.log_tail:
        tail = logs.parse_tail(current.item.log_tail)
    return {
        "current": current,
        "current_tail": tail,
        "moved_by_sqs": _moved_by_sqs(
            current.item if current and isinstance(current.item, ExecutionRecord) else None
        ),
        # What a replay would send: a dead letter's body even when it is not JSON.
        "current_payload": replay.payload_of(current.item)
        if current and isinstance(current.item, ExecutionRecord)
        else None,
        "twins": diagnosis.twins(group, current) if current else [],
        "steps": diagnosis.navigation(group, current) if current else {},
        "position": diagnosis.position(group, current) if current else 0,
        "notes": notes,
        "range_key": range_key,
        "ranges": list(diagnosis.RANGES),
        "breakdown": diagnosis.breakdown(group, diagnosis.range_start(range_key)),
        "histogram": charts.histogram(records, invocations, range_key),
    }


def _replayed_events(occurrences, shown_records) -> set[int]:
    """The rows (by their first record) whose event was replayed with success, through any of
    its records."""
    done = replay.succeeded_record_ids(shown_records)
    return {
        item.pk
        for kind, _, item in occurrences
        if kind == "record" and any(r.pk in done for r in [item, *item.twins])
    }


def _replayed_elsewhere(occurrences, shown_records) -> dict[int, str]:
    """{row's first record: "hello in staging"} for events replayed only elsewhere."""
    elsewhere = replay.replayed_elsewhere(shown_records)
    rows = {}
    for kind, _, item in occurrences:
        if kind == "record":
            for record in [item, *item.twins]:
                if record.pk in elsewhere:
                    rows[item.pk] = elsewhere[record.pk]
    return rows


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
@guards.require(permissions.TRIAGE)
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
@guards.require(permissions.VIEW)
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
