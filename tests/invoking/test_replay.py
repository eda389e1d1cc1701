"""Replay against the sandbox: the batch invokes the real sample functions."""

import pytest

from invocations.access.actor import Actor
from invocations.failures import grouping
from invocations.invoking import replay
from invocations.models import AuditEvent, FailureGroup, Invocation, ReplayBatch
from tests import factories

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def _records(function, payloads, **kwargs):
    records = [factories.failure_record(function=function, payload=p, **kwargs) for p in payloads]
    grouping.group_records(records)
    return records


def _confirm(records, user, env, function, **kwargs):
    plan = replay.plan(records, env, function)
    batch = replay.start(plan, Actor.person(user), **kwargs)
    ReplayBatch.objects.filter(pk=batch.pk).update(rate_per_second=100)
    return batch


def test_the_dry_run_changes_nothing(client, alice, sandbox_env):
    records = _records("orders", [{"order": -1}, {"order": -2}])
    group = FailureGroup.objects.get()
    client.force_login(alice)
    audit_before = AuditEvent.objects.count()

    response = client.get(f"/replay/?group={group.pk}")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Replay 2 records" in body
    assert "&quot;order&quot;: -1" in body
    assert Invocation.objects.count() == 0
    assert ReplayBatch.objects.count() == 0
    assert AuditEvent.objects.count() == audit_before
    assert len(records) == 2


def test_records_that_replay_to_success_resolve_their_group(alice, sandbox_env):
    records = _records(
        "hello",
        [{"name": "ann"}, {"name": "bo"}],
        error_type="Timeout",
        message="Task timed out after 3.00 seconds",
    )
    group = FailureGroup.objects.get()

    batch = _confirm(records, alice, sandbox_env, "hello", group=group)
    replay.run_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.succeeded, batch.failed) == ("done", 2, 0)
    replays = Invocation.objects.filter(replay_batch=batch)
    assert {i.replay_of_id for i in replays} == {r.pk for r in records}
    assert all(i.status == "succeeded" and i.request_id for i in replays)
    group.refresh_from_db()
    assert (group.status, group.resolved_by_replay, group.backlog_count) == ("resolved", True, 0)
    assert AuditEvent.objects.filter(action="replay.record").count() == 2


def test_a_second_replay_skips_the_records_that_already_succeeded(alice, sandbox_env):
    records = _records("hello", [{"name": "ann"}])
    batch = _confirm(records, alice, sandbox_env, "hello")
    replay.run_batch(batch.pk)

    again = replay.plan(records, sandbox_env, "hello")
    forced = replay.plan(records, sandbox_env, "hello", override=True)

    assert again.to_replay == []
    assert again.skipped[0].skip_reason == "already replayed with success"
    assert len(forced.to_replay) == 1


def test_the_circuit_breaker_stops_a_batch_that_keeps_failing(alice, sandbox_env):
    records = _records("orders", [{"order": -i} for i in range(1, 9)])

    batch = _confirm(records, alice, sandbox_env, "orders")
    replay.run_batch(batch.pk)

    batch.refresh_from_db()
    assert batch.status == ReplayBatch.Status.STOPPED
    assert (batch.failed, batch.succeeded, batch.position) == (5, 0, 5)
    failed = Invocation.objects.filter(replay_batch=batch)
    assert failed.count() == 5
    assert {i.status for i in failed} == {"function_error"}
    assert FailureGroup.objects.get(function_name="orders").status == "open"


def test_a_cancelled_batch_invokes_nothing_more(alice, sandbox_env):
    records = _records("hello", [{"name": "ann"}, {"name": "bo"}])
    batch = _confirm(records, alice, sandbox_env, "hello")

    assert replay.cancel(batch, Actor.person(alice))
    replay.run_batch(batch.pk)

    batch.refresh_from_db()
    assert batch.status == "cancelled"
    assert Invocation.objects.count() == 0
    assert AuditEvent.objects.filter(action="replay.cancel").count() == 1


def test_a_batch_cancelled_midway_takes_what_it_replayed_out_of_the_backlog(
    alice, sandbox_env, monkeypatch
):
    records = _records("hello", [{"name": "ann"}, {"name": "bo"}])
    batch = _confirm(records, alice, sandbox_env, "hello")
    real_invoke_one = replay._invoke_one

    def then_cancel(*args):
        invocation = real_invoke_one(*args)
        assert replay.cancel(batch, Actor.person(alice))
        return invocation

    monkeypatch.setattr(replay, "_invoke_one", then_cancel)

    replay.run_batch(batch.pk)

    group = FailureGroup.objects.get()
    assert Invocation.objects.filter(replay_batch=batch).count() == 1
    assert (group.count, group.backlog_count) == (2, 1)


def test_a_replay_can_target_another_function_and_an_edited_payload(alice, sandbox_env):
    records = _records("orders", [{"order": -1}])
    plan = replay.plan(records, sandbox_env, "orders")

    batch = replay.start(plan, Actor.person(alice), payload_override='{"order": 5}')
    replay.run_batch(batch.pk)

    invocation = Invocation.objects.get(replay_batch=batch)
    assert invocation.payload == '{"order": 5}'
    assert invocation.status == "succeeded"
    assert '"processed"' in invocation.response_payload


def test_a_function_outside_the_allowed_patterns_is_skipped(alice, sandbox_env):
    sandbox_env.allowed_functions = "hello"
    sandbox_env.save()
    records = _records("orders", [{"order": -1}])

    plan = replay.plan(records, sandbox_env, "orders")

    assert plan.to_replay == []
    assert "not allowed" in plan.skipped[0].skip_reason


def _flaky_without_retries(env):
    """flaky normally succeeds on its retry; without retries its first failure is final."""
    from invocations import aws

    awslambda = aws.client(env, "lambda")
    config = awslambda.get_function_event_invoke_config(FunctionName="flaky")
    awslambda.put_function_event_invoke_config(
        FunctionName="flaky",
        MaximumRetryAttempts=0,
        DestinationConfig=config["DestinationConfig"],
    )
    return lambda: awslambda.put_function_event_invoke_config(
        FunctionName="flaky",
        MaximumRetryAttempts=1,
        DestinationConfig=config["DestinationConfig"],
    )


@pytest.mark.timeout(90)
def test_a_flaky_failure_is_ingested_grouped_replayed_to_success_and_resolved(alice, sandbox_env):
    import time
    import uuid

    from invocations import aws
    from invocations.ingest import polling
    from invocations.models import WatchedQueue

    restore = _flaky_without_retries(sandbox_env)
    sqs = aws.client(sandbox_env, "sqs")
    watched = WatchedQueue.objects.create(
        environment=sandbox_env,
        kind="destination",
        function_name="flaky",
        url=sqs.get_queue_url(QueueName="flaky-on-failure")["QueueUrl"],
    )
    try:
        aws.client(sandbox_env, "lambda").invoke(
            FunctionName="flaky",
            InvocationType="Event",
            Payload=f'{{"order": "{uuid.uuid4()}"}}'.encode(),
        )
        deadline = time.monotonic() + 30
        while not watched.records.exists() and time.monotonic() < deadline:
            polling.poll_queue(watched, budget_seconds=2, wait_seconds=1)
    finally:
        restore()
    record = watched.records.get()
    group = record.failure_group
    assert (record.condition, record.error_type) == ("RetriesExhausted", "RuntimeError")
    assert group is not None and group.backlog_count == 1

    batch = _confirm([record], alice, sandbox_env, "flaky", group=group)
    replay.run_batch(batch.pk)

    batch.refresh_from_db()
    assert (batch.status, batch.succeeded) == ("done", 1)
    group.refresh_from_db()
    assert group.status == "resolved" and group.resolved_by_replay


def test_an_event_that_arrived_twice_is_replayed_once_and_resolves_both(alice, sandbox_env):
    record = factories.failure_record(function="hello", payload={"name": "ann"})
    letter = factories.failure_record(
        function="hello",
        kind="dlq",
        error_type="",
        payload={"name": "ann"},
        request_id=record.request_id,
    )
    grouping.group_records([record, letter])
    group = FailureGroup.objects.get()

    plan = replay.plan([record, letter], sandbox_env, "hello")
    batch = _confirm([record, letter], alice, sandbox_env, "hello", group=group)
    replay.run_batch(batch.pk)

    assert [i.record for i in plan.to_replay] == [record]
    assert plan.skipped == []  # the dead letter is not "skipped": its event is replayed
    assert [(i.record, i.twin_of) for i in plan.twins] == [(letter, record.pk)]
    assert Invocation.objects.filter(replay_batch=batch).count() == 1
    group.refresh_from_db()
    assert (group.status, group.backlog_count) == ("resolved", 0)
