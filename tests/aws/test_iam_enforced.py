"""The dashboard under the shipped IAM policy, in a sandbox that enforces IAM: the credentials of
an IAM user that holds exactly docs/iam-policy.json invoke, poll, triage, replay, send back,
read logs and metrics, sync the inventory and discover queues; without one statement, the
feature it serves says which action on which resource was refused, and that the policy has it.
And the sandbox itself: its root credentials may do anything, a user only what its policies
allow, on the resources they name, and a wrong secret is refused."""

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from invocations.access.actor import SYSTEM, Actor
from invocations.failures import triage
from invocations.ingest import discovery, polling, redrive
from invocations.invoking import inventory, lifecycle, monitor, replay, request_logs
from invocations.models import (
    ExecutionRecord,
    FailureGroup,
    Invocation,
    ReplayBatch,
    WatchedQueue,
)
from tests.aws.conftest import (
    ACCOUNT,
    NO_RETRY,
    REGION,
    root_client,
    shipped_policy,
    user_with,
    without,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox]

POLICY = shipped_policy()


def _watch(env, name, kind, function):
    url = _root_sqs_url(env, name)
    return WatchedQueue.objects.create(environment=env, url=url, kind=kind, function_name=function)


def _root_sqs_url(env, name):
    return f"{env.endpoint_url}/{ACCOUNT}/{name}"


def _invoked(env, name, payload, invocation_type="RequestResponse") -> Invocation:
    invocation = lifecycle.start(
        environment=env,
        function_name=name,
        invocation_type=invocation_type,
        payload=payload,
        actor=SYSTEM,
    )
    lifecycle.run(invocation.pk)  # what the worker runs
    invocation.refresh_from_db()
    return invocation


def test_the_sandbox_root_may_do_anything_and_a_user_only_what_its_policy_allows(iam_sandbox):
    narrowed = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunction"],
                "Resource": f"arn:aws:lambda:*:{ACCOUNT}:function:hello*",
            }
        ],
    }
    key = user_with(iam_sandbox, narrowed)
    user = boto3.session.Session(
        aws_access_key_id=key["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=key["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    ).client("lambda", endpoint_url=iam_sandbox.endpoint_url, config=NO_RETRY)
    wrong_secret = boto3.session.Session(
        aws_access_key_id=key["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key="not-the-secret",
        region_name=REGION,
    ).client("lambda", endpoint_url=iam_sandbox.endpoint_url, config=NO_RETRY)

    assert root_client(iam_sandbox, "lambda").list_functions()["Functions"]
    assert user.invoke(FunctionName="hello", Payload=b"{}")["StatusCode"] == 200
    with pytest.raises(ClientError) as refused:
        user.invoke(FunctionName="orders", Payload=b"{}")
    with pytest.raises(ClientError) as unlisted:
        user.list_functions()
    with pytest.raises(ClientError) as unsigned:
        wrong_secret.invoke(FunctionName="hello", Payload=b"{}")

    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert (
        "is not authorized to perform: lambda:InvokeFunction on resource: "
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orders"
    ) in refused.value.response["Error"]["Message"]
    assert "lambda:ListFunctions on resource: *" in unlisted.value.response["Error"]["Message"]
    assert unsigned.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.django_db(transaction=True)
def test_every_feature_works_under_exactly_the_shipped_policy(env_as, alice):
    env = env_as(POLICY)
    for name in ("orders-on-failure", "orders-dlq"):
        root_client(env, "sqs").purge_queue(QueueUrl=_root_sqs_url(env, name))

    # Inventory and discovery.
    assert inventory.sync(env) == []
    found = discovery.discover(env, actor=SYSTEM)
    assert found.errors == []
    watched = list(WatchedQueue.objects.filter(url__endswith="/orders-on-failure"))
    watched += list(WatchedQueue.objects.filter(url__endswith="/orders-dlq"))
    assert len(watched) == 2

    # Invoke: a bad order fails asynchronously, and ends in the OnFailure queue and the DLQ.
    event = _invoked(env, "orders", json.dumps({"order": "not a number"}), "Event")
    assert event.status == Invocation.Status.ACCEPTED, event.error_text

    # Ingest: polling stores both records.
    def both_stored():
        for queue in watched:
            assert polling.poll_queue(queue, budget_seconds=2, wait_seconds=0).error == ""
        return ExecutionRecord.objects.filter(function_name="orders").count() >= 2

    wait_until(both_stored, timeout=30, message="the OnFailure record and dead letter")

    # Triage.
    group = FailureGroup.objects.get(function_name="orders")
    triage.apply(group, "comment", Actor.person(alice), text="bad order id")

    # Replay, with the order fixed.
    plan = replay.plan(list(group.records.all()), env, "orders")
    batch = replay.start(plan, Actor.person(alice), group=group, payload_override='{"order": 42}')
    ReplayBatch.objects.filter(pk=batch.pk).update(rate_per_second=100)
    batch = replay.run_batch(batch.pk)
    assert (batch.status, batch.failed) == ("done", 0)

    # Send back to queue.
    dead = list(ExecutionRecord.objects.filter(kind=ExecutionRecord.Kind.DLQ))
    sent, error = redrive.send_back(
        dead, env, _root_sqs_url(env, "orders-dlq"), actor=Actor.person(alice)
    )
    assert (sent, error) == (len(dead), "")

    # Logs and Monitor.
    sync_call = _invoked(env, "hello", "{}")
    logs = request_logs.for_invocation(sync_call)
    assert logs.error == ""
    assert logs.attempts
    metrics = monitor.fetch(env.pk, "hello", "1h")
    assert metrics.error == ""


def _use_feature(env, sid, alice) -> str:
    """Use the feature statement `sid` serves, as the worker or a page would; the address of
    the page that says how it went."""
    if sid == "ReadInventory":
        inventory.sync(env)
        return "/functions/"
    if sid == "DiscoverQueues":
        discovery.run(env.pk, alice.pk)
        return "/queues/"
    if sid == "Invoke":
        return f"/invocations/{_invoked(env, 'hello', '{}').pk}/"
    if sid == "IngestWatchedQueues":
        queue = _watch(env, "orders-dlq", "dlq", "orders")
        polling.poll_queue(queue, budget_seconds=2, wait_seconds=0)
        return "/queues/"
    if sid == "SendBackToQueue":
        record = ExecutionRecord.objects.create(
            environment=env,
            queue=_watch(env, "orders-dlq", "dlq", "orders"),
            message_id=str(uuid.uuid4()),
            kind=ExecutionRecord.Kind.DLQ,
            raw_body='{"order": 1}',
        )
        redrive.run([record.pk], _root_sqs_url(env, "orders-dlq"), alice.pk)
        return "/"
    if sid == "ReadLogs":
        invocation = Invocation.objects.create(
            environment=env, function_name="hello", request_id=str(uuid.uuid4())
        )
        return f"/invocations/{invocation.pk}/log/"
    if sid == "ReadMetrics":
        monitor.fetch(env.pk, "hello", "1h")  # the worker's reading
        return "/functions/hello/monitor/?range=1h"
    raise AssertionError(sid)


REFUSED = {
    "ReadInventory": "lambda:ListFunctions on *",
    "DiscoverQueues": f"lambda:ListFunctionEventInvokeConfigs on arn:aws:lambda:{REGION}:{ACCOUNT}",
    "Invoke": f"lambda:InvokeFunction on arn:aws:lambda:{REGION}:{ACCOUNT}:function:hello",
    "IngestWatchedQueues": f"sqs:ReceiveMessage on arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq",
    "SendBackToQueue": f"sqs:SendMessage on arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq",
    "ReadLogs": (
        f"logs:FilterLogEvents on arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/hello"
    ),
    "ReadMetrics": "cloudwatch:GetMetricData on *",
}


# The permission check's own statement: check_aws says what it misses (tests/aws/test_check_aws.py).
PAGE_FEATURES = [s["Sid"] for s in POLICY["Statement"] if s["Sid"] != "CheckPermissions"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sid", PAGE_FEATURES)
def test_without_one_statement_its_feature_page_names_the_refused_action(
    env_as, client, alice, sid
):
    inventory.sync(env_as(POLICY))  # the functions are known, as they would be
    env = env_as(without(sid))
    client.force_login(alice)

    page = client.get(_use_feature(env, sid, alice))

    assert page.status_code == 200
    said = page.content.decode()
    assert f"AccessDenied: {REFUSED[sid]}" in said
    assert f"the policy in docs/iam-policy.json has it (statement {sid})" in said


def test_a_role_is_assumed_only_by_whom_its_trust_policy_names(iam_sandbox):
    key = user_with(
        iam_sandbox,
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
        },
    )
    iam = root_client(iam_sandbox, "iam")

    def role(trusted: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}
            ],
        }
        name = f"role-{uuid.uuid4().hex[:8]}"
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]

    sts = boto3.session.Session(
        aws_access_key_id=key["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=key["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    ).client("sts", endpoint_url=iam_sandbox.endpoint_url, config=NO_RETRY)

    trusted = sts.assume_role(
        RoleArn=role(f"arn:aws:iam::{ACCOUNT}:root"), RoleSessionName="triage"
    )
    with pytest.raises(ClientError) as refused:
        sts.assume_role(
            RoleArn=role(f"arn:aws:iam::{ACCOUNT}:user/someone-else"), RoleSessionName="triage"
        )

    assert trusted["Credentials"]["AccessKeyId"]
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
