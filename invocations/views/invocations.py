"""The invocations page (filters, keyset pagination) and one invocation's live page."""

from datetime import datetime, timedelta

from django.conf import settings
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseStopPolling

from invocations.access import permissions
from invocations.failures import async_outcome
from invocations.forms.invoke import InvocationFilterForm
from invocations.invoking import logs, request_logs
from invocations.lists import bounded, filters, list_search
from invocations.middleware import open_in
from invocations.models import ExecutionRecord, Invocation
from invocations.shared import poll_schedule
from invocations.views import edge
from invocations.views.edge import page_or_fragment
from invocations.views.lists import list_context

# After a 202, look for the outcome record every 3 s this long, then every 30 s.
ASYNC_FAST_WATCH = timedelta(minutes=15)


def filtered(environment, data: dict):
    rows = (
        Invocation.objects.for_list().filter(environment=environment).defer(*Invocation.BIG_FIELDS)
    )
    if data.get("function"):
        rows = rows.filter(function_name=data["function"])
    if data.get("status"):
        rows = rows.filter(status=data["status"])
    if data.get("type"):
        rows = rows.filter(invocation_type=data["type"])
    if data.get("who"):
        if data["who"] == "system":
            rows = rows.filter(requested_by__isnull=True)
        else:
            rows = rows.filter(requested_by__username=data["who"])
    if data.get("date"):
        start = timezone.make_aware(datetime.combine(data["date"], datetime.min.time()))
        rows = rows.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
    # The query bar (`q`) is applied by list_search.
    return rows


def matching_invocations(request, params):
    """The invocations the list shows for these URL parameters, every page: what export writes."""
    form = InvocationFilterForm(params)
    data = filters.usable(form)
    return list_search.invocations(
        filtered(request.environment, data),
        _search(params),
        raw=permissions.can(request.user, permissions.RAW_PAYLOADS),
    )


def _search(params) -> list_search.Search:
    return list_search.read(
        params, fields=list_search.INVOCATION_FIELDS, choices=list_search.INVOCATION_CHOICES
    )


@require_GET
@edge.require(permissions.VIEW)
def invocation_list(request):
    form = InvocationFilterForm(request.GET)
    data = filters.usable(form)
    found = _search(request.GET)
    rows = list_search.invocations(
        filtered(request.environment, data),
        found,
        raw=permissions.can(request.user, permissions.RAW_PAYLOADS),
    )
    total, total_more = bounded.bounded_count(rows)
    if data.get("before"):
        rows = rows.filter(id__lt=data["before"])
    size = found.per_page
    page = list(rows[: size + 1])
    more = len(page) > size
    page = page[:size]
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        **list_context(request, found),
        "total": total,
        "total_more": total_more,
        "form": form,
        "invocations": page,
        "next_before": page[-1].pk if more else None,
        "query": query.urlencode(),
        "first_page": not data.get("before"),
        "ignored_filters": filters.ignored(form),
    }
    return page_or_fragment(
        request,
        "invocations/invocations.html",
        "invocations/partials/invocation_table.html",
        context,
        target="invocation-table",
    )


def _detail(request, pk) -> Invocation:
    """The invocation in its own environment, whichever the switcher is on."""
    invocation = get_object_or_404(
        Invocation.objects.select_related("requested_by", "function", "rerun_of", "environment"),
        pk=pk,
        environment__in=permissions.visible_environments(request.user),
    )
    open_in(request, invocation.environment)
    return invocation


def _async_state(invocation: Invocation, records) -> tuple[str, str | None]:
    """(what is known of an Event invocation's outcome, the polling trigger or None).

    outcome: a record reported it. unreported: no destination or DLQ, so nothing ever will.
    waiting: Lambda may still report it. After the function's retries and maximum event age
    (async_outcome.report_deadline) nothing more will come: no_failure_reported when only
    failures are reported, no_success_reported when only successes are, no_record when both
    are (a record was lost, or its queue is not watched)."""
    if records:
        return "outcome", None
    if invocation.status != Invocation.Status.ACCEPTED:
        return "", None
    function = invocation.function
    reported = async_outcome.reported(function)
    if not reported or function is None:  # an unknown function reports nothing
        return ("unreported" if function is not None else "unknown_function"), None
    accepted_at = invocation.finished_at or invocation.created_at
    now = timezone.now()
    if now < async_outcome.report_deadline(function, accepted_at):
        # Outcomes usually arrive within seconds to minutes; later, look less often.
        return "waiting", ("every 3s" if now - accepted_at < ASYNC_FAST_WATCH else "every 30s")
    if reported == {"failure"}:
        return "no_failure_reported", None
    if reported == {"success"}:
        return "no_success_reported", None
    return "no_record", None


def result_context(request, invocation: Invocation) -> dict:
    records = list(invocation.records.select_related("failure_group").order_by("-id")[:20])
    # The log tail as this person may read it: raw, or the copy redacted when it was stored.
    raw = permissions.can(request.user, permissions.RAW_PAYLOADS)
    stored_tail = invocation.log_tail if raw else invocation.log_tail_redacted
    tail = logs.parse_tail(stored_tail) if stored_tail else None
    poll = None
    poll_step = 0
    async_state = ""
    if not invocation.is_done:
        # At once, then backing off to once a second: most invokes finish in tens of ms.
        poll, poll_step = poll_schedule.next_poll(poll_schedule.step_of(request.GET))
    elif invocation.invocation_type == Invocation.Type.EVENT:
        async_state, poll = _async_state(invocation, records)
    next_in = None
    if invocation.status == Invocation.Status.THROTTLED_RETRYING and invocation.next_attempt_at:
        next_in = max(0.0, (invocation.next_attempt_at - timezone.now()).total_seconds())
    destinations = sorted(records, key=lambda r: r.kind == ExecutionRecord.Kind.DLQ)
    return {
        "invocation": invocation,
        "tail": tail,
        "records": records,
        "outcome": destinations[0] if destinations else None,
        "async_state": async_state,
        "poll": poll,
        "poll_step": poll_step,
        "next_in": next_in,
        "next_attempt": invocation.attempts + 1,
        "max_attempts": settings.THROTTLE_RETRY_ATTEMPTS,
        "function": invocation.function,
    }


@require_GET
@edge.require(permissions.VIEW)
def invocation_detail(request, pk):
    invocation = _detail(request, pk)
    context = result_context(request, invocation)
    context["can_invoke"] = permissions.can(request.user, permissions.INVOKE)
    context["reruns"] = invocation.reruns.only("id", *Invocation.BADGE_FIELDS).order_by("-id")[:10]
    return render(request, "invocations/invocation.html", context)


@require_GET
@edge.require(permissions.VIEW)
def invocation_status(request, pk):
    """The polled fragment: while the invocation runs, it carries its own trigger; once done it
    is rendered without one, and polling stops."""
    invocation = _detail(request, pk)
    context = result_context(request, invocation)
    response = render(request, "invocations/partials/invocation_result.html", context)
    if context["poll"] is None and request.htmx:
        # 286: htmx stops polling even if an old element still carried the trigger.
        return HttpResponseStopPolling(response.content)
    return response


@require_GET
@edge.require(permissions.VIEW)
def invocation_log(request, pk):
    """The full log of the invocation from CloudWatch Logs, as a fragment (errors as text)."""
    invocation = _detail(request, pk)
    # Every line of the request from its START to its REPORT, for each attempt.
    found = request_logs.for_invocation(invocation)
    context = {
        "invocation": invocation,
        "group": found.group,
        "attempts": found.attempts,
        "error": found.error,
        "more": found.more,
    }
    return render(request, "invocations/partials/invocation_log.html", context)
