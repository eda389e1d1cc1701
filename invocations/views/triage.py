"""The triage page (home), a failure group's page, and the workflow actions on groups."""

from urllib.parse import urlsplit

from django.contrib import messages
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from invocations import (
    access,
    charts,
    deploys,
    events,
    filters,
    logs,
    redrive,
    replay,
    triage,
    wording,
)
from invocations.middleware import open_in
from invocations.models import ExecutionRecord, FailureGroup, GroupActivity, Invocation
from invocations.triage_forms import (
    ACTIVE,
    BULK_ACTIONS,
    AssignForm,
    BulkActionForm,
    CommentForm,
    SnoozeForm,
    StatusForm,
    TriageFilterForm,
)
from invocations.views.htmx import page_or_fragment

PAGE_SIZE = 50
OCCURRENCES_PAGE = 25
SORT_ORDER = {
    "last_seen": ["-last_seen", "-id"],
    "count": ["-count", "-id"],
    "backlog": ["backlog_oldest", "-id"],
}


def _filtered_groups(request, data: dict):
    groups = FailureGroup.objects.for_triage().filter(environment=request.environment)
    status = data.get("status") or ACTIVE
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


def _rows(groups: list[FailureGroup]) -> list[dict]:
    lines = charts.for_groups([g.pk for g in groups])
    after = deploys.group_notes(groups)
    return [
        {
            "group": g,
            "deploy_note": after.get(g.pk, ""),
            "hours": charts.points(lines[g.pk]["hours"]),
            "days": charts.points(lines[g.pk]["days"]),
            "hours_total": sum(lines[g.pk]["hours"]),
            "days_total": sum(lines[g.pk]["days"]),
        }
        for g in groups
    ]


@require_GET
@access.require(access.VIEW)
def triage_list(request):
    form = TriageFilterForm(request.GET)
    data = filters.usable(form)
    page = data.get("page") or 1
    start = (page - 1) * PAGE_SIZE
    groups = list(_filtered_groups(request, data)[start : start + PAGE_SIZE + 1])
    more = len(groups) > PAGE_SIZE
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "rows": _rows(groups[:PAGE_SIZE]),
        "page": page,
        "next_page": page + 1 if more else None,
        "query": query.urlencode(),
        "can_triage": access.can(request.user, access.TRIAGE),
        "can_replay": access.can(request.user, access.REPLAY),
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


@require_POST
@access.require(access.TRIAGE)
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
            with transaction.atomic():
                group = FailureGroup.objects.select_for_update().get(pk=group.pk)
                triage.apply(group, form.cleaned_data["action"], request)
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
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("triage")
    if not request.htmx:
        return redirect(back)
    # The rows are swapped in place; a row that the list's filters no longer show (a group
    # resolved in the "open" view) leaves the table at once, not at the next reload.
    query = QueryDict(urlsplit(back).query)
    shown = set(
        _filtered_groups(request, filters.usable(TriageFilterForm(query)))
        .filter(pk__in=[g.pk for g in changed])
        .values_list("pk", flat=True)
    )
    groups = FailureGroup.objects.for_triage().filter(pk__in=shown)
    html = render_to_string(
        "invocations/partials/group_rows_oob.html",
        {
            "rows": _rows(list(groups)),
            "can_triage": True,
            "gone": [g.pk for g in changed if g.pk not in shown],
        },
        request=request,
    )
    html += render_to_string("invocations/partials/messages_oob.html", request=request)
    return HttpResponse(html)


def _occurrences(group: FailureGroup, before: str | None):
    """Failed events of the group, newest first, merged on time; keyset on time. A record
    event is a row for its first record with the other records of its request attached
    (`twins`: the dead letter of an OnFailure record)."""
    cursor = parse_datetime(before) if before else None
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
    return page, (page[-1][1].isoformat() if more and page else None)


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


@require_GET
@access.require(access.VIEW)
def group_detail(request, pk):
    group = get_object_or_404(
        FailureGroup.objects.select_related("assignee", "environment"),
        pk=pk,
        environment__in=access.visible_environments(request.user),
    )
    open_in(request, group.environment)
    occurrences, next_before = _occurrences(group, request.GET.get("before"))
    shown_records = [
        record.pk
        for kind, _, item in occurrences
        if kind == "record"
        for record in [item, *item.twins]
    ]
    sample = ExecutionRecord.objects.filter(failure_group=group).order_by("-id").first()
    # A group of synchronous failures has no record: its latest invocation is the sample.
    sample_invocation = (
        None if sample else Invocation.objects.filter(failure_group=group).order_by("-id").first()
    )
    sample_tail = (
        logs.parse_tail(sample_invocation.log_tail)
        if sample_invocation and sample_invocation.log_tail
        else None
    )
    return render(
        request,
        "invocations/group.html",
        {
            "group": group,
            "deploy_note": deploys.group_note(group),
            "occurrences": occurrences,
            "next_before": next_before,
            "sample": sample,
            "sample_invocation": sample_invocation,
            "sample_tail": sample_tail,
            "activity": GroupActivity.objects.filter(group=group)
            .order_by("-id")
            .select_related("actor")[:200],
            "status_form": StatusForm(initial={"status": group.status}),
            "assign_form": AssignForm(initial={"assignee": group.assignee_id}),
            "snooze_form": SnoozeForm(),
            "comment_form": CommentForm(),
            "can_triage": access.can(request.user, access.TRIAGE),
            "can_replay": access.can(request.user, access.REPLAY),
            "replays": group.replays.select_related("environment").order_by("-id")[:10],
            "replayed_ids": _replayed_events(occurrences, shown_records),
            "replayed_elsewhere": _replayed_elsewhere(occurrences, shown_records),
        },
    )


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
@access.require(access.TRIAGE)
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
    with transaction.atomic():
        group = get_object_or_404(
            FailureGroup.objects.select_for_update(),
            pk=pk,
            environment__in=access.visible_environments(request.user),
        )
        if not form.is_valid():
            errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
            messages.error(request, errors)
            return redirect("group", pk=pk)
        data = form.cleaned_data
        try:
            triage.apply(group, action, request, **data)
            messages.success(request, _done(group, action, data))
        except triage.TriageError as error:
            messages.error(request, str(error))
    return redirect("group", pk=pk)
