"""The records page (filters, search, counts per kind, keyset pagination) and one record's page
(every field, payloads, raw body, the linked invocation, the logs of its request)."""

import dataclasses
from typing import cast

from django import forms
from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from invocations.access import permissions
from invocations.invoking import request_logs
from invocations.lists import bounded, filters, list_search, live
from invocations.middleware import open_in
from invocations.models import ExecutionRecord, Invocation, WatchedQueue
from invocations.views import edge
from invocations.views.edge import page_or_fragment
from invocations.views.lists import list_context as _list_context

CONDITIONS = [
    "Success",
    "RetriesExhausted",
    "EventAgeExceeded",
    "ZeroReservedConcurrency",
    "RetryAttemptsExhausted",
]
# The counts per kind stop here ("1000+"): counting every row would make the page as slow as the
# table is big (bench/pages.py measured 56 ms per 100,000 records), while a bounded count reads
# at most this many index entries per kind, whatever the size of the table.


class RecordFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=500,
        label="Search",
        widget=forms.SearchInput(
            attrs={"placeholder": "request ID or error text", "data-search": ""}
        ),
    )
    kind = forms.ChoiceField(
        required=False, choices=[("", "any")] + list(ExecutionRecord.Kind.choices)
    )
    condition = forms.ChoiceField(
        required=False, choices=[("", "any")] + [(c, c) for c in CONDITIONS]
    )
    function = forms.CharField(required=False, max_length=140)
    error_type = forms.CharField(required=False, max_length=256, label="Error type")
    queue = forms.ModelChoiceField(
        required=False, queryset=WatchedQueue.objects.none(), empty_label="any"
    )
    since = forms.DateTimeField(
        required=False,
        label="Received from",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        required=False, label="to", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, environment, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["queue"]).queryset = WatchedQueue.objects.filter(
            environment=environment
        )

    def filtered(self, records, data: dict):
        """`records` narrowed by the filters in `data` except the kind and the page (the counts
        per kind are taken from this). The query bar (`q`) and the time range (`since`,
        `until`) are applied by list_search."""
        if data.get("condition"):
            records = records.filter(condition=data["condition"])
        if data.get("function"):
            records = records.filter(function_name=data["function"].strip())
        if data.get("error_type"):
            records = records.filter(error_type=data["error_type"].strip())
        if data.get("queue"):
            records = records.filter(queue=data["queue"])
        return records


def _search(params) -> list_search.Search:
    return list_search.read(
        params, fields=list_search.RECORD_FIELDS, choices=list_search.RECORD_CHOICES
    )


def matching_records(request, params):
    """The records a Records list with these URL parameters shows (every page, every kind chosen):
    what "all N matching" selects for replay, send back to queue and export."""
    form = RecordFilterForm(params, environment=request.environment)
    data = filters.usable(form)
    records = ExecutionRecord.objects.for_list().filter(environment=request.environment)
    records = list_search.records(
        form.filtered(records, data),
        _search(params),
        environment=request.environment,
        raw=permissions.can(request.user, permissions.RAW_PAYLOADS),
    )
    if data.get("kind"):
        records = records.filter(kind=data["kind"])
    return records


@require_GET
@edge.require(permissions.VIEW)
def record_list(request):
    form = RecordFilterForm(request.GET or None, environment=request.environment)
    found = _search(request.GET)
    size = found.per_page
    records = ExecutionRecord.objects.for_list().filter(environment=request.environment)
    next_before, query = None, ""
    data = filters.usable(form)
    if form.is_bound and ("since" in form.errors or "until" in form.errors):
        # The form names a bad date already; say it once.
        kept = tuple(p for p in found.problems if not p.startswith(("from ", "to ")))
        found = dataclasses.replace(found, problems=kept)
    records = list_search.records(
        form.filtered(records, data),
        found,
        environment=request.environment,
        raw=permissions.can(request.user, permissions.RAW_PAYLOADS),
    )
    # One bounded count per kind (each walks at most COUNT_LIMIT + 1 entries of its index).
    counts = {
        kind: bounded.count_up_to_limit(records.filter(kind=kind))
        for kind in ExecutionRecord.Kind.values
    }
    total = sum(counts.values())
    total_more = any(n > bounded.COUNT_LIMIT for n in counts.values())
    if data.get("kind"):
        records = records.filter(kind=data["kind"])
    if data.get("before"):
        records = records.filter(id__lt=data["before"])
    rows = list(records[: size + 1])
    if len(rows) > size:
        rows = rows[:size]
        next_before = rows[-1].id
        params = request.GET.copy()
        params["before"] = next_before
        query = params.urlencode()
    first_page = request.GET.copy()
    first_page.pop("before", None)
    kind_links = []
    for value, label in ExecutionRecord.Kind.choices:
        params = first_page.copy()
        params["kind"] = value
        kind_links.append(
            {
                "value": value,
                "label": label,
                "count": bounded.Bounded.of(counts.get(value, 0)).count,
                "more": bounded.Bounded.of(counts.get(value, 0)).more,
                "query": params.urlencode(),
                "current": data.get("kind") == value,
            }
        )
    all_kinds = first_page.copy()
    all_kinds.pop("kind", None)
    selected_kind_count = counts.get(data["kind"], 0) if data.get("kind") else total
    context = {
        **_list_context(request, found),
        "cursor": _newest_id(request.environment),
        "selection_total": bounded.Bounded.of(selected_kind_count).count,
        "selection_more": bounded.Bounded.of(selected_kind_count).more,
        "can_replay": permissions.can(request.user, permissions.REPLAY),
        "form": form,
        "records": rows,
        "kinds": kind_links,
        "total": min(total, bounded.COUNT_LIMIT) if total_more else total,
        "total_more": total_more,
        "all_kinds_query": all_kinds.urlencode(),
        "next_query": query,
        "first_page_query": first_page.urlencode(),
        "current_kind": data.get("kind", ""),
        "paged": bool(data.get("before")),
        "ignored_filters": filters.ignored(form),
        "filtered": any(v for k, v in data.items() if k != "before")
        or bool(found.query.terms or found.query.text or found.range.bounded),
        # Only asked when the page is empty, to say where records would come from.
        "watched": []
        if rows
        else list(WatchedQueue.objects.filter(environment=request.environment)),
    }
    return page_or_fragment(
        request,
        "invocations/records.html",
        "invocations/partials/record_results.html",
        context,
    )


def _newest_id(environment) -> int:
    newest = (
        ExecutionRecord.objects.filter(environment=environment)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return newest or 0


@require_GET
@edge.require(permissions.VIEW)
def record_changes(request):
    """The Records list's poll: how many records matching its filters arrived after the newest
    one the page had when it was drawn."""
    after = live.read_id_cursor(request.GET.get("cursor"))
    if after is None:
        return HttpResponse("Bad cursor", status=400)
    params = request.GET.copy()
    params.pop("cursor", None)
    params.pop("before", None)
    return render(
        request,
        "invocations/partials/records_live.html",
        {
            "new": live.new_records(matching_records(request, params), after),
            "limit": live.NEW_LIMIT,
            "cursor": after,
            "query": params.urlencode(),
            "live_seconds": settings.LIVE_POLL_SECONDS,
        },
    )


def _record(request, pk) -> ExecutionRecord:
    """The record in its own environment, whichever the switcher is on."""
    record = get_object_or_404(
        ExecutionRecord.objects.select_related(
            "queue", "invocation", "environment", "failure_group", "event", "event__group"
        ),
        pk=pk,
        environment__in=permissions.visible_environments(request.user),
    )
    open_in(request, record.environment)
    return record


# The texts a record page cuts, whole, as plain text: for people who may read them raw.
WHOLE_TEXTS = ("error_message", "stack_trace", "parse_error")


@require_GET
@edge.require(permissions.RAW_PAYLOADS)
def record_text(request, pk, field):
    """One of a record's texts whole (the page shows the first 64 K characters), as plain text
    that a browser shows and never runs."""
    if field not in WHOLE_TEXTS:
        raise Http404("No such text")
    record = _record(request, pk)
    response = HttpResponse(getattr(record, field), content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@edge.require(permissions.VIEW)
def record_detail(request, pk):
    record = _record(request, pk)
    invocation = record.invocation
    if invocation is None and record.request_id:
        # The invocation may have been saved after the record arrived.
        invocation = (
            Invocation.objects.filter(
                environment=record.environment_id, request_id=record.request_id
            )
            .order_by("id")
            .first()
        )
    context = {
        "record": record,
        "invocation": invocation,
        "can_see_raw": permissions.can(request.user, permissions.RAW_PAYLOADS),
        "raw_size": len(record.raw_body.encode("utf-8", "replace")),
        "returns": record.returns.only("id")[:20],
        "same_request": ExecutionRecord.objects.filter(
            environment=record.environment_id, request_id=record.request_id
        )
        .exclude(pk=record.pk)
        .order_by("-id")
        .select_related("queue")
        .only("id", "kind", "condition", "received_at", "queue__url")[:20]
        if record.request_id
        else [],
    }
    return render(request, "invocations/record.html", context)


@require_GET
@edge.require(permissions.VIEW)
def record_logs(request, pk):
    """The "logs of this request" fragment: every attempt's lines from CloudWatch Logs.
    Errors are shown as text, never a 500."""
    record = _record(request, pk)
    found = request_logs.for_record(record)
    context = {
        "record": record,
        "group": found.group,
        "attempts": found.attempts,
        "error": found.error,
        "more": found.more,
    }
    return render(request, "invocations/partials/record_logs.html", context)
