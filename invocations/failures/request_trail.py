"""Everything the dashboard knows about one request ID: the invocation that made it (when the
dashboard did), every record of it (OnSuccess, OnFailure, dead letter), its failure groups, the
replays made from its records, and where the request itself came from (a replay of a record, a
re-run of an invocation).

A request ID is unique within an AWS account and region, so it names one environment; when the
same ID is in several (a copied database, a test), the person's current environment wins, then
the first by name."""

from dataclasses import dataclass, field

from django.db.models import Q

from invocations.models import Environment, ExecutionRecord, FailedEvent, FailureGroup, Invocation

MAX_ROWS = 50
# Request IDs are UUIDs on AWS and longer strings elsewhere (moto); the column holds 64.
MAX_LENGTH = 64


@dataclass
class Trail:
    request_id: str
    environment: Environment
    invocations: list[Invocation] = field(default_factory=list)
    records: list[ExecutionRecord] = field(default_factory=list)
    groups: list[FailureGroup] = field(default_factory=list)
    replays: list[Invocation] = field(default_factory=list)
    # The failed events this request is (an async event, a failed sync invoke) or replays.
    events: list[FailedEvent] = field(default_factory=list)
    reruns: list[Invocation] = field(default_factory=list)

    @property
    def invocation(self) -> Invocation | None:
        return self.invocations[0] if self.invocations else None

    @property
    def log_record(self) -> ExecutionRecord | None:
        """The record whose look-up finds every attempt's log (any record of the request
        names the same attempts; one with a function name is needed to find its log group)."""
        return next((r for r in self.records if r.function_name), None) or (
            self.records[0] if self.records else None
        )


def _environment_of(request_id: str, environments, preferred: Environment | None):
    found = set(
        ExecutionRecord.objects.filter(environment__in=environments, request_id=request_id)
        .values_list("environment_id", flat=True)
        .distinct()
    )
    found |= set(
        Invocation.objects.filter(environment__in=environments, request_id=request_id)
        .values_list("environment_id", flat=True)
        .distinct()
    )
    if not found:
        return None
    if preferred is not None and preferred.pk in found:
        return preferred
    return Environment.objects.filter(pk__in=found).order_by("name").first()


def find(request_id: str, environments, preferred: Environment | None = None) -> Trail | None:
    """The trail of `request_id` in one of `environments` (those the person may see), or None
    when none of them knows it."""
    if not request_id or len(request_id) > MAX_LENGTH:
        return None
    environment = _environment_of(request_id, environments, preferred)
    if environment is None:
        return None
    trail = Trail(request_id=request_id, environment=environment)
    trail.invocations = list(
        Invocation.objects.filter(environment=environment, request_id=request_id)
        .select_related("requested_by", "replay_of", "rerun_of", "replay_batch", "failure_group")
        .defer("log_tail", "log_tail_redacted")
        .order_by("id")[:MAX_ROWS]
    )
    trail.records = list(
        ExecutionRecord.objects.filter(environment=environment, request_id=request_id)
        .select_related("queue", "failure_group")
        .defer("raw_body", "message_attributes", "batch_info")
        .order_by("id")[:MAX_ROWS]
    )
    groups = {r.failure_group for r in trail.records if r.failure_group is not None}
    groups |= {i.failure_group for i in trail.invocations if i.failure_group is not None}
    trail.groups = sorted(groups, key=lambda g: g.pk)
    trail.events = list(
        FailedEvent.objects.filter(
            Q(environment=environment, request_id=request_id)
            | Q(replays__in=[i.pk for i in trail.invocations])
        )
        .select_related("group")
        .distinct()
        .order_by("id")[:MAX_ROWS]
    )
    trail.replays = list(
        Invocation.objects.filter(replay_of__in=[r.pk for r in trail.records])
        .select_related("replay_of", "replay_batch", "requested_by", "environment")
        .defer(*Invocation.BIG_FIELDS)
        .order_by("id")[:MAX_ROWS]
    )
    trail.reruns = list(
        Invocation.objects.filter(rerun_of__in=[i.pk for i in trail.invocations])
        .select_related("requested_by")
        .defer(*Invocation.BIG_FIELDS)
        .order_by("id")[:MAX_ROWS]
    )
    return trail
