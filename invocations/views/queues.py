"""The queues page: what is watched, how deep it is, when it was last polled and what went wrong;
watch, enable or disable, poll now, and discover queues from the functions' configuration."""

from django import forms
from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from invocations import access, audit, aws, discovery, queue_depths, sending, tasks
from invocations.access import require
from invocations.models import WatchedQueue


class WatchForm(forms.Form):
    url = forms.URLField(max_length=500, label="Queue URL", assume_scheme="https")
    kind = forms.ChoiceField(choices=WatchedQueue.Kind.choices)
    function = forms.CharField(
        required=False, max_length=140, help_text="The function it serves (needed for a DLQ)."
    )


def _queues(request):
    return WatchedQueue.objects.filter(environment=request.environment)


def _page(request, *, form=None, discovered=None, status=200):
    context = {
        "queues": _queues(request),
        "can_manage": access.can(request.user, access.MANAGE_QUEUES),
        "form": form or WatchForm(),
        "discovered": discovered,
    }
    return render(request, "invocations/queues.html", context, status=status)


def _row(request, queue, note=""):
    context = {
        "q": queue,
        "can_manage": access.can(request.user, access.MANAGE_QUEUES),
        "note": note,
    }
    return render(request, "invocations/partials/queue_row.html", context)


@require(access.VIEW)
def queue_list(request):
    return _page(request)


@require(access.VIEW)
def queue_depth(request, pk):
    """The approximate depth of one queue, a table cell loaded after the page (one AWS call)."""
    queue = get_object_or_404(_queues(request), pk=pk)
    try:
        depth, error = aws.queue_depth(queue.environment, queue.url), ""
    except aws.AwsError as failure:
        depth, error = None, f"{failure.code}: {failure.message}"
    else:
        queue_depths.store(queue, depth)
    return render(
        request, "invocations/partials/queue_depth.html", {"depth": depth, "error": error}
    )


@require_POST
@require(access.MANAGE_QUEUES)
def queue_watch(request):
    form = WatchForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    data = form.cleaned_data
    with transaction.atomic():
        queue, created = WatchedQueue.objects.update_or_create(
            environment=request.environment,
            url=data["url"],
            defaults={"kind": data["kind"], "function_name": data["function"], "enabled": True},
        )
        audit.record(
            "queue.watch",
            request=request,
            target=queue,
            summary=f"{'Watched' if created else 'Updated'} queue {queue.name} ({queue.kind})",
            details={"url": queue.url, "kind": queue.kind, "function": queue.function_name},
        )
    messages.success(request, f"Watching {queue.name}.")
    return redirect("queues")


@require_POST
@require(access.MANAGE_QUEUES)
def queue_toggle(request, pk):
    """Enable or disable polling of a queue (disabling is how a queue is unwatched: its records
    stay). htmx swaps only the row."""
    with transaction.atomic():
        queue = get_object_or_404(_queues(request).select_for_update(), pk=pk)
        queue.enabled = not queue.enabled
        queue.save(update_fields=["enabled"])
        audit.record(
            "queue.enable" if queue.enabled else "queue.disable",
            request=request,
            target=queue,
            summary=f"{'Enabled' if queue.enabled else 'Disabled'} polling of {queue.name}",
        )
    if request.htmx:
        return _row(request, queue)
    return redirect("queues")


@require_POST
@require(access.MANAGE_QUEUES)
def queue_poll(request, pk):
    """Poll now: a task for this queue, enqueued once the audit event is committed."""
    refused = []
    with transaction.atomic():
        queue = get_object_or_404(_queues(request), pk=pk)
        audit.record("queue.poll", request=request, target=queue, summary=f"Polled {queue.name}")
        # Beat polls every enabled queue anyway: a broker outage only delays it.
        sending.send_on_commit(tasks.poll_queue, queue.pk, on_failure=refused.append)
    if refused:
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
@require(access.MANAGE_QUEUES)
def queue_discover(request):
    """Read the functions' destinations and DLQs (AWS reads, before any transaction) and watch
    their queues; the page then lists what was found and what cannot be polled directly."""
    try:
        result = discovery.discover(request.environment, request=request)
    except aws.AwsError as error:
        messages.error(request, f"Could not list the functions: {error.code}: {error.message}")
        return redirect("queues")
    messages.success(request, f"Discovery: {result.summary}.")
    return _page(request, discovered=result)
