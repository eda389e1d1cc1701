"""The functions page (inventory, search as you type) and one function's page (configuration,
chart, recent activity, the invoke form)."""

import json
from datetime import datetime, timedelta

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from invocations import access, audit, monitor, sending
from invocations.forms import InvokeForm, TemplateForm
from invocations.models import Deploy, ExecutionRecord, Function, InventorySync, Invocation
from invocations.models.function import ASYNC_PAYLOAD_LIMIT, SYNC_PAYLOAD_LIMIT
from invocations.payload_templates import BUILTINS, BY_KEY
from invocations.redaction import redact

FAILED = [Invocation.Status.FUNCTION_ERROR, Invocation.Status.FAILED, Invocation.Status.THROTTLED]
FAILED_RECORDS = [
    ExecutionRecord.Kind.FAILURE,
    ExecutionRecord.Kind.DLQ,
    ExecutionRecord.Kind.STREAM_FAILURE,
]
CHART_DAYS = 14


def _functions(environment, search: str):
    """The functions page's rows, each with its last invocation, in three queries or fewer."""
    ours = Invocation.objects.filter(
        environment=OuterRef("environment"), function_name=OuterRef("name")
    ).order_by("-id")
    rows = Function.objects.filter(environment=environment, present=True).annotate(
        last_status=Subquery(ours.values("status")[:1]),
        last_invoked_at=Subquery(ours.values("created_at")[:1]),
        invoked_async=Exists(ours.filter(invocation_type=Invocation.Type.EVENT)),
    )
    if search:
        rows = rows.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return rows.order_by("name")


@access.require(access.VIEW)
def function_list(request):
    search = request.GET.get("q", "").strip()[:100]
    context = {
        "functions": _functions(request.environment, search),
        "search": search,
        "sync": InventorySync.objects.filter(environment=request.environment).first(),
        "can_refresh": access.can(request.user, access.INVOKE),
    }
    if request.htmx and request.htmx.target == "function-table":
        return render(request, "invocations/partials/function_table.html", context)
    return render(request, "invocations/functions.html", context)


@require_POST
@access.require(access.INVOKE)
def refresh(request):
    from invocations.tasks import sync_functions

    refused = []
    with transaction.atomic():
        audit.record(
            "functions.refresh",
            request=request,
            summary=f"refresh the function inventory of {request.environment.name}",
            details={"environment": request.environment.name},
        )
        # Beat refreshes every environment anyway: a broker outage only delays it.
        sending.send_on_commit(sync_functions, request.environment.pk, on_failure=refused.append)
    if refused:
        messages.warning(
            request,
            "The task queue (Redis) did not answer: the inventory is refreshed by the next "
            "scheduled run once it does.",
        )
    else:
        messages.success(request, "Refreshing the inventory: reload in a few seconds.")
    return redirect("functions")


def daily_chart(environment, name: str, days: int = CHART_DAYS) -> dict:
    """Invocations and failures per day from our own rows: what the dashboard invoked, and
    the failure records that reached the watched queues. Drawn as SVG by the template."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    invoked = (
        Invocation.objects.filter(
            environment=environment, function_name=name, created_at__gte=start
        )
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(status__in=FAILED)))
    )
    recorded = (
        ExecutionRecord.objects.filter(
            environment=environment,
            function_name=name,
            kind__in=FAILED_RECORDS,
            received_at__gte=start,
        )
        .annotate(day=TruncDate("received_at"))
        .values("day")
        .annotate(failed=Count("id"))
    )
    totals = {row["day"]: row["total"] for row in invoked}
    failures = {row["day"]: row["failed"] for row in invoked}
    for row in recorded:
        failures[row["day"]] = failures.get(row["day"], 0) + row["failed"]
    peak = max([*totals.values(), *failures.values(), 1])
    height, bar, gap, left, top = 80, 16, 6, 30, 8
    bars = []
    for index in range(days):
        day = first + timedelta(days=index)
        total, failed = totals.get(day, 0), failures.get(day, 0)
        x = left + index * (bar + gap)
        total_h = round(height * total / peak, 1)
        failed_h = round(height * failed / peak, 1)
        bars.append(
            {
                "day": day,
                "total": total,
                "failed": failed,
                "x": x,
                "x_failed": x + bar / 2,
                "total_y": top + height - total_h,
                "total_h": total_h,
                "failed_y": top + height - failed_h,
                "failed_h": failed_h,
            }
        )
    return {
        "bars": bars,
        "peak": peak,
        "width": left + days * (bar + gap),
        "height": top + height + 22,
        "bar": bar,
        "half": bar / 2,
        "base_y": top + height,
        "label_y": top + height + 16,
        "top": top,
        "left": left,
        "first": first,
        "last": today,
        "any": bool(totals or failures),
    }


def templates_for(function, user):
    return function.templates.filter(Q(owner=user) | Q(shared=True)).select_related("owner")


def initial_payload(request, function) -> tuple[dict, str]:
    """The invoke form's starting values: from ?template=, ?from= (edit and re-run) or empty."""
    chosen = request.GET.get("template", "")
    if chosen.startswith("builtin:") and chosen[8:] in BY_KEY:
        builtin = BY_KEY[chosen[8:]]
        return {"payload": builtin.payload}, builtin.name
    if chosen.isdigit():
        found = templates_for(function, request.user).filter(pk=chosen).first()
        if found:
            return {"payload": found.payload}, found.name
    source = request.GET.get("from", "")
    if source.isdigit():
        previous = Invocation.objects.filter(
            pk=source, environment=function.environment, function_name=function.name
        ).first()
        if previous:
            payload = previous.payload
            if previous.requested_by_id != request.user.pk and not access.can(
                request.user, access.RAW_PAYLOADS
            ):
                payload = _redacted(payload)
            return {
                "payload": payload,
                "qualifier": previous.qualifier or "$LATEST",
                "invocation_type": previous.invocation_type,
                "rerun_of": previous.pk,
            }, f"invocation #{previous.pk}"
    return {"payload": "{}"}, ""


def _redacted(payload: str) -> str:
    try:
        return json.dumps(redact(json.loads(payload)), indent=2)
    except ValueError:
        return payload


def function_context(request, function, form=None, template_form=None) -> dict:
    environment = request.environment
    initial, loaded = initial_payload(request, function)
    qualifiers = function.qualifiers
    if initial.get("qualifier") and initial["qualifier"] not in qualifiers:
        qualifiers.append(initial["qualifier"])
    if form is None:
        form = InvokeForm(
            initial=initial,
            function_name=function.name,
            environment=environment,
            qualifiers=qualifiers,
        )
    recent = (
        Invocation.objects.for_list()
        .filter(environment=environment, function_name=function.name)
        .defer("payload", "response_payload", "log_tail")[:10]
    )
    records = ExecutionRecord.objects.for_list().filter(
        environment=environment, function_name=function.name
    )[:10]
    return {
        "function": function,
        "form": form,
        "template_form": template_form or TemplateForm(),
        "loaded": loaded,
        "builtins": BUILTINS,
        "templates": templates_for(function, request.user),
        "chart": daily_chart(environment, function.name),
        "recent": recent,
        "records": records,
        "can_invoke": access.can(request.user, access.INVOKE),
        "allowed": environment.allows(function.name),
        "sync_limit": SYNC_PAYLOAD_LIMIT,
        "async_limit": ASYNC_PAYLOAD_LIMIT,
        "span": monitor.chosen_range(request.GET.get("range")),
        "ranges": monitor.RANGES,
        "console": monitor.console_links(environment, function.name),
        "deploys": Deploy.objects.filter(
            environment=environment, function_name=function.name
        ).order_by("-at", "-id")[:10],
    }


@access.require(access.VIEW)
def function_detail(request, name):
    function = get_object_or_404(Function, environment=request.environment, name=name)
    return render(request, "invocations/function.html", function_context(request, function))
