"""Replay against the sandbox: the batch invokes the real sample functions."""

import pytest
from django.test import RequestFactory

from invocations import replay, triage
from invocations.models import AuditEvent, FailureGroup, Invocation, ReplayBatch
from tests import factories

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def _request(user):
    request = RequestFactory().post("/")
    request.user = user
    return request


def _records(function, payloads, **kwargs):
    records = [factories.failure_record(function=function, payload=p, **kwargs) for p in payloads]
    triage.group_records(records)
    return records


def _confirm(records, user, env, function, **kwargs):
    plan = replay.plan(records, env, function)
    batch = replay.start(plan, _request(user), **kwargs)
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
    records = _records("hello", [{"name": "ann"}, {"name": "bo"}], error_type="Timeout",
                       message="Task timed out after 3.00 seconds")
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

    assert replay.cancel(batch, _request(alice))
    replay.run_batch(batch.pk)

    batch.refresh_from_db()
    assert batch.status == "cancelled"
    assert Invocation.objects.count() == 0
    assert AuditEvent.objects.filter(action="replay.cancel").count() == 1


def test_a_replay_can_target_another_function_and_an_edited_payload(alice, sandbox_env):
    records = _records("orders", [{"order": -1}])
    plan = replay.plan(records, sandbox_env, "orders")

    batch = replay.start(plan, _request(alice), payload_override='{"order": 5}')
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
