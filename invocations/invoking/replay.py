"""Sending failures back to a function. AWS's redrive API refuses queues whose source is Lambda,
so replaying a failure's original event is our job.

A replay is planned (the dry run changes nothing), confirmed into a ReplayBatch, and run by one
Celery task that invokes each record's request payload synchronously, at a rate limit, with a
circuit breaker, storing one Invocation per record (replay_of)."""

import json
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from invocations import aws
from invocations.access import audit
from invocations.access.actor import Actor
from invocations.failures import events, grouping, triage
from invocations.invoking import lifecycle
from invocations.models import (
    Environment,
    ExecutionRecord,
    FailureGroup,
    Function,
    Invocation,
    ReplayBatch,
)
from invocations.ops import sending
from invocations.shared.wording import count


@dataclass(frozen=True)
class PlannedRecord:
    record: ExecutionRecord
    payload: str
    skip_reason: str = ""
    # Another record of the same failed event (its OnFailure record or dead letter) is sent.
    twin_of: int | None = None

    @property
    def label(self) -> str:
        return f"Record #{self.record.pk}"

    @property
    def payload_redacted(self) -> str | None:
        """What people without the raw-payload permission see of the payload: the copy stored
        when the record arrived. None for a dead letter whose body is not JSON, which has no
        stored copy (its body is redacted as shown). An edited payload is only ever shown to
        people who may edit, who read payloads raw."""
        if self.record.request_payload is None:
            return None
        return json.dumps(self.record.request_payload_redacted)


@dataclass(frozen=True)
class Plan:
    environment: Environment
    function_name: str
    qualifier: str
    items: list[PlannedRecord]

    @property
    def to_replay(self) -> list[PlannedRecord]:
        """One record per failed event."""
        return [i for i in self.items if not i.skip_reason and i.twin_of is None]

    @property
    def skipped(self) -> list[PlannedRecord]:
        return [i for i in self.items if i.skip_reason]

    @property
    def twins(self) -> list[PlannedRecord]:
        """Records of an event that another record of the plan replays: not sent again, and
        not "skipped" either, since their event is replayed."""
        return [i for i in self.items if not i.skip_reason and i.twin_of is not None]


def payload_of(record: ExecutionRecord) -> str | None:
    """The event to send again: the destination record's requestPayload, or a DLQ message's
    body (which is the original event). None when Lambda dropped it or there never was one."""
    if record.kind == ExecutionRecord.Kind.DLQ:
        return (
            record.raw_body
            if record.request_payload is None
            else json.dumps(record.request_payload)
        )
    if record.request_payload is None:
        return None
    return json.dumps(record.request_payload)


def succeeded_record_ids(record_ids: Iterable[int]) -> set[int]:
    """Of `record_ids`, those whose failed event was replayed with success into its own function
    and environment, through any of its records (a replay elsewhere does not count)."""
    return set(
        ExecutionRecord.objects.filter(pk__in=list(record_ids))
        .filter(Q(event__replayed_ok=True) | Q(pk__in=grouping.replayed_in_place().values("pk")))
        .values_list("pk", flat=True)
    )


def replayed_elsewhere(record_ids: Collection[int]) -> dict[int, str]:
    """{record id: "hello in staging"} for records replayed with success only into another
    function or environment: shown on the group, and not counted as replayed."""
    in_place = succeeded_record_ids(record_ids)
    targets: dict[int, str] = {}
    for pk, function_name, environment in (
        Invocation.objects.filter(
            replay_of_id__in=list(record_ids), status=Invocation.Status.SUCCEEDED
        )
        .exclude(replay_of_id__in=in_place)
        .values_list("replay_of_id", "function_name", "environment__name")
    ):
        targets.setdefault(pk, f"{function_name} in {environment}")
    return targets


def is_elsewhere(batch_or_plan: ReplayBatch | Plan, group: FailureGroup) -> bool:
    """Does a replay target another function or environment than the group's?"""
    return (
        batch_or_plan.function_name != group.function_name
        or batch_or_plan.environment.pk != group.environment_id
    )


def plan(
    records: Iterable[ExecutionRecord],
    environment: Environment,
    function_name: str,
    qualifier: str = "",
    override: bool = False,
) -> Plan:
    """The dry run: what would be replayed, and what skipped and why. Changes nothing."""
    records = list(records)
    # Done when the record's event went through, by whichever of its records was replayed.
    done = succeeded_record_ids([r.pk for r in records])
    done_requests = set(
        grouping.replayed_in_place()
        .filter(request_id__in={r.request_id for r in records if r.request_id})
        .values_list("request_id", flat=True)
    )
    planned: dict[str, int] = {}  # request ID → the record that will replay it
    allowed = environment.allows(function_name)
    items = []
    for record in records:
        payload = payload_of(record)
        if not allowed:
            reason = f"{function_name} is not allowed in {environment.name}"
        elif payload is None:
            reason = "no request payload (Lambda dropped it, or the function never had one)"
        elif not override and (record.pk in done or record.request_id in done_requests):
            reason = "already replayed with success"
        elif record.request_id in planned:
            # A failed event often arrives twice (OnFailure record and dead letter): send it once.
            items.append(PlannedRecord(record, payload or "", "", planned[record.request_id]))
            continue
        else:
            reason = ""
            if record.request_id:
                planned[record.request_id] = record.pk
        items.append(PlannedRecord(record, payload or "", reason))
    return Plan(environment, function_name, qualifier, items)


def start(
    plan_: Plan,
    actor: Actor,
    group: FailureGroup | None = None,
    payload_override: str = "",
    rate_per_second: float = 5.0,
    breaker_threshold: int = 5,
    override: bool = False,
) -> ReplayBatch:
    """Confirm a plan: the batch row and its audit event, and the task once they commit."""

    ids = [i.record.pk for i in plan_.to_replay]
    with transaction.atomic(durable=True):
        batch = ReplayBatch.objects.create(
            environment=plan_.environment,
            group=group,
            created_by=actor.user,
            function_name=plan_.function_name,
            qualifier=plan_.qualifier,
            record_ids=ids,
            payload_override=payload_override if len(ids) == 1 else "",
            override_succeeded=override,
            rate_per_second=rate_per_second,
            breaker_threshold=breaker_threshold,
            skipped=0,
        )
        audit.record(
            "replay.start",
            actor=actor,
            target=batch,
            summary=f"replay of {count(len(ids), 'record')} to {plan_.function_name} "
            f"in {plan_.environment.name}",
            details={
                "records": ids,
                "qualifier": plan_.qualifier,
                "edited_payload": bool(batch.payload_override),
                "skipped": len(plan_.skipped),
            },
        )
        if group is not None:
            from invocations.models import GroupActivity

            text = f"replay #{batch.pk}: {count(len(ids), 'record')} to {plan_.function_name}"
            if is_elsewhere(plan_, group):
                text += (
                    f" in {plan_.environment.name}, another function or environment than "
                    "the group's: it does not resolve the group"
                )
            GroupActivity.objects.create(group=group, actor=actor.user, kind="replay", text=text)
        pk = batch.pk
        transaction.on_commit(lambda: send(pk))
    return batch


def send(pk: int) -> bool:
    """Send run_replay_batch(pk). When the broker does not answer, the batch stays `pending`,
    marked unsent (its page says so), and requeue_unsent() sends it once the broker is back."""

    def unsent(exc: Exception) -> None:
        ReplayBatch.objects.filter(pk=pk, status=ReplayBatch.Status.PENDING).update(unsent=True)

    return sending.send(sending.RUN_REPLAY_BATCH, pk, on_failure=unsent)


def requeue_unsent(limit: int = 100) -> int:
    """Send the batches whose task the broker did not take (beat)."""
    return sending.resend(
        ReplayBatch.objects.filter(status=ReplayBatch.Status.PENDING, unsent=True),
        {"unsent": False},
        send,
        limit,
    )


def cancel(batch: ReplayBatch, actor: Actor) -> bool:
    with transaction.atomic(durable=True):
        cancelled = ReplayBatch.objects.filter(
            pk=batch.pk, status__in=[ReplayBatch.Status.PENDING, ReplayBatch.Status.RUNNING]
        ).update(status=ReplayBatch.Status.CANCELLED, finished_at=timezone.now())
        if cancelled:
            audit.record(
                "replay.cancel",
                actor=actor,
                target=batch,
                summary=f"cancelled replay #{batch.pk}",
            )
    return bool(cancelled)


def _invoke_one(batch: ReplayBatch, record: ExecutionRecord, payload: str) -> Invocation:
    existing = Invocation.objects.filter(replay_batch=batch, replay_of=record).first()
    if existing is not None:
        # The task was delivered again after a lost worker: never invoke a record twice.
        if existing.status == Invocation.Status.RUNNING:
            lifecycle.run(existing.pk, existing.attempts)  # marks it failed: worker lost
            existing.refresh_from_db()
        return existing
    with transaction.atomic():
        invocation = Invocation.objects.create(
            environment=batch.environment,
            function=Function.objects.filter(
                environment=batch.environment, name=batch.function_name
            ).first(),
            function_name=batch.function_name,
            qualifier=batch.qualifier,
            invocation_type=Invocation.Type.REQUEST_RESPONSE,
            payload=payload,
            requested_by=batch.created_by,
            replay_of=record,
            replay_of_event_id=record.event_id,
            replay_batch=batch,
        )
        audit.record(
            "replay.record",
            actor=Actor.person(batch.created_by),
            target=invocation,
            summary=f"replayed record #{record.pk} to {batch.function_name}",
            details={"batch": batch.pk, "record": record.pk},
        )
    attempt = 1
    while True:
        retry = lifecycle.run(invocation.pk, attempt)
        if retry is None:
            break
        time.sleep(retry.delay)
        attempt = retry.attempt
    invocation.refresh_from_db()
    if invocation.is_done and invocation.replay_of_event_id:
        with transaction.atomic():
            event = events.record_replay(invocation)
            if event is not None:
                grouping.refresh_backlog(event.group)
    return invocation


def run_batch(batch_id: int) -> ReplayBatch:
    """The worker's side: replay each record in order until done, cancelled or the breaker
    trips. Safe to run again after a lost worker: it resumes where `position` says."""
    claimed = ReplayBatch.objects.filter(
        pk=batch_id, status__in=[ReplayBatch.Status.PENDING, ReplayBatch.Status.RUNNING]
    ).update(status=ReplayBatch.Status.RUNNING)
    batch = ReplayBatch.objects.get(pk=batch_id)
    if not claimed:
        return batch
    records = ExecutionRecord.objects.in_bulk(batch.record_ids)
    interval = 1.0 / batch.rate_per_second if batch.rate_per_second > 0 else 0.0
    done_ids = succeeded_record_ids(batch.record_ids) if not batch.override_succeeded else set()
    for position in range(batch.position, len(batch.record_ids)):
        batch.refresh_from_db(fields=["status"])
        if batch.status == ReplayBatch.Status.CANCELLED:
            break
        started = time.monotonic()
        record = records.get(batch.record_ids[position])
        payload = batch.payload_override or (payload_of(record) if record else None)
        outcome = "skipped"
        if record is None or payload is None or record.pk in done_ids:
            batch.skipped += 1
        else:
            try:
                invocation = _invoke_one(batch, record, payload)
                outcome = invocation.status
            except aws.AwsError:
                outcome = "failed"
            if outcome == Invocation.Status.SUCCEEDED:
                batch.succeeded += 1
                batch.consecutive_failures = 0
            else:
                batch.failed += 1
                batch.consecutive_failures += 1
        batch.position = position + 1
        fields = ["position", "succeeded", "failed", "skipped", "consecutive_failures"]
        if batch.consecutive_failures >= batch.breaker_threshold:
            batch.status = ReplayBatch.Status.STOPPED
            batch.finished_at = timezone.now()
            fields += ["status", "finished_at"]
        # Conditional: a cancel that arrived during the invoke wins.
        ReplayBatch.objects.filter(pk=batch.pk).exclude(status=ReplayBatch.Status.CANCELLED).update(
            **{f: getattr(batch, f) for f in fields}
        )
        if batch.status == ReplayBatch.Status.STOPPED:
            break
        if outcome != "skipped":
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    else:
        ReplayBatch.objects.filter(pk=batch.pk, status=ReplayBatch.Status.RUNNING).update(
            status=ReplayBatch.Status.DONE, finished_at=timezone.now()
        )
    batch.refresh_from_db()
    # One transaction per group: pollers are counting into these groups meanwhile, and a
    # transaction that held several of them would wait on theirs in another order.
    if batch.status == ReplayBatch.Status.CANCELLED:
        # What was replayed before the cancel is no longer backlog.
        for group in _groups_of(batch):
            with transaction.atomic():
                grouping.refresh_backlog(group)
    elif batch.status in {ReplayBatch.Status.DONE, ReplayBatch.Status.STOPPED}:
        with transaction.atomic():
            audit.record(
                "replay.finish",
                actor=Actor.person(batch.created_by),
                target=batch,
                summary=f"replay #{batch.pk} {batch.get_status_display()}: "
                f"{batch.succeeded} succeeded, {batch.failed} failed, {batch.skipped} skipped",
            )
        for group in _groups_of(batch):
            with transaction.atomic():
                triage.resolve_by_replay(group, batch.created_by)
    return batch


def _groups_of(batch: ReplayBatch) -> QuerySet[FailureGroup]:
    return (
        FailureGroup.objects.filter(events__records__pk__in=batch.record_ids)
        .distinct()
        .order_by("pk")
    )
