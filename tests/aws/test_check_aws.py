"""`manage.py check_aws` against a sandbox that enforces IAM: which features work with the
credentials, the exact actions the others miss, and its exit status."""

import io
import json
import uuid

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError

from invocations.invoking import inventory
from invocations.models import WatchedQueue
from tests.aws.conftest import ACCOUNT, root_client, shipped_policy, without

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def _known(env):
    """What an install knows after its first sync and discovery: functions and a queue."""
    inventory.sync(env)
    WatchedQueue.objects.get_or_create(
        environment=env,
        url=f"{env.endpoint_url}/{ACCOUNT}/orders-dlq",
        defaults={"kind": "dlq", "function_name": "orders"},
    )


def _check(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("check_aws", *args, stdout=out)
    except CommandError as failed:
        return failed.returncode, out.getvalue()
    return 0, out.getvalue()


def test_it_exits_0_when_the_credentials_hold_the_shipped_policy(env_as):
    _known(env_as(shipped_policy()))
    env_as(shipped_policy())

    status, said = _check("--environment", "default")

    assert status == 0, said
    assert "DOES NOT WORK" not in said
    assert "not verified" not in said
    assert "Polling watched queues: works" in said
    assert "Send back to queue: works" in said


def test_it_names_every_action_a_missing_statement_held(env_as):
    _known(env_as(shipped_policy()))
    env_as(without("ReadInventory"))

    status, said = _check()

    assert status == 1
    assert "Functions inventory: DOES NOT WORK" in said
    assert (
        "missing: lambda:ListFunctions, lambda:ListVersionsByFunction, lambda:ListAliases, "
        "lambda:ListEventSourceMappings, lambda:GetFunctionConcurrency, "
        "lambda:GetFunctionEventInvokeConfig"
    ) in said
    assert "Invoke and replay: works" in said


def test_it_asks_iam_about_what_no_harmless_call_proves(env_as):
    _known(env_as(shipped_policy()))
    env_as(without("SendBackToQueue"))

    status, said = _check()

    assert status == 1
    assert "Send back to queue: DOES NOT WORK\n    missing: sqs:SendMessage" in said
    assert "Polling watched queues: works" in said


def test_without_iam_simulation_it_says_what_it_could_not_verify(env_as):
    _known(env_as(shipped_policy()))
    env_as(without("CheckPermissions"))

    status, said = _check()

    assert status == 1
    assert "Permission check: DOES NOT WORK\n    missing: iam:SimulatePrincipalPolicy" in said
    assert "not verified: sqs:SendMessage" in said


def test_an_unknown_environment_is_an_error_not_a_traceback(env_as):
    env_as(shipped_policy())

    with pytest.raises(CommandError, match="no environment named 'nope'"):
        call_command("check_aws", "--environment", "nope")


def test_the_health_page_names_the_missing_actions_per_environment(env_as, client):
    _known(env_as(shipped_policy()))
    env_as(without("ReadLogs"))
    cache.clear()  # the page reuses a check for ten minutes

    checks = client.get("/health/?format=json").json()["checks"]

    assert checks["permissions:default"] == {
        "ok": False,
        "reason": "missing actions: Logs (logs:FilterLogEvents)",
    }


ASSUME_ANY_ROLE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}


def _role_with(sandbox, policy) -> str:
    iam = root_client(sandbox, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    name = f"lambda-triage-{uuid.uuid4().hex[:6]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="triage", PolicyDocument=json.dumps(policy))
    return role["Arn"]


def test_an_environment_that_assumes_a_role_is_checked_as_that_role(env_as, iam_sandbox):
    _known(env_as(shipped_policy()))
    env = env_as(ASSUME_ANY_ROLE)  # the host's own principal may only assume the role
    env.role_arn = _role_with(iam_sandbox, without("SendBackToQueue"))
    env.save()

    status, said = _check()

    assert f"assumed-role/{env.role_arn.rsplit('/', 1)[-1]}/lambda-triage" in said
    assert status == 1
    assert "Send back to queue: DOES NOT WORK\n    missing: sqs:SendMessage" in said
    assert "Functions inventory: works" in said


def test_a_role_the_host_may_not_assume_is_said_not_raised(env_as, iam_sandbox):
    env = env_as(shipped_policy())  # no sts:AssumeRole: that belongs to the host's own policy
    env.role_arn = _role_with(iam_sandbox, shipped_policy())
    env.save()

    status, said = _check()

    assert status == 1
    assert f"cannot ask AWS: AccessDenied: sts:AssumeRole on {env.role_arn}" in said
