"""The shipped IAM policy is exactly what the code calls: every AWS operation made in
invocations/aws/ (a client method called or named, a paginator asked for by name) is an IAM
action the policy holds, and the policy holds nothing the code never calls."""

import ast
import json
from pathlib import Path

import botocore.session
from botocore import xform_name

from invocations.aws.permissions import FEATURES, NOT_IN_POLICY, POLICY_PATH, policy_document

ROOT = Path(__file__).resolve().parents[2]
AWS_PACKAGE = ROOT / "invocations" / "aws"

# Where the IAM action is not the operation's name.
ACTION_OF_OPERATION = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs:SendMessageBatch": "sqs:SendMessage",
}


def _operations(service: str) -> dict[str, str]:
    """snake_case method name -> the IAM action of the operation (service prefix: its IAM
    prefix, which for CloudWatch is `cloudwatch`, not the signing name `monitoring`)."""
    model = botocore.session.get_session().get_service_model(service)
    found = {}
    for operation in model.operation_names:
        action = f"{service}:{operation}"
        found[xform_name(operation)] = ACTION_OF_OPERATION.get(action, action)
    return found


def _services_of(tree: ast.Module) -> set[str]:
    """The services a module builds clients for: the string given to any `client(...)` call."""
    services = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else None
            name = name or (node.func.id if isinstance(node.func, ast.Name) else None)
            if name == "client":
                services |= {
                    arg.value
                    for arg in node.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                }
    return services


def calls_the_code_makes() -> dict[str, set[str]]:
    """IAM action -> the modules of invocations/aws/ that make it."""
    made: dict[str, set[str]] = {}
    for path in sorted(AWS_PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        operations: dict[str, str] = {}
        for service in _services_of(tree):
            operations.update(_operations(service))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Attribute):
                names.append(node.attr)  # sqs.delete_message_batch, passed to clients.call
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get_paginator"
            ):
                names += [a.value for a in node.args if isinstance(a, ast.Constant)]
            for name in names:
                if name in operations:
                    made.setdefault(operations[name], set()).add(path.name)
    return made


def _policy_actions() -> set[str]:
    policy = json.loads((ROOT / POLICY_PATH).read_text())
    return {action for statement in policy["Statement"] for action in statement["Action"]}


def test_it_finds_the_calls_whose_action_is_named_differently():
    made = calls_the_code_makes()

    assert "lambda_api.py" in made["lambda:InvokeFunction"]
    assert "lambda_api.py" in made["lambda:ListVersionsByFunction"]
    assert "logs.py" in made["logs:FilterLogEvents"]
    assert "sqs.py" in made["sqs:DeleteMessage"]
    assert "cloudwatch.py" in made["cloudwatch:GetMetricData"]


def test_every_call_the_code_makes_is_in_the_shipped_policy():
    made = set(calls_the_code_makes()) - NOT_IN_POLICY

    missing = made - _policy_actions()

    assert missing == set(), f"add these to {POLICY_PATH} (invocations/aws/permissions.py)"


def test_the_shipped_policy_holds_no_action_the_code_never_makes():
    made = set(calls_the_code_makes())

    unused = _policy_actions() - made

    assert unused == set()


def test_the_shipped_policy_is_the_one_the_code_describes_with_no_wildcard_action():
    policy = json.loads((ROOT / POLICY_PATH).read_text())

    assert policy == policy_document()
    assert [statement["Sid"] for statement in policy["Statement"]] == [f.sid for f in FEATURES]
    assert not any("*" in action for action in _policy_actions())
