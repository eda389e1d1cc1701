"""The functions page (inventory, search as you type) and one function's page (configuration,
chart, recent activity, the invoke form)."""

import json

from django.contrib import messages
from django.db.models import Exists, OuterRef, Q, Subquery
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from invocations.access import permissions
from invocations.access.redaction import redact
from invocations.failures import charts
from invocations.forms.invoke import InvokeForm, TemplateForm
from invocations.invoking import inventory, monitor, payloads
from invocations.invoking.payloads import BUILTINS, BY_KEY
from invocations.middleware import actor_of, open_in
from invocations.models import Deploy, ExecutionRecord, Function, InventorySync, Invocation
from invocations.shared.ids import as_id
from invocations.views import edge
from invocations.views.edge import page_or_fragment

# What the functions page shows of a function's last invocation: its status badge, worded as
# everywhere else (an Event invocation's outcome, its attempts), and when.
LAST_FIELDS = [*Invocation.BADGE_FIELDS, "created_at"]


def _functions(environment, search: str):
    """The functions page's rows, each with its last invocation (`last_<field>` annotations),
    in three queries or fewer."""
    ours = Invocation.objects.filter(
        environment=OuterRef("environment"), function_name=OuterRef("name")
    ).order_by("-id")
    rows = Function.objects.filter(environment=environment, present=True).annotate(
        **{f"last_{name}": Subquery(ours.values(name)[:1]) for name in LAST_FIELDS},
        invoked_async=Exists(ours.filter(invocation_type=Invocation.Type.EVENT)),
    )
    if search:
        rows = rows.filter(Q(name__icontains=search) | Q(description__icontains=search))
    return rows.order_by("name")


# Rows a page of the functions list shows; the next page starts after the last name.
FUNCTIONS_PAGE = 100


@require_GET
@edge.require(permissions.VIEW)
def function_list(request):
    search = request.GET.get("q", "").strip()[:100]
    after = request.GET.get("after", "").replace("\x00", "")[:140]  # PostgreSQL refuses NUL
    rows = _functions(request.environment, search)
    if after:
        rows = rows.filter(name__gt=after)
    functions = list(rows[: FUNCTIONS_PAGE + 1])
    more = len(functions) > FUNCTIONS_PAGE
    functions = functions[:FUNCTIONS_PAGE]
    context = {
        "functions": functions,
        "next_after": functions[-1].name if more else "",
        "after": after,
        "search": search,
        "sync": InventorySync.objects.filter(environment=request.environment).first(),
        "can_refresh": permissions.can(request.user, permissions.INVOKE),
    }
    return page_or_fragment(
        request,
        "invocations/functions.html",
        "invocations/partials/function_table.html",
        context,
        target="function-table",
    )


@require_POST
@edge.require(permissions.INVOKE)
def refresh(request):
    sent = inventory.refresh(request.environment, actor=actor_of(request))
    if not sent:
        messages.warning(
            request,
            "The task queue (Redis) did not answer: the inventory is refreshed by the next "
            "scheduled run once it does.",
        )
    else:
        messages.success(request, "Refreshing the inventory: reload in a few seconds.")
    return redirect("functions")


def templates_for(function, user):
    return function.templates.filter(Q(owner=user) | Q(shared=True)).select_related("owner")


def initial_payload(request, function) -> tuple[dict, str]:
    """The invoke form's starting values: from ?template=, ?from= (edit and re-run) or empty."""
    chosen = request.GET.get("template", "")
    if chosen.startswith("builtin:") and chosen[8:] in BY_KEY:
        builtin = BY_KEY[chosen[8:]]
        return {"payload": builtin.payload}, builtin.name
    if (template_id := as_id(chosen)) is not None:
        found = templates_for(function, request.user).filter(pk=template_id).first()
        if found:
            payload = found.payload
            if found.owner_id != request.user.pk and not permissions.can(
                request.user, permissions.RAW_PAYLOADS
            ):
                payload = _redacted(payload)
            return {"payload": payload}, found.name
    source = request.GET.get("from", "")
    if (source_id := as_id(source)) is not None:
        previous = Invocation.objects.filter(
            pk=source_id, environment=function.environment, function_name=function.name
        ).first()
        if previous:
            payload = previous.payload
            if previous.requested_by_id != request.user.pk and not permissions.can(
                request.user, permissions.RAW_PAYLOADS
            ):
                payload = previous.payload_redacted  # the copy stored with the invocation
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
    except (ValueError, RecursionError):
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
        .defer(*Invocation.BIG_FIELDS)[:10]
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
        "chart": charts.daily_chart(environment, function.name),
        "recent": recent,
        "records": records,
        "can_invoke": permissions.can(request.user, permissions.INVOKE),
        "allowed": environment.allows(function.name),
        "sync_limit": payloads.SYNC_LIMIT,
        "async_limit": payloads.ASYNC_LIMIT,
        "span": monitor.chosen_range(request.GET.get("range")),
        "ranges": monitor.RANGES,
        "console": monitor.console_links(environment, function.name),
        "deploys": Deploy.objects.filter(
            environment=environment, function_name=function.name
        ).order_by("-at", "-id")[:10],
    }


@require_GET
@edge.require(permissions.VIEW)
def function_detail(request, name):
    function = function_for(request, name)
    return render(request, "invocations/function.html", function_context(request, function))


def function_for(request, name: str) -> Function:
    """The function called `name` in the page's environment (its `?env=`, else the switcher's);
    when only another visible environment has one, that one, shown in its environment."""
    found = Function.objects.filter(environment=request.environment, name=name).first()
    if found is None and not request.GET.get("env"):
        found = (
            Function.objects.filter(
                name=name, environment__in=permissions.visible_environments(request.user)
            )
            .select_related("environment")
            .order_by("-environment__is_default", "environment__name")
            .first()
        )
    if found is None:
        raise Http404(f"No function {name} here.")
    open_in(request, found.environment)
    return found
