"""Which features work with an environment's credentials, and which actions are missing.

Each action is proven by the cheapest call that uses it and changes nothing: list one function,
a DryRun invoke (Lambda checks the permission and runs nothing), a log filter and a metric query
over the last minutes, a delete and a visibility change of a receipt handle that does not exist
(SQS refuses the entry, not the call, when the permission is there), a topic that does not
exist. Any answer but AccessDenied proves the permission. What no harmless call can prove (a
receive counts against a message's receives, a send sends, a rule's targets need a rule) is
asked of IAM with iam:SimulatePrincipalPolicy, on the resource the dashboard would use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from invocations import aws
from invocations.aws.permissions import FEATURES, Feature
from invocations.models import Environment, Function, WatchedQueue

# A receipt handle no message has: deleting or releasing it proves the permission.
NO_SUCH_HANDLE = "lambda-triage-permission-check"
NO_SUCH_TOPIC = "lambda-triage-permission-check"

ALLOWED, MISSING, UNVERIFIED = "allowed", "missing", "not verified"


@dataclass
class FeatureResult:
    feature: Feature
    actions: dict[str, str] = field(default_factory=dict)  # action -> ALLOWED / MISSING / …
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        return [action for action, state in self.actions.items() if state == MISSING]

    @property
    def unverified(self) -> list[str]:
        return [action for action, state in self.actions.items() if state == UNVERIFIED]

    @property
    def works(self) -> bool:
        return not self.missing


@dataclass
class Report:
    environment: str
    caller: str = ""
    error: str = ""  # AWS could not be asked at all
    features: list[FeatureResult] = field(default_factory=list)

    @property
    def works(self) -> bool:
        return not self.error and all(result.works for result in self.features)

    @property
    def missing(self) -> list[str]:
        return [action for result in self.features for action in result.missing]


@dataclass(frozen=True)
class _Context:
    function: str
    queue_url: str
    queue_arn: str
    region: str
    account: str


def _context(environment: Environment, caller: str) -> _Context:
    account = caller.split(":")[4] if caller.count(":") >= 5 else ""
    # A function people may use here: the policy may be narrowed to those.
    names = Function.objects.filter(environment=environment, present=True).order_by("name")
    function = next(
        (name for name in names.values_list("name", flat=True) if environment.allows(name)), ""
    )
    queue = (
        WatchedQueue.objects.filter(environment=environment, enabled=True).order_by("pk").first()
    )
    queue_url = queue.url if queue else ""
    queue_arn = ""
    if queue_url:
        parts = queue_url.rstrip("/").split("/")
        queue_arn = f"arn:aws:sqs:{environment.region}:{parts[-2]}:{parts[-1]}"
    return _Context(function, queue_url, queue_arn, environment.region, account)


def _probes(environment: Environment, ctx: _Context) -> dict[str, Callable[[], object]]:
    """action -> the harmless call that proves it; only those the context allows."""
    env, fn = environment, ctx.function
    now = datetime.now(UTC)
    probes: dict[str, Callable[[], object]] = {
        "lambda:ListFunctions": lambda: aws.first_function_name(env),
        "cloudwatch:GetMetricData": lambda: aws.get_metric_data(
            env,
            [
                aws.MetricQuery(
                    "check", "AWS/Lambda", "Invocations", (("FunctionName", fn),), "Sum", 300
                )
            ],
            now - timedelta(minutes=5),
            now,
        ),
        "events:ListRules": lambda: aws.bus_queue_targets(env, "default"),
    }
    if ctx.account:
        topic = f"arn:aws:sns:{ctx.region}:{ctx.account}:{NO_SUCH_TOPIC}"
        probes["sns:ListSubscriptionsByTopic"] = lambda: aws.topic_queue_subscriptions(env, topic)
    if fn:
        probes |= {
            "lambda:ListVersionsByFunction": lambda: aws.list_versions(env, fn),
            "lambda:ListAliases": lambda: aws.list_aliases(env, fn),
            "lambda:ListEventSourceMappings": lambda: aws.list_event_source_mappings(env, fn),
            "lambda:GetFunctionConcurrency": lambda: aws.get_function_concurrency(env, fn),
            "lambda:GetFunctionEventInvokeConfig": lambda: aws.get_event_invoke_config(env, fn),
            "lambda:ListFunctionEventInvokeConfigs": lambda: aws.list_event_invoke_configs(env, fn),
            "lambda:InvokeFunction": lambda: aws.invoke_dry_run(env, fn),
            "logs:FilterLogEvents": lambda: aws.filter_log_events(
                env, f"/aws/lambda/{fn}", "", int(time.time() * 1000) - 60_000, 1, 1
            ),
        }
    if ctx.queue_url:
        fake = [{"ReceiptHandle": NO_SUCH_HANDLE, "MessageId": NO_SUCH_HANDLE}]
        probes |= {
            "sqs:GetQueueUrl": lambda: aws.queue_url_from_arn(env, ctx.queue_arn),
            "sqs:GetQueueAttributes": lambda: aws.visibility_timeout(env, ctx.queue_url),
            "sqs:DeleteMessage": lambda: aws.delete_messages(env, ctx.queue_url, fake),
            "sqs:ChangeMessageVisibility": lambda: aws.release_messages(env, ctx.queue_url, fake),
        }
    return probes


def _resource(action: str, ctx: _Context) -> str:
    """The resource the dashboard would use the action on, for IAM's simulation."""
    if action.startswith("sqs:") and ctx.queue_arn:
        return ctx.queue_arn
    if action.startswith("lambda:") and ctx.function and ctx.account:
        return f"arn:aws:lambda:{ctx.region}:{ctx.account}:function:{ctx.function}"
    return "*"


def check(environment: Environment) -> Report:
    """Ask AWS, as `environment`'s credentials, what each feature can do. Changes nothing."""
    report = Report(environment.name)
    try:
        report.caller = aws.caller_arn(environment)
    except aws.AwsError as error:
        report.error = str(error)
        return report
    ctx = _context(environment, report.caller)
    probes = _probes(environment, ctx)
    states: dict[str, str] = {}
    for action, probe in probes.items():
        try:
            probe()
        except aws.AwsError as error:
            if error.access_denied:
                states[action] = MISSING
                continue
            # Not found, an invalid handle: the permission was there. Anything else
            # (unreachable, throttled) leaves the action unproven, for IAM to answer.
            if error.code in {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"}:
                report.error = str(error)
                return report
            if error.status is None or error.status >= 500 or error.status == 429:
                continue
        states[action] = ALLOWED

    # What no call proved: ask IAM, grouped by resource.
    unproven = [a for feature in FEATURES for a in feature.actions if a not in states]
    simulation_note = ""
    principal = aws.principal_arn(report.caller)
    by_resource: dict[str, list[str]] = {}
    for action in unproven:
        by_resource.setdefault(_resource(action, ctx), []).append(action)
    for resource, actions in by_resource.items():
        try:
            decisions = aws.simulate(environment, principal, actions, resource)
        except aws.AwsError as error:
            if error.access_denied:
                states["iam:SimulatePrincipalPolicy"] = MISSING
            simulation_note = f"IAM could not be asked ({error})"
            break
        states["iam:SimulatePrincipalPolicy"] = ALLOWED
        for action, decision in decisions.items():
            states.setdefault(action, ALLOWED if decision == "allowed" else MISSING)

    for feature in FEATURES:
        result = FeatureResult(feature)
        for action in feature.actions:
            result.actions[action] = states.get(action, UNVERIFIED)
        if result.unverified and simulation_note:
            result.notes.append(simulation_note)
        if not ctx.function and feature.sid in {"ReadInventory", "Invoke", "ReadLogs"}:
            result.notes.append("no function in the inventory yet to try the calls on")
        if not ctx.queue_url and feature.sid in {"IngestWatchedQueues", "SendBackToQueue"}:
            result.notes.append("no watched queue yet: IAM was asked about every queue (*)")
        report.features.append(result)
    return report
