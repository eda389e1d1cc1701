"""No execution environment outlives the sandbox: a clean stop ends them, and so does the
sandbox being killed outright."""

import io
import json
import time
import zipfile

import boto3
import pytest

from sandbox.testing import run_sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(90)]

# A custom runtime that answers with its process ID and never gives up when the Runtime API
# goes away, so only the sandbox ending it can stop it.
BOOTSTRAP = """#!/usr/bin/env python3
import os
import time
import urllib.request

api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
while True:
    try:
        with urllib.request.urlopen(f"{api}/next") as answer:
            request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        body = str(os.getpid()).encode()
        urllib.request.urlopen(urllib.request.Request(f"{api}/{request_id}/response", data=body))
    except OSError:
        time.sleep(0.05)
"""


def start_environment(endpoint_url: str) -> int:
    """Creates a function, invokes it, and returns its environment's process ID."""
    options = {
        "endpoint_url": endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    role = boto3.client("iam", **options).create_role(
        RoleName="shutdown", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    awslambda = boto3.client("lambda", **options)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        archive.writestr(info, BOOTSTRAP)
    awslambda.create_function(
        FunctionName="pid",
        Runtime="provided.al2023",
        Role=role,
        Handler="pid",
        Code={"ZipFile": buffer.getvalue()},
    )
    response = awslambda.invoke(FunctionName="pid", Payload=b"{}")
    return json.loads(response["Payload"].read())


def is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def wait_until_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid):
            return True
        time.sleep(0.05)
    return False


def test_stopping_the_sandbox_ends_its_environments():
    with run_sandbox(seed=False) as sandbox:
        pid = start_environment(sandbox.endpoint_url)
        assert is_running(pid)

    assert wait_until_gone(pid)


def test_killing_the_sandbox_ends_its_environments():
    with run_sandbox(seed=False) as sandbox:
        pid = start_environment(sandbox.endpoint_url)
        assert is_running(pid)
        sandbox.process.kill()

        assert wait_until_gone(pid)
