"""IAM and STS: who the credentials are, and what IAM says they may do (the permission check)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from invocations.aws import clients

if TYPE_CHECKING:
    from invocations.models import Environment


def caller_arn(environment: Environment) -> str:
    """The ARN the credentials sign as (GetCallerIdentity, which needs no permission)."""
    return clients.call(clients.client(environment, "sts").get_caller_identity)["Arn"]


def principal_arn(caller: str) -> str:
    """The IAM principal behind a caller ARN: an assumed role's session
    (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION) is simulated as its role."""
    parts = caller.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return caller


def simulate(
    environment: Environment, principal: str, actions: Sequence[str], resource: str
) -> dict[str, str]:
    """What IAM decides for `principal` doing each of `actions` on `resource`: {action:
    "allowed" | "implicitDeny" | "explicitDeny"} (SimulatePrincipalPolicy, all pages)."""
    iam: Any = clients.client(environment, "iam")
    paginator = iam.get_paginator("simulate_principal_policy")
    pages = paginator.paginate(
        PolicySourceArn=principal, ActionNames=list(actions), ResourceArns=[resource]
    )
    return {
        result["EvalActionName"]: result["EvalDecision"]
        for page in clients.pages(pages)
        for result in page.get("EvaluationResults", [])
    }
