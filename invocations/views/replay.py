"""Replay: dry run (GET, changes nothing) → confirm (POST) → a batch page with progress.
And "send back to queue" for dead letters."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from invocations import access, grouping, redrive, replay
from invocations.models import Environment, ExecutionRecord, FailureGroup, ReplayBatch
from invocations.triage_forms import RedriveForm, ReplayForm
from invocations.views.htmx import page_or_fragment

PREVIEW = 20


def _joined(data):
    """Checkboxes send `records` once per record; the form takes them as one list."""
    data = data.copy()
    data["records"] = ",".join(data.getlist("records"))
    return data


def _selection(request, form: ReplayForm):
    """The records chosen (by id, or a group's unreplayed backlog) and the group, if any."""
    group = None
    records = ExecutionRecord.objects.filter(environment=request.environment).select_related(
        "queue", "environment"
    )
    if form.cleaned_data.get("group"):
        group = get_object_or_404(
            FailureGroup, pk=form.cleaned_data["group"], environment=request.environment
        )
        records = grouping.unreplayed(records.filter(failure_group=group))
    else:
        records = records.filter(pk__in=form.record_ids())
    return group, list(records.order_by("id")[:10_000])


def _target(request, form: ReplayForm, records, group):
    environment = form.cleaned_data.get("environment") or request.environment
    default_function = (
        group.function_name if group else (records[0].function_name if records else "")
    )
    function = form.cleaned_data.get("function") or default_function
    qualifier = form.cleaned_data.get("qualifier") or ""
    return environment, function, qualifier


@require_GET
@access.require(access.REPLAY)
def replay_plan(request):
    """The dry run: how many, which payloads, which target. Nothing is changed."""
    form = ReplayForm(_joined(request.GET))
    if not form.is_valid():
        messages.error(request, "That replay selection is not valid.")
        return redirect("triage")
    group, records = _selection(request, form)
    environment, function, qualifier = _target(request, form, records, group)
    plan = replay.plan(
        records, environment, function, qualifier, override=form.cleaned_data.get("override", False)
    )
    initial = dict(form.cleaned_data, environment=environment, function=function)
    if len(plan.to_replay) == 1 and not form.cleaned_data.get("payload"):
        initial["payload"] = plan.to_replay[0].payload
    dead_letters = [r for r in records if r.kind == ExecutionRecord.Kind.DLQ]
    return render(
        request,
        "invocations/replay_plan.html",
        {
            "plan": plan,
            "group": group,
            "preview": plan.to_replay[:PREVIEW],
            "form": ReplayForm(initial=initial),
            "environments": Environment.objects.all(),
            "dead_letters": dead_letters,
            "redrive_form": RedriveForm(
                initial={"records": ",".join(str(r.pk) for r in dead_letters)}
            ),
        },
    )


@require_POST
@access.require(access.REPLAY)
def replay_start(request):
    form = ReplayForm(_joined(request.POST))
    if not form.is_valid():
        messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("triage")
    group, records = _selection(request, form)
    environment, function, qualifier = _target(request, form, records, group)
    if environment.protected and form.cleaned_data.get("confirm_name") != function:
        messages.error(
            request,
            f"{environment.name} is protected: type the function name "
            f"({function}) to confirm the replay.",
        )
        return redirect(f"{_plan_url()}?{request.POST.urlencode()}")
    plan = replay.plan(
        records, environment, function, qualifier, override=form.cleaned_data.get("override", False)
    )
    if not plan.to_replay:
        messages.warning(request, "Nothing to replay: every selected record was skipped.")
        return redirect(f"{_plan_url()}?{request.POST.urlencode()}")
    payload = form.cleaned_data.get("payload", "") if len(plan.to_replay) == 1 else ""
    batch = replay.start(
        plan,
        request,
        group=group,
        payload_override=payload,
        override=form.cleaned_data.get("override", False),
    )
    return redirect("replay-batch", pk=batch.pk)


def _plan_url():
    from django.urls import reverse

    return reverse("replay-plan")


@require_GET
@access.require(access.VIEW)
def replay_batch(request, pk):
    batch = get_object_or_404(ReplayBatch, pk=pk, environment__in=Environment.objects.all())
    context = {
        "batch": batch,
        "can_replay": access.can(request.user, access.REPLAY),
        "invocations": batch.invocations.order_by("-id")[:50],
    }
    # The fragment stops polling by itself: a finished batch renders without the trigger.
    return page_or_fragment(
        request,
        "invocations/replay_batch.html",
        "invocations/partials/replay_progress.html",
        context,
    )


@require_POST
@access.require(access.REPLAY)
def replay_cancel(request, pk):
    batch = get_object_or_404(ReplayBatch, pk=pk)
    if replay.cancel(batch, request):
        messages.success(request, f"Replay #{batch.pk} cancelled.")
    else:
        messages.info(request, f"Replay #{batch.pk} had already finished.")
    return redirect("replay-batch", pk=pk)


@require_POST
@access.require(access.REPLAY)
def redrive_records(request):
    form = RedriveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the URL of the queue to send the dead letters to.")
        return redirect("triage")
    ids = [int(p) for p in form.cleaned_data["records"].split(",") if p.strip().isdigit()]
    records = list(
        ExecutionRecord.objects.filter(
            pk__in=ids, environment=request.environment, kind=ExecutionRecord.Kind.DLQ
        ).order_by("id")
    )
    env = request.environment
    function = records[0].function_name if records else ""
    if env.protected and form.cleaned_data.get("confirm_name") != function:
        messages.error(
            request, f"{env.name} is protected: type the function name ({function}) to confirm."
        )
        return redirect("triage")
    if not records:
        messages.error(request, "None of the selected records is a dead letter.")
    elif redrive.request(records, env, form.cleaned_data["queue_url"], request=request):
        messages.success(
            request,
            f"Sending {len(records)} dead letters back to the queue in the worker; "
            "the result appears on this page.",
        )
    else:
        messages.warning(request, "The task queue (Redis) did not answer: nothing was sent.")
    return redirect("triage")
