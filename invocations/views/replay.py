"""Replay: dry run (GET, changes nothing) → confirm (POST) → a batch page with progress.
And "send back to queue" for dead letters."""

import dataclasses

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from invocations.access import permissions
from invocations.forms.triage import RedriveForm, ReplayForm, ids_in
from invocations.ingest import redrive
from invocations.invoking import replay
from invocations.middleware import actor_of, open_in
from invocations.models import ExecutionRecord, FailedEvent, FailureGroup, ReplayBatch
from invocations.shared import poll_schedule
from invocations.shared.wording import count
from invocations.views import edge
from invocations.views.edge import page_or_fragment
from invocations.views.records import matching_records

PREVIEW = 20


def _joined(data):
    """Checkboxes send `records` once per record; the form takes them as one list."""
    data = data.copy()
    data["records"] = ",".join(data.getlist("records"))
    return data


def _selection(request, form: ReplayForm):
    """The records chosen (by id, or a group's unreplayed backlog) and the group, if any. The
    page is shown in their environment, whichever the switcher is on."""
    group = None
    visible = permissions.visible_environments(request.user)
    records = ExecutionRecord.objects.select_related("queue", "environment")
    if form.cleaned_data.get("group"):
        group = get_object_or_404(
            FailureGroup.objects.select_related("environment"),
            pk=form.cleaned_data["group"],
            environment__in=visible,
        )
        source = group.environment
        # One record per event not yet replayed: the report it is shown by.
        records = records.filter(
            pk__in=FailedEvent.objects.of_group(group).pending().values("primary_record_id")
        )
    elif form.cleaned_data.get("all"):
        # The Records list's filters, in the environment that list showed.
        params = QueryDict(form.cleaned_data.get("matching") or "")
        records = records.filter(pk__in=matching_records(request, params).values("pk"))
        source = request.environment
    elif form.cleaned_data.get("rest_of"):
        batch = get_object_or_404(
            ReplayBatch, pk=form.cleaned_data["rest_of"], environment__in=visible
        )
        group = batch.group
        records = records.filter(
            pk__in=batch.record_ids[batch.position :], environment=batch.environment_id
        )
        source = batch.environment
    else:
        records = records.filter(pk__in=form.record_ids(), environment__in=visible)
        first = records.order_by("id").select_related("environment").first()
        source = first.environment if first else request.environment
    open_in(request, source)
    return group, list(records.filter(environment=source).order_by("id")[:10_000])


def _target(request, form: ReplayForm, records, group):
    environment = form.cleaned_data.get("environment") or request.environment
    default_function = (
        group.function_name if group else (records[0].function_name if records else "")
    )
    function = form.cleaned_data.get("function") or default_function
    qualifier = form.cleaned_data.get("qualifier") or ""
    return environment, function, qualifier


def _confirmed(form, target_name: str) -> bool:
    """A protected environment's confirmation: the target's name typed, whatever the source
    record names (a dead letter may name no function at all; an empty name confirms nothing)."""
    return bool(target_name) and form.cleaned_data.get("confirm_name") == target_name


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _can_edit_payload(request) -> bool:
    # The edit box holds the payload raw, and an edit built from the redacted text would send
    # "[redacted]" to the function: editing is for people who may see payloads raw.
    return permissions.can(request.user, permissions.RAW_PAYLOADS)


def _back_to_plan(request):
    """The dry run again, with the selection and target of the refused form: never its CSRF
    token, typed confirmation or payload, which do not belong in a URL."""
    kept = request.POST.copy()
    for private in ("csrfmiddlewaretoken", "confirm_name", "payload"):
        kept.pop(private, None)
    return redirect(f"{_plan_url()}?{kept.urlencode()}")


@require_GET
@edge.require(permissions.REPLAY)
def replay_plan(request):
    """The dry run: how many, which payloads, which target. Nothing is changed."""
    form = ReplayForm(_joined(request.GET))
    if not form.is_valid():
        messages.error(request, "That replay selection is not valid.")
        return redirect("triage")
    data = form.cleaned_data
    if not (data.get("group") or data.get("rest_of") or data.get("all") or form.record_ids()):
        messages.error(request, "Select at least one record to replay.")
        back = request.GET.get("back", "")
        # ASCII digits only: the URL's <int:pk> takes nothing else ("²" is a digit to Python).
        ok = back.isascii() and back.isdigit()
        return redirect("group", pk=back) if ok else redirect("triage")
    group, records = _selection(request, form)
    environment, function, qualifier = _target(request, form, records, group)
    plan = replay.plan(
        records, environment, function, qualifier, override=form.cleaned_data.get("override", False)
    )
    initial = dict(form.cleaned_data, environment=environment, function=function)
    can_edit = _can_edit_payload(request)
    preview = plan.to_replay[:PREVIEW]
    if not can_edit:
        # The stored payload is replayed as stored: no raw edit box, no edit shown.
        initial.pop("payload", None)
    elif len(plan.to_replay) == 1:
        edited = form.cleaned_data.get("payload")
        if edited:
            # The dry run shows what will be sent: the edited payload, not the stored one.
            preview = [dataclasses.replace(preview[0], payload=edited)]
        else:
            initial["payload"] = plan.to_replay[0].payload
    dead_letters = [r for r in records if r.kind == ExecutionRecord.Kind.DLQ]
    return render(
        request,
        "invocations/replay_plan.html",
        {
            "plan": plan,
            "group": group,
            "preview": preview,
            "can_edit_payload": can_edit,
            "form": ReplayForm(initial=initial),
            "environments": permissions.visible_environments(request.user),
            "dead_letters": dead_letters,
            "redrive_form": RedriveForm(
                initial={
                    "records": ",".join(str(r.pk) for r in dead_letters),
                    # The queue that feeds the function, when its event source says so.
                    # A refused send comes back here with the URL that was typed.
                    "queue_url": (request.GET.get("redrive_url") or "")[:1000]
                    or (redrive.source_queue_url(dead_letters[0]) if dead_letters else ""),
                }
            ),
            "source_queue": redrive.source_queue_url(dead_letters[0]) if dead_letters else "",
        },
    )


@require_POST
@edge.require(permissions.REPLAY)
def replay_start(request):
    form = ReplayForm(_joined(request.POST))
    if not form.is_valid():
        messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("triage")
    if form.cleaned_data.get("payload", "").strip() and not _can_edit_payload(request):
        messages.error(
            request,
            "Editing a payload before replay needs the raw-payload permission; "
            "without it the stored payload is replayed as stored.",
        )
        return _back_to_plan(request)
    group, records = _selection(request, form)
    environment, function, qualifier = _target(request, form, records, group)
    if environment.protected and not _confirmed(form, function):
        messages.error(
            request,
            f"{environment.name} is protected: name the target function and type its name "
            f"({function or 'none given'}) to confirm the replay.",
        )
        return _back_to_plan(request)
    plan = replay.plan(
        records, environment, function, qualifier, override=form.cleaned_data.get("override", False)
    )
    if not plan.to_replay:
        messages.warning(request, "Nothing to replay: every selected record was skipped.")
        return _back_to_plan(request)
    payload = form.cleaned_data.get("payload", "") if len(plan.to_replay) == 1 else ""
    batch = replay.start(
        plan,
        actor_of(request),
        group=group,
        payload_override=payload,
        override=form.cleaned_data.get("override", False),
    )
    return redirect("replay-batch", pk=batch.pk)


def _plan_url():
    return reverse("replay-plan")


@require_GET
@edge.require(permissions.VIEW)
def replay_batch(request, pk):
    batch = get_object_or_404(
        ReplayBatch.objects.select_related("environment", "group"),
        pk=pk,
        environment__in=permissions.visible_environments(request.user),
    )
    open_in(request, batch.environment)
    context = {
        "batch": batch,
        "can_replay": permissions.can(request.user, permissions.REPLAY),
        "invocations": batch.invocations.order_by("-id")[:50],
        "remaining": batch.total - batch.position,
        "poll": None,
    }
    if not batch.is_finished:
        # At once, then backing off to once a second (shared/poll_schedule.py).
        context["poll"], context["poll_step"] = poll_schedule.next_poll(
            poll_schedule.step_of(request.GET)
        )
    # The fragment stops polling by itself: a finished batch renders without the trigger.
    return page_or_fragment(
        request,
        "invocations/replay_batch.html",
        "invocations/partials/replay_progress.html",
        context,
    )


@require_POST
@edge.require(permissions.REPLAY)
def replay_cancel(request, pk):
    batch = get_object_or_404(
        ReplayBatch, pk=pk, environment__in=permissions.visible_environments(request.user)
    )
    if replay.cancel(batch, actor_of(request)):
        messages.success(request, f"Replay #{batch.pk} cancelled.")
    else:
        messages.info(request, f"Replay #{batch.pk} had already finished.")
    return redirect("replay-batch", pk=pk)


@require_POST
@edge.require(permissions.REPLAY)
def redrive_records(request):
    form = RedriveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the URL of the queue to send the dead letters to.")
        return redirect("triage")
    ids = ids_in(form.cleaned_data["records"])
    records = list(
        ExecutionRecord.objects.filter(
            pk__in=ids,
            environment__in=permissions.visible_environments(request.user),
            kind=ExecutionRecord.Kind.DLQ,
        )
        .select_related("environment", "queue")
        .order_by("id")
    )
    env = records[0].environment if records else request.environment
    records = [r for r in records if r.environment_id == env.pk]
    queue_name = _queue_name(form.cleaned_data["queue_url"])
    if env.protected and not _confirmed(form, queue_name):
        messages.error(
            request, f"{env.name} is protected: type the queue name ({queue_name}) to confirm."
        )
        return redirect(_refused_back(request, records, form.cleaned_data["queue_url"]))
    if not records:
        messages.error(request, "None of the selected records is a dead letter.")
        return redirect("triage")
    try:
        redrive.check_target(records, env, form.cleaned_data["queue_url"])
    except redrive.RedriveRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(_refused_back(request, records, form.cleaned_data["queue_url"]))
    if redrive.request(records, env, form.cleaned_data["queue_url"], actor=actor_of(request)):
        messages.success(
            request,
            f"Sending {count(len(records), 'dead letter')} back to the queue in the worker; "
            "the result appears on this page.",
        )
    else:
        messages.warning(request, "The task queue (Redis) did not answer: nothing was sent.")
    return redirect("triage")


def _refused_back(request, records, queue_url: str) -> str:
    """After a refused send: the dry run it was asked from, with the URL that was typed, so
    that the person corrects it instead of starting again; else the dead letters' group."""
    back = edge.safe_next(request, "")
    if not back:
        return _back_to(records)
    path, _, query = back.partition("?")
    kept = QueryDict(query, mutable=True)
    kept["redrive_url"] = queue_url
    return f"{path}?{kept.urlencode()}"


def _back_to(records) -> str:
    """The group page of the dead letters, where the person came from; else triage."""
    group_id = records[0].failure_group_id if records else None
    return reverse("group", args=[group_id]) if group_id else reverse("triage")
