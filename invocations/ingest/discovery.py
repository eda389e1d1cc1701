"""Finding the queues to watch from the functions' own configuration.

Where Lambda sends what a function did:

- the asynchronous invoke config of every qualifier: OnSuccess / OnFailure destinations;
- `DeadLetterConfig.TargetArn` (an SQS queue or an SNS topic);
- event source mappings (Kinesis, DynamoDB Streams, Kafka): their OnFailure destination;
- an SQS event source mapping: the source queue's RedrivePolicy dead-letter queue, where SQS
  moves a message the function failed maxReceiveCount times.

An SQS target becomes a watched queue. An SNS topic or an EventBridge bus cannot be polled: we
look for queues already subscribed to it (SNS subscriptions, EventBridge rule targets) and watch
those, whose messages arrive wrapped in the SNS or EventBridge envelope that the parser unwraps.
A target with no queue behind it is listed with the exact steps to subscribe one. A Lambda
function or S3 bucket destination is listed as not ingested.

All AWS reads happen first, outside any transaction; then one transaction creates the rows and
the audit event. The Queues page's "Discover" button runs it in the worker (request() sends the
task; run() is its body) because an account with many functions takes many AWS calls; the page
shows the latest result, read back from its audit event (latest()).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import transaction

from invocations import aws
from invocations.access import audit
from invocations.access.actor import Actor
from invocations.models import AuditEvent, Environment, WatchedQueue
from invocations.ops import sending
from invocations.shared.wording import count

# Raised by discover() when the functions cannot be listed at all.
AwsError = aws.AwsError


@dataclass(frozen=True)
class Target:
    function: str
    # "OnSuccess", "OnFailure", "dead-letter", "event source mapping OnFailure",
    # "source queue's redrive DLQ"
    source: str
    arn: str
    kind: str  # the watched queue's kind: "destination" or "dlq"

    @property
    def service(self) -> str:
        parts = self.arn.split(":")
        return parts[2] if len(parts) > 2 else ""

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


@dataclass
class NotPollable:
    target: Target
    reason: str
    steps: list[str]


@dataclass
class Discovery:
    added: list[WatchedQueue] = field(default_factory=list)
    already: list[WatchedQueue] = field(default_factory=list)
    not_pollable: list[NotPollable] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (
            f"{count(len(self.added), 'queue')} added, {len(self.already)} already watched, "
            f"{count(len(self.not_pollable), 'target')} not pollable directly"
            + (f", {count(len(self.errors), 'error')}" if self.errors else "")
        )


def targets(environment: Environment) -> tuple[list[Target], list[str]]:
    """Every destination and dead-letter target of every function; and per-function errors."""
    found: list[Target] = []
    errors: list[str] = []
    functions = aws.list_functions(environment)
    # The account's mappings in one paged listing; a source queue's DLQ read once.
    try:
        mappings = aws.event_source_mappings_by_function(environment)
    except aws.AwsError as error:
        mappings = {}
        errors.append(f"event source mappings: {error}")
    redrive: dict[str, str] = {}
    for config in functions:
        name = config["FunctionName"]
        dead_letter = (config.get("DeadLetterConfig") or {}).get("TargetArn")
        if dead_letter:
            found.append(Target(name, "dead-letter", dead_letter, "dlq"))
        try:
            for invoke_config in aws.list_event_invoke_configs(environment, name):
                destinations = invoke_config.get("DestinationConfig") or {}
                source: Literal["OnSuccess", "OnFailure"]
                for source in ("OnSuccess", "OnFailure"):
                    arn = (destinations.get(source) or {}).get("Destination")
                    if arn:
                        found.append(Target(name, source, arn, "destination"))
            for mapping in mappings.get(name, []):
                if mapping.get("on_failure"):
                    found.append(
                        Target(name, "event source mapping OnFailure", mapping["on_failure"], "dlq")
                    )
                if mapping.get("source", "").startswith("arn:aws:sqs:"):
                    # An SQS-fed function's failures end in its source queue's own DLQ, which
                    # SQS (not Lambda) fills after maxReceiveCount receives.
                    source_arn = mapping["source"]
                    if source_arn not in redrive:
                        redrive[source_arn] = aws.redrive_dead_letter_arn(environment, source_arn)
                    dead_letter_arn = redrive[source_arn]
                    if dead_letter_arn:
                        found.append(
                            Target(name, "source queue's redrive DLQ", dead_letter_arn, "dlq")
                        )
        except aws.AwsError as error:
            errors.append(f"{name}: {error}")
    # One function can name the same target for two qualifiers.
    return list(dict.fromkeys(found)), errors


def discover(
    environment: Environment,
    *,
    actor: Actor,
) -> Discovery:
    """Watch every SQS queue the functions send to; audited as one event."""
    result = Discovery()
    found, result.errors = targets(environment)
    to_watch: dict[str, tuple[str, str]] = {}  # url -> (kind, function)
    for target in found:
        try:
            queue_arns, reason = _queues_behind(environment, target)
        except aws.AwsError as error:
            result.errors.append(f"{target.function} {target.source} {target.arn}: {error}")
            continue
        if not queue_arns:
            result.not_pollable.append(NotPollable(target, reason, subscribe_steps(target)))
            continue
        for queue_arn in queue_arns:
            try:
                url = aws.queue_url_from_arn(environment, queue_arn)
            except aws.AwsError as error:
                result.errors.append(f"{target.function}: {queue_arn}: {error}")
                continue
            to_watch.setdefault(url, (target.kind, target.function))

    with transaction.atomic():
        for url, (kind, function) in to_watch.items():
            queue, created = WatchedQueue.objects.get_or_create(
                environment=environment, url=url, defaults={"kind": kind, "function_name": function}
            )
            (result.added if created else result.already).append(queue)
        audit.record(
            "queue.discover",
            actor=actor,
            target=environment,
            summary=f"Discovered queues in {environment.name}: {result.summary}",
            details={
                "environment": environment.name,
                "summary": result.summary,
                "added": [queue.url for queue in result.added],
                "already": [queue.url for queue in result.already],
                "not_pollable": [item.target.arn for item in result.not_pollable],
                "explained": [
                    {
                        "target": {
                            "function": item.target.function,
                            "source": item.target.source,
                            "arn": item.target.arn,
                        },
                        "reason": item.reason,
                        "steps": item.steps,
                    }
                    for item in result.not_pollable
                ],
                "errors": result.errors,
            },
        )
    return result


def request(environment: Environment, *, actor: Actor) -> bool:
    """The "Discover" button: an audit event, and the discovery sent to the worker once it is
    committed. False when the broker did not take it."""
    refused: list[Exception] = []
    with transaction.atomic(durable=True):
        audit.record(
            "queue.discover.request",
            actor=actor,
            target=environment,
            summary=f"Asked for a discovery of the queues of {environment.name}",
        )
        sending.send_on_commit(
            sending.DISCOVER_QUEUES, environment.pk, actor.user_id, on_failure=refused.append
        )
    return not refused


def run(environment_id: int, user_id: int | None) -> Discovery | None:
    """The worker's side of the button. A failure to list the functions is audited too, so the
    page can say why nothing was found."""
    from django.contrib.auth import get_user_model

    environment = Environment.objects.filter(pk=environment_id).first()
    if environment is None:
        return None
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        return discover(environment, actor=Actor.person(user))
    except AwsError as error:
        with transaction.atomic():
            audit.record(
                "queue.discover",
                actor=Actor.person(user),
                target=environment,
                summary=f"Discovery in {environment.name} failed: {error}",
                details={
                    "environment": environment.name,
                    "summary": "nothing discovered",
                    "errors": [f"Could not list the functions: {error}"],
                },
            )
        return None


def latest(environment: Environment) -> dict[str, Any] | None:
    """The Queues page's view of the last discovery: running (asked for, no result yet) or its
    result as audited. None when nobody asked for one."""
    events = AuditEvent.objects.filter(
        target_type="environment",
        target_id=str(environment.pk),
        action__in=["queue.discover", "queue.discover.request"],
    ).order_by("-id")
    event = events.first()
    if event is None:
        return None
    if event.action == "queue.discover.request":
        return {"running": True, "at": event.created_at}
    details = event.details or {}
    return {
        "running": False,
        "at": event.created_at,
        "summary": details.get("summary", event.summary),
        "added": [{"name": url.rsplit("/", 1)[-1]} for url in details.get("added", [])],
        "errors": details.get("errors", []),
        "not_pollable": details.get("explained", []),
    }


def _queues_behind(environment: Environment, target: Target) -> tuple[list[str], str]:
    """(queue ARNs that receive what `target` gets, why there are none)."""
    if target.service == "sqs":
        return [target.arn], ""
    if target.service == "sns":
        queues = [
            item["queue_arn"] for item in aws.topic_queue_subscriptions(environment, target.arn)
        ]
        return queues, "an SNS topic with no SQS subscription"
    if target.service == "events":
        return aws.bus_queue_targets(environment, target.arn), (
            "an EventBridge bus with no rule sending to an SQS queue"
        )
    if target.service == "lambda":
        return [], "a Lambda function: it receives the records itself; nothing to poll"
    if target.service == "s3":
        return [], "an S3 bucket: records are written as objects; not ingested"
    return [], f"an unknown target type ({target.service or 'not an ARN'})"


def subscribe_steps(target: Target) -> list[str]:
    """The exact commands to put an SQS queue behind an SNS topic or an EventBridge bus."""
    queue = f"{target.function}-{'dlq' if target.kind == 'dlq' else 'records'}"
    parts = target.arn.split(":")
    region = parts[3] if len(parts) > 4 else "REGION"
    account = parts[4] if len(parts) > 4 else "ACCOUNT"
    queue_arn = f"arn:aws:sqs:{region}:{account}:{queue}"
    queue_url = f"https://sqs.{region}.amazonaws.com/{account}/{queue}"
    if target.service == "sns":
        policy = (
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage",'
            f'"Resource":"{queue_arn}","Condition":{{"ArnEquals":{{"aws:SourceArn":"{target.arn}"}}}}}}]}}'
        )
        return [
            f"aws sqs create-queue --queue-name {queue}",
            f"aws sqs set-queue-attributes --queue-url {queue_url} --attributes "
            f"'{{\"Policy\":{_quoted(policy)}}}'",
            f"aws sns subscribe --topic-arn {target.arn} --protocol sqs "
            f"--notification-endpoint {queue_arn}",
            f"python manage.py watch_queue {queue_url} --kind {target.kind} "
            f"--function {target.function}   (or press Discover again)",
        ]
    if target.service == "events":
        bus = target.arn.rsplit("/", 1)[-1]
        pattern = (
            '{"source":["lambda"],"detail-type":[{"prefix":"Lambda Function Invocation Result"}]}'
        )
        policy = (
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Principal":{"Service":"events.amazonaws.com"},"Action":"sqs:SendMessage",'
            f'"Resource":"{queue_arn}"}}]}}'
        )
        return [
            f"aws sqs create-queue --queue-name {queue}",
            f"aws sqs set-queue-attributes --queue-url {queue_url} --attributes "
            f"'{{\"Policy\":{_quoted(policy)}}}'",
            f"aws events put-rule --event-bus-name {bus} --name {target.function}-results "
            f"--event-pattern '{pattern}'",
            f"aws events put-targets --event-bus-name {bus} --rule {target.function}-results "
            f"--targets Id=triage,Arn={queue_arn}",
            f"python manage.py watch_queue {queue_url} --kind {target.kind} "
            f"--function {target.function}   (or press Discover again)",
        ]
    return []


def _quoted(text: str) -> str:
    """A JSON string literal of `text` (the Policy attribute is JSON inside JSON)."""
    return json.dumps(text)
