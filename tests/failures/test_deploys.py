"""Deploys: the inventory refresh notices published versions, code and configuration changes
in the sandbox, and the pages put failures beside them."""

import io
import uuid
import zipfile
from datetime import timedelta

import boto3
import pytest
from django.urls import reverse
from django.utils import timezone

from invocations.failures import deploys
from invocations.invoking import inventory, lifecycle
from invocations.models import Deploy, Environment, FailureGroup, Function, Invocation

ROLE_ARN = "arn:aws:iam::123456789012:role/lambda-sandbox"


def code(answer: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "lambda_function.py", f"def lambda_handler(event, context):\n    return {answer!r}\n"
        )
    return buffer.getvalue()


@pytest.fixture
def awslambda(sandbox):
    return boto3.client(
        "lambda",
        endpoint_url=sandbox.endpoint_url,
        region_name=sandbox.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def probe(awslambda):
    """A throwaway function with a secret in its environment."""
    name = f"deploy-probe-{uuid.uuid4().hex[:8]}"
    awslambda.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE_ARN,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": code("one")},
        MemorySize=128,
        Timeout=3,
        Environment={"Variables": {"API_KEY": "s3cret-value"}},
    )
    yield name
    awslambda.delete_function(FunctionName=name)


def deploys_of(name: str) -> list[Deploy]:
    return list(Deploy.objects.filter(function_name=name).order_by("id"))


@pytest.mark.sandbox
def test_it_records_versions_code_and_configuration_changes(sandbox_env, awslambda, probe):
    inventory.sync(sandbox_env)
    assert deploys_of(probe) == []

    published = awslambda.publish_version(FunctionName=probe)
    inventory.sync(sandbox_env)
    [version] = deploys_of(probe)
    assert version.kind == Deploy.Kind.VERSION
    assert version.version == published["Version"]
    assert version.code_sha256 == published["CodeSha256"]
    assert abs(version.at - timezone.now()) < timedelta(minutes=1)
    assert version.summary == f"version {published['Version']} was published"

    awslambda.update_function_code(FunctionName=probe, ZipFile=code("two"))
    inventory.sync(sandbox_env)
    [_, changed] = deploys_of(probe)
    sha = awslambda.get_function_configuration(FunctionName=probe)["CodeSha256"]
    assert changed.kind == Deploy.Kind.CODE
    assert changed.code_sha256 == sha != published["CodeSha256"]
    assert Function.objects.get(name=probe).code_sha256 == sha

    awslambda.update_function_configuration(
        FunctionName=probe,
        MemorySize=256,
        Timeout=5,
        Environment={"Variables": {"API_KEY": "another-s3cret", "NEW_FLAG": "on"}},
    )
    awslambda.put_function_concurrency(FunctionName=probe, ReservedConcurrentExecutions=2)
    inventory.sync(sandbox_env)
    [_, _, config] = deploys_of(probe)
    assert config.kind == Deploy.Kind.CONFIG
    assert {change["field"]: (change["old"], change["new"]) for change in config.changes} == {
        "memory": (128, 256),
        "timeout": (3, 5),
        "environment variables": (["API_KEY"], ["API_KEY", "NEW_FLAG"]),
        "reserved concurrency": (None, 2),
    }
    assert "s3cret" not in str(config.changes)
    assert "memory 128 → 256" in config.summary

    inventory.sync(sandbox_env)
    assert len(deploys_of(probe)) == 3


@pytest.mark.sandbox
def test_each_version_is_recorded_once_with_what_it_ran(sandbox_env, awslambda, probe):
    first = awslambda.publish_version(FunctionName=probe)
    awslambda.update_function_code(FunctionName=probe, ZipFile=code("two"))
    second = awslambda.publish_version(FunctionName=probe)

    inventory.sync(sandbox_env)
    inventory.sync(sandbox_env)

    versions = Deploy.objects.filter(function_name=probe, kind=Deploy.Kind.VERSION)
    assert sorted(versions.values_list("version", flat=True)) == sorted(
        [first["Version"], second["Version"]]
    )
    function = Function.objects.get(name=probe)
    assert function.ran_with(second["Version"])["code_sha256"] == second["CodeSha256"]
    assert function.ran_with(first["Version"])["code_sha256"] == first["CodeSha256"]
    assert function.ran_with("$LATEST")["memory_size"] == 128


def make_group(env, name: str, first_seen) -> FailureGroup:
    return FailureGroup.objects.create(
        environment=env,
        fingerprint=uuid.uuid4().hex,
        function_name=name,
        error_class="error",
        error_type="ValueError",
        first_seen=first_seen,
        last_seen=first_seen,
        count=1,
    )


def test_a_group_is_put_beside_the_last_deploy_before_it(db):
    env = Environment.objects.default()
    now = timezone.now()
    Deploy.objects.create(
        environment=env,
        function_name="orders",
        kind="version",
        version="6",
        at=now - timedelta(hours=3),
    )
    Deploy.objects.create(
        environment=env,
        function_name="orders",
        kind="version",
        version="7",
        at=now - timedelta(minutes=10),
    )
    after = make_group(env, "orders", now - timedelta(minutes=7))
    before = make_group(env, "orders", now - timedelta(days=9))
    other = make_group(env, "billing", now)

    notes = deploys.group_notes([after, before, other])

    assert deploys.group_note(after) == "first seen 3 min after version 7 was published"
    assert notes == {after.pk: "first seen 3 min after version 7 was published"}
    assert deploys.group_note(before) == ""


@pytest.mark.sandbox
def test_an_invocation_stores_the_code_and_configuration_it_ran_with(sandbox_env, awslambda, probe):
    published = awslambda.publish_version(FunctionName=probe)
    awslambda.update_function_code(FunctionName=probe, ZipFile=code("two"))
    awslambda.update_function_configuration(FunctionName=probe, MemorySize=512)
    inventory.sync(sandbox_env)
    function = Function.objects.get(name=probe)
    latest = Invocation.objects.create(
        environment=sandbox_env, function=function, function_name=probe, payload="{}"
    )
    pinned = Invocation.objects.create(
        environment=sandbox_env,
        function=function,
        function_name=probe,
        qualifier=published["Version"],
        invocation_type="Event",
        payload="{}",
    )

    lifecycle.run(latest.pk)
    lifecycle.run(pinned.pk)

    latest.refresh_from_db()
    pinned.refresh_from_db()
    assert latest.status == "succeeded"
    assert latest.code_sha256 == function.code_sha256 != published["CodeSha256"]
    assert (latest.configured_memory_mb, latest.configured_timeout_s) == (512, 3)
    assert pinned.status == "accepted"
    assert pinned.code_sha256 == published["CodeSha256"]
    assert pinned.configured_memory_mb == 128


def test_the_pages_show_deploys_beside_failures(client, bob, db):
    env = Environment.objects.default()
    now = timezone.now()
    Function.objects.create(environment=env, name="orders")
    Deploy.objects.create(
        environment=env,
        function_name="orders",
        kind="version",
        version="7",
        at=now - timedelta(minutes=10),
    )
    group = make_group(env, "orders", now - timedelta(minutes=7))
    client.force_login(bob)

    triage = client.get(reverse("triage"))
    page = client.get(reverse("group", args=[group.pk]))
    function = client.get(reverse("function", args=["orders"]))

    note = "first seen 3 min after version 7 was published"
    assert f'title="{note}"' in triage.text
    assert note in page.text
    assert 'class="deploy-marker"' in function.text
    assert "version 7 was published</title>" in function.text
    assert "v7" in function.text
