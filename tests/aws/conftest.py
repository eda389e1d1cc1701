"""A sandbox that enforces IAM (one for the session, started by the first test that needs it),
its root's clients, IAM users made in it, and the default environment signing as one of them."""

import json
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from invocations import aws
from invocations.models import Environment
from sandbox.testing import run_sandbox

ACCOUNT = "123456789012"
REGION = "us-east-1"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})


def shipped_policy() -> dict:
    path = Path(__file__).resolve().parents[2] / "docs" / "iam-policy.json"
    return json.loads(path.read_text())


def without(sid: str) -> dict:
    """The shipped policy without the statement `sid`."""
    policy = shipped_policy()
    return {**policy, "Statement": [s for s in policy["Statement"] if s["Sid"] != sid]}


@pytest.fixture(scope="session")
def iam_sandbox():
    with run_sandbox(retry_delays="0.2,0.4", seed=True, enforce_iam=True) as running:
        yield running


def root_client(sandbox, service):
    """A client signing with the sandbox's own credentials: the account's root."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return session.client(service, endpoint_url=sandbox.endpoint_url, config=NO_RETRY)


def user_with(sandbox, policy) -> dict[str, str]:
    """A new IAM user holding `policy` inline; its access key as environment variables."""
    iam = root_client(sandbox, "iam")
    name = f"triage-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="triage", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


@pytest.fixture
def env_as(db, iam_sandbox, monkeypatch):
    """`env_as(policy)`: the default environment on the IAM sandbox, signing with the key of a
    new user that holds `policy` (boto3's chain reads it from the environment variables)."""

    def use(policy) -> Environment:
        for name, value in user_with(iam_sandbox, policy).items():
            monkeypatch.setenv(name, value)
        env = Environment.objects.default()
        env.endpoint_url = iam_sandbox.endpoint_url
        env.region = REGION
        env.save()
        aws.reset_clients()
        return env

    yield use
    aws.reset_clients()
