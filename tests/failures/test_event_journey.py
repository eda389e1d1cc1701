"""A journey with known numbers, end to end through the sandbox, Redis, a worker and the pages:
a copy of `orders` (OnFailure destination and DLQ) fails asynchronously twice on $LATEST and once
on its published version 1, each event reported twice; a synchronous invoke fails; one event is
replayed and fails again, then replayed fixed. Every count, version, condition, time and link
the pages show is what was caused:

- one group (one bug: the same raise, whatever the bad value), 4 failed events;
- versions $LATEST 3, 1 1; conditions RetriesExhausted 3, function error 1; 3 attempts each;
- the failed replay changes no count and no "last failed", and is not an occurrence;
- the fixed replay takes its event out of the backlog: 3 unreplayed, then 2."""

import json
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invocations import aws
from invocations.access.actor import Actor
from invocations.failures import charts, diagnosis
from invocations.ingest import polling
from invocations.invoking import inventory, lifecycle, monitor, replay
from invocations.models import (
    ExecutionRecord,
    FailedEvent,
    FailureGroup,
    Invocation,
    ReplayBatch,
    WatchedQueue,
)
from sandbox.seed import ROLE_NAME, function_zip
from tests.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.sandbox, pytest.mark.timeout(240)]


@pytest.fixture
def shop(transactional_db, sandbox_env):
    """A copy of `orders` of its own (its queues, its version 1), so that no other test sees
    its versions or its messages."""
    name = f"orders-{uuid.uuid4().hex[:8]}"
    awslambda, sqs = aws.client(sandbox_env, "lambda"), aws.client(sandbox_env, "sqs")
    iam = aws.client(sandbox_env, "iam")
    urls = {}
    for kind in ("on-failure", "dlq"):
        url = sqs.create_queue(QueueName=f"{name}-{kind}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        urls[kind] = (url, arn["Attributes"]["QueueArn"])
    awslambda.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"],
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip("orders")},
        Timeout=3,
        MemorySize=128,
        DeadLetterConfig={"TargetArn": urls["dlq"][1]},
    )
    version = awslambda.publish_version(FunctionName=name)["Version"]
    # Destinations are configured per qualifier, as in AWS: $LATEST and version 1 alike.
    for qualifier in ("$LATEST", version):
        awslambda.put_function_event_invoke_config(
            FunctionName=name,
            Qualifier=qualifier,
            DestinationConfig={"OnFailure": {"Destination": urls["on-failure"][1]}},
        )
    assert inventory.sync(sandbox_env) == []
    queues = [
        WatchedQueue.objects.create(
            environment=sandbox_env,
            url=urls["on-failure"][0],
            kind="destination",
            function_name=name,
        ),
        WatchedQueue.objects.create(
            environment=sandbox_env, url=urls["dlq"][0], kind="dlq", function_name=name
        ),
    ]
    yield name, queues
    awslambda.delete_function(FunctionName=name)
    for url, _ in urls.values():
        sqs.delete_queue(QueueUrl=url)


def _invoke(env, name, alice, payload, qualifier="", kind=Invocation.Type.EVENT) -> Invocation:
    invocation = lifecycle.start(
        environment=env,
        function_name=name,
        qualifier=qualifier,
        invocation_type=kind,
        payload=json.dumps(payload),
        actor=Actor.person(alice),
    )
    return wait_until(
        lambda: Invocation.objects.filter(pk=invocation.pk, status__in=Invocation.DONE).first(),
        30,
        message=f"invocation {invocation.pk} did not finish",
    )


def _both_reports_of(queues, events: int) -> None:
    """Beat's job: drain the watched queues until every event's OnFailure record and dead
    letter are stored."""

    def arrived():
        polling.poll_all(queues, budget_seconds=2, wait_seconds=0)
        kinds = ExecutionRecord.objects.filter(queue__in=queues)
        return kinds.filter(kind="failure").count() == kinds.filter(kind="dlq").count() == events

    def stored() -> str:
        rows = ExecutionRecord.objects.filter(queue__in=queues)
        kinds = sorted(rows.values_list("kind", "error_type", "error_message"))
        statuses = sorted(Invocation.objects.values_list("status", "error_code", "error_text"))
        return f"the reports did not all arrive: records {kinds}, invocations {statuses}"

    try:
        wait_until(arrived, 60, interval=0.3)
    except AssertionError:
        raise AssertionError(stored()) from None


def _replay(env, group, record, alice, payload_override="") -> ReplayBatch:
    plan = replay.plan([record], env, group.function_name)
    batch = replay.start(plan, Actor.person(alice), group=group, payload_override=payload_override)
    return wait_until(
        lambda: ReplayBatch.objects.filter(
            pk=batch.pk, status=ReplayBatch.Status.DONE, invocations__finished_at__isnull=False
        ).first(),
        30,
        message=f"replay batch {batch.pk} did not finish",
    )


def test_every_page_counts_the_failed_events_that_were_caused(
    client, alice, sandbox_env, shop, celery_worker
):
    name, queues = shop
    env = sandbox_env
    latest_a = _invoke(env, name, alice, {"order": "abc"})
    latest_b = _invoke(env, name, alice, {"order": None})
    version_1 = _invoke(env, name, alice, {"order": [1]}, qualifier="1")
    _both_reports_of(queues, 3)
    sync = _invoke(env, name, alice, {"order": -5}, kind=Invocation.Type.REQUEST_RESPONSE)

    # One bug, one group: four failed events, whatever the bad value and the version.
    group = FailureGroup.objects.get(function_name=name)
    assert (group.count, group.backlog_count) == (4, 3)
    assert group.title == "ValueError: order must be a positive integer, got …"
    events = {e.request_id: e for e in FailedEvent.objects.filter(group=group)}
    assert set(events) == {i.request_id for i in (latest_a, latest_b, version_1, sync)}
    for started in (latest_a, latest_b, version_1):
        event = events[started.request_id]
        assert (event.kind, event.attempts, event.condition) == ("async", 3, "RetriesExhausted")
        assert event.invocation_id == started.pk and event.happened_from == "lambda"
        assert event.records.count() == 2
        assert event.primary_record.kind == "failure"  # not its dead letter
    assert events[version_1.request_id].executed_version == "1"
    assert events[latest_a.request_id].executed_version == "$LATEST"
    assert events[sync.request_id].kind == "sync"
    since = timezone.now() - timedelta(hours=1)
    figures = diagnosis.breakdown(group, since)
    assert figures["version"] == [("$LATEST", 3), ("1", 1)]
    assert figures["condition"] == [("RetriesExhausted", 3), ("function error", 1)]
    assert charts.daily_chart(env, name)["bars"][-1]["failed"] == 4
    assert monitor.seen_here(env, name, monitor.BY_KEY["1h"])["failed_events"] == 4
    last_failed = group.last_seen

    # The first event is replayed as it was: it fails again.
    first = events[latest_a.request_id]
    failed = _replay(env, group, first.primary_record, alice).invocations.get()

    group.refresh_from_db()
    first.refresh_from_db()
    assert failed.status == "function_error" and failed.failure_group_id is None
    assert (group.count, group.backlog_count, group.last_seen) == (4, 3, last_failed)
    assert (first.replay_count, first.replayed_ok) == (1, False)
    assert FailedEvent.objects.filter(group=group).count() == 4

    # Then replayed fixed: it goes through.
    fixed = _replay(env, group, first.primary_record, alice, '{"order": 7}').invocations.get()

    group.refresh_from_db()
    first.refresh_from_db()
    assert fixed.status == "succeeded"
    assert (group.count, group.backlog_count, group.last_seen) == (4, 2, last_failed)
    assert (first.replay_count, first.replayed_ok, first.last_replay_status) == (
        2,
        True,
        "succeeded",
    )

    # The pages say the same.
    client.force_login(alice)
    triage = client.get(reverse("triage")).text
    assert "ValueError: order must be a positive integer, got …" in triage
    page = client.get(reverse("group", args=[group.pk])).text
    assert page.count('data-label="Failed"') == 4  # four occurrences, the replays not among them
    letter = first.records.get(kind="dlq")
    by_letter = client.get(reverse("group", args=[group.pk]), {"occurrence": f"r{letter.pk}"})
    assert "is not one of this group" not in by_letter.text
    assert "Replays of this event" in by_letter.text
    by_replay = client.get(reverse("group", args=[group.pk]), {"occurrence": f"i{failed.pk}"})
    assert "is not one of this group" not in by_replay.text
    request_page = client.get(reverse("request", args=[version_1.request_id])).text
    assert f"?occurrence=e{events[version_1.request_id].pk}" in request_page
    searched = client.get(reverse("invocations"), {"q": f"function:{name} error:ValueError"})
    for invocation in (latest_a, latest_b, version_1, sync):
        assert reverse("invocation", args=[invocation.pk]) in searched.text
    assert reverse("invocation", args=[failed.pk]) not in searched.text
