"""The triage page (home): the list of failure groups, its live changes and its bulk actions."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from invocations.access import permissions
from invocations.failures import charts, deploys, triage
from invocations.forms.triage import (
    ACTIVE,
    BULK_ACTIONS,
    BulkActionForm,
    TriageFilterForm,
)
from invocations.ingest import redrive
from invocations.lists import bounded, filters, list_search, live, time_ranges
from invocations.middleware import actor_of
from invocations.models import FailureGroup
from invocations.shared import wording
from invocations.views import edge
from invocations.views.edge import page_or_fragment, safe_next
from invocations.views.lists import list_context as _list_context

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
        groups = groups.active()
    elif status == "regressed":
        groups = groups.filter(regressed=True, status="open")
    elif status == "snoozed":
        groups = groups.snoozed()
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
@edge.require(permissions.VIEW)
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
    total, total_more = bounded.bounded_count(matching)
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
        "redriven": _redriven(request),
    }
    return page_or_fragment(
        request,
        "invocations/triage.html",
        "invocations/partials/group_table.html",
        context,
        target="group-table",
    )


@require_GET
@edge.require(permissions.VIEW)
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


def _redriven(request):
    """The last send back to queue, unless this person dismissed it."""
    latest = redrive.latest(request.environment)
    if latest and not latest["running"] and request.session.get(DISMISSED) == latest["id"]:
        return None
    return latest


# The session key of the send-back outcome a person dismissed (its audit event id).
DISMISSED = "redrive_dismissed"


@require_POST
@edge.require(permissions.VIEW)
def dismiss_redrive(request):
    """Hide the outcome of the last send back to queue for this person (the next send shows)."""
    latest = redrive.latest(request.environment)
    if latest is not None:
        request.session[DISMISSED] = latest["id"]
    if request.htmx:
        return HttpResponse("")
    return redirect("triage")


@require_POST
@edge.require(permissions.TRIAGE)
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
        messages.success(
            request, f"{label}: {wording.count(len(changed), 'group')} ({_named(changed)})."
        )
    if refused:
        messages.warning(request, f"{len(refused)} not changed: {refused[0]}")
    return _after_bulk(request, changed)


# The result names the rows it changed; beyond this many it says how many more.
NAMED_ROWS = 5


def _named(groups: list[FailureGroup]) -> str:
    """ "#12 orders: ValueError: …, #14 billing: Timeout": which rows an action changed."""
    names = [f"#{g.pk} {g.function_name}: {g.title}" for g in groups[:NAMED_ROWS]]
    more = len(groups) - NAMED_ROWS
    return "; ".join(names) + (f"; and {more} more" if more > 0 else "")


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
    # The action is done: the page clears the selection, so that the next key or button does
    # not act again on rows the person already dealt with.
    return trigger_client_event(HttpResponse(html), "selection-cleared")
