"""The invocations page (filters, keyset pagination) and one invocation's live page."""

from datetime import datetime, timedelta

from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseStopPolling

from invocations import access, logs, request_logs
from invocations.forms import InvocationFilterForm
from invocations.models import Invocation
from invocations.views.htmx import page_or_fragment

PAGE_SIZE = 50
# After a 202, keep looking for the outcome record this long (the page polls slowly).
ASYNC_OUTCOME_WATCH = timedelta(minutes=15)


def filtered(environment, data: dict):
    rows = (
        Invocation.objects.for_list()
        .filter(environment=environment)
        .defer("payload", "response_payload", "log_tail")
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
    if data.get("q"):
        rows = rows.filter(request_id__startswith=data["q"].strip())
    return rows


@require_GET
@access.require(access.VIEW)
def invocation_list(request):
    form = InvocationFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    rows = filtered(request.environment, data)
    if data.get("before"):
        rows = rows.filter(id__lt=data["before"])
    page = list(rows[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "form": form,
        "invocations": page,
        "next_before": page[-1].pk if more else None,
        "query": query.urlencode(),
        "first_page": not data.get("before"),
    }
    return page_or_fragment(
        request,
        "invocations/invocations.html",
        "invocations/partials/invocation_table.html",
        context,
        target="invocation-table",
    )


def _detail(request, pk) -> Invocation:
    return get_object_or_404(
        Invocation.objects.select_related("requested_by", "function", "rerun_of", "environment"),
        pk=pk,
        environment=request.environment,
    )


def result_context(request, invocation: Invocation) -> dict:
    records = list(invocation.records.all().order_by("-id")[:20])
    tail = logs.parse_tail(invocation.log_tail) if invocation.log_tail else None
    poll = None
    if not invocation.is_done:
        poll = "every 1s"
    elif (
        invocation.status == Invocation.Status.ACCEPTED
        and not records
        and invocation.function is not None
        and invocation.function.has_async_outcome
        and invocation.finished_at
        and timezone.now() - invocation.finished_at < ASYNC_OUTCOME_WATCH
    ):
        poll = "every 3s"
    next_in = None
    if invocation.status == Invocation.Status.THROTTLED_RETRYING and invocation.next_attempt_at:
        next_in = max(0.0, (invocation.next_attempt_at - timezone.now()).total_seconds())
    from django.conf import settings

    return {
        "invocation": invocation,
        "tail": tail,
        "records": records,
        "outcome": records[0] if records else None,
        "poll": poll,
        "next_in": next_in,
        "next_attempt": invocation.attempts + 1,
        "max_attempts": settings.THROTTLE_RETRY_ATTEMPTS,
        "function": invocation.function,
    }


@require_GET
@access.require(access.VIEW)
def invocation_detail(request, pk):
    invocation = _detail(request, pk)
    context = result_context(request, invocation)
    context["can_invoke"] = access.can(request.user, access.INVOKE)
    context["reruns"] = invocation.reruns.only("id", "status", "created_at").order_by("-id")[:10]
    return render(request, "invocations/invocation.html", context)


@require_GET
@access.require(access.VIEW)
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
@access.require(access.VIEW)
def invocation_log(request, pk):
    """The full log of the invocation from CloudWatch Logs, as a fragment (errors as text)."""
    invocation = _detail(request, pk)
    found = request_logs.for_invocation(invocation)
    context = {
        "invocation": invocation,
        "group": found.group,
        "lines": found.lines,
        "error": found.error,
        "more": found.more,
        "streams": found.streams,
    }
    return render(request, "invocations/partials/invocation_log.html", context)
