"""The IAM actions each feature of the dashboard needs: the source of docs/iam-policy.json (a
test keeps the two equal, and another keeps them equal to the calls the code makes), of the
permission check, and of the hint an AccessDenied answer carries on a page.

One statement per feature. Replay invokes functions, so it is the Invoke statement; sending a
dead letter back to its queue is its own statement (sqs:SendMessage), since a team may want to
replay without ever writing to a queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POLICY_PATH = "docs/iam-policy.json"


@dataclass(frozen=True)
class Feature:
    sid: str  # the statement's Sid in docs/iam-policy.json
    title: str  # what the dashboard calls it, on the Health page and in check_aws
    actions: tuple[str, ...]


FEATURES: tuple[Feature, ...] = (
    Feature(
        "ReadInventory",
        "Functions inventory",
        (
            "lambda:ListFunctions",
            "lambda:ListVersionsByFunction",
            "lambda:ListAliases",
            "lambda:ListEventSourceMappings",
            "lambda:GetFunctionConcurrency",
            "lambda:GetFunctionEventInvokeConfig",
        ),
    ),
    Feature("ReadLogs", "Logs", ("logs:FilterLogEvents",)),
    Feature("ReadMetrics", "Monitor (metrics)", ("cloudwatch:GetMetricData",)),
    Feature("Invoke", "Invoke and replay", ("lambda:InvokeFunction",)),
    Feature(
        "DiscoverQueues",
        "Queue discovery",
        (
            "lambda:ListFunctionEventInvokeConfigs",
            "sns:ListSubscriptionsByTopic",
            "events:ListRules",
            "events:ListTargetsByRule",
        ),
    ),
    Feature(
        "IngestWatchedQueues",
        "Polling watched queues",
        (
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
        ),
    ),
    Feature("SendBackToQueue", "Send back to queue", ("sqs:SendMessage",)),
    # The permission check asks IAM about the actions it cannot try without changing anything
    # (a receive counts against a message's receives, a send sends). Narrow its resource to
    # the dashboard's own role or user.
    Feature("CheckPermissions", "Permission check", ("iam:SimulatePrincipalPolicy",)),
)

# What a call needs beyond the policy: sts:AssumeRole belongs to the principal that assumes an
# environment's role (its own policy, and the role's trust policy), not to the role itself;
# sts:GetCallerIdentity needs no permission.
NOT_IN_POLICY = frozenset({"sts:AssumeRole", "sts:GetCallerIdentity"})


# The codes AWS refuses a call with for want of a permission (SNS says AuthorizationError).
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "AuthorizationError", "AuthorizationErrorException"}
)
# AWS's wording: "User: ARN is not authorized to perform: ACTION on resource: ARN because ...".
_REFUSAL = re.compile(r"perform: (?P<action>[\w-]+:[\w-]+) on resource: (?P<resource>\S+)")


def denial(message: str) -> str:
    """What a page says for an AccessDenied answer: the action, the resource, and whether the
    shipped policy holds it ("AccessDenied: lambda:ListAliases on arn:… — the policy in
    docs/iam-policy.json has it")."""
    found = _REFUSAL.search(message)
    if found is None:
        return f"AccessDenied: {message} — {POLICY_PATH} lists the actions each feature needs"
    feature = feature_of(found["action"])
    if feature is None:
        return f"AccessDenied: {found['action']} on {found['resource']} — {message}"
    action = next(a for a in feature.actions if a.lower() == found["action"].lower())
    return (
        f"AccessDenied: {action} on {found['resource']} — the policy in {POLICY_PATH} has it "
        f"(statement {feature.sid})"
    )


def feature_of(action: str) -> Feature | None:
    """The first feature whose statement holds `action` (case-insensitive, as IAM reads it)."""
    wanted = action.lower()
    for feature in FEATURES:
        if any(held.lower() == wanted for held in feature.actions):
            return feature
    return None


def policy_document() -> dict[str, object]:
    """The policy as docs/iam-policy.json holds it: every resource `*`, narrowed by the
    operator (see the README's "Using real AWS")."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": feature.sid,
                "Effect": "Allow",
                "Action": list(feature.actions),
                "Resource": "*",
            }
            for feature in FEATURES
        ],
    }
