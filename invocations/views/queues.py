"""The queues page: what is watched, how deep it is, when it was last polled and what went wrong;
watch, enable or disable, poll now, and discover queues from the functions' configuration."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from invocations.access import permissions
from invocations.ingest import discovery, polling_cost, queues
from invocations.middleware import actor_of
from invocations.models import WatchedQueue
from invocations.views import edge


class WatchForm(forms.Form):
    url = forms.URLField(max_length=500, label="Queue URL", assume_scheme="https")
    kind = forms.ChoiceField(choices=WatchedQueue.Kind.choices)
    function = forms.CharField(
        required=False, max_length=140, help_text="The function it serves (needed for a DLQ)."
    )


def _queues(request):
    return WatchedQueue.objects.filter(environment=request.environment)


# Rows a page of the queues list shows (each loads its depth with one AWS call); the next page
# starts after the last URL.
QUEUES_PAGE = 50


def _page(request, *, form=None, status=200):
    after = request.GET.get("after", "").replace("\x00", "")[:500]  # PostgreSQL refuses NUL
    rows = _queues(request).order_by("url")
    if after:
        rows = rows.filter(url__gt=after)
    queues = list(rows[: QUEUES_PAGE + 1])
    more = len(queues) > QUEUES_PAGE
    queues = queues[:QUEUES_PAGE]
    # The cost line counts every watched queue, not only this page's.
    every = list(_queues(request)) if (more or after) else queues
    all_costs = polling_cost.for_queues(every)
    costs = {q.pk: all_costs[q.pk] for q in queues}
    for queue in queues:
        queue.cost = costs[queue.pk]
    context = {
        "queues": queues,
        "next_after": queues[-1].url if more else "",
        "after": after,
        "watched": len(every),
        "cost": polling_cost.total(all_costs.values()),
        "price_per_million": polling_cost.SQS_PRICE_PER_MILLION_REQUESTS,
        "poll_interval": settings.POLL_INTERVAL_SECONDS,
        "can_manage": permissions.can(request.user, permissions.MANAGE_QUEUES),
        "form": form or WatchForm(),
        "discovered": discovery.latest(request.environment),
    }
    return render(request, "invocations/queues.html", context, status=status)


def _row(request, queue, note=""):
    queue.cost = polling_cost.for_queues([queue])[queue.pk]
    context = {
        "q": queue,
        "can_manage": permissions.can(request.user, permissions.MANAGE_QUEUES),
        "note": note,
        "poll_interval": settings.POLL_INTERVAL_SECONDS,
    }
    return render(request, "invocations/partials/queue_row.html", context)


@require_GET
@edge.require(permissions.VIEW)
def queue_list(request):
    return _page(request)


@require_GET
@edge.require(permissions.VIEW)
def queue_depth(request, pk):
    """The approximate depth of one queue, a table cell loaded after the page (one AWS call)."""
    queue = get_object_or_404(_queues(request), pk=pk)
    depth, error = queues.depth(queue)
    return render(
        request, "invocations/partials/queue_depth.html", {"depth": depth, "error": error}
    )


@require_POST
@edge.require(permissions.MANAGE_QUEUES)
def queue_watch(request):
    form = WatchForm(request.POST)
    if form.is_valid():
        problem = queues.problem_with(request.environment, form.cleaned_data["url"])
        if problem:
            form.add_error("url", problem)
    if form.is_valid():
        data = form.cleaned_data
        try:
            queue, _created = queues.watch(
                request.environment,
                data["url"],
                data["kind"],
                data["function"],
                actor=actor_of(request),
            )
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                form.add_error(None, f"{name}: {' '.join(problems)}")
    if not form.is_valid():
        return _page(request, form=form, status=400)
    messages.success(request, f"Watching {queue.name}.")
    return redirect("queues")


@require_POST
@edge.require(permissions.MANAGE_QUEUES)
def queue_toggle(request, pk):
    """Enable or disable polling of a queue (disabling is how a queue is unwatched: its records
    stay). htmx swaps only the row."""
    try:
        queue = queues.toggle(pk, _queues(request), actor=actor_of(request))
    except WatchedQueue.DoesNotExist:
        raise Http404("No such queue.") from None
    if request.htmx:
        return _row(request, queue)
    return redirect("queues")


@require_POST
@edge.require(permissions.MANAGE_QUEUES)
def queue_poll(request, pk):
    """Poll now: a task for this queue, enqueued once the audit event is committed."""
    queue = get_object_or_404(_queues(request), pk=pk)
    if not queues.poll_now(queue, actor=actor_of(request)):
        note = "The task queue (Redis) did not answer: this poll was not sent. " + (
            "Beat polls the queue once Redis is back."
            if queue.enabled
            else "The queue is disabled: poll it again once Redis is back."
        )
    else:
        note = "Poll queued: the worker drains the queue now." + (
            "" if queue.enabled else " (The queue is disabled: only this poll runs.)"
        )
    if request.htmx:
        return _row(request, queue, note=note)
    messages.success(request, note)
    return redirect("queues")


@require_POST
@edge.require(permissions.MANAGE_QUEUES)
def queue_discover(request):
    """Discovery runs in the worker (many AWS calls for a large account); the page shows it
    running, then its result."""
    if discovery.request(request.environment, actor=actor_of(request)):
        messages.success(
            request,
            "Discovery started: the worker reads every function's configuration; "
            "the result appears below.",
        )
    else:
        messages.warning(
            request, "The task queue (Redis) did not answer: discovery was not started."
        )
    return redirect("queues")
