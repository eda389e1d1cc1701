"""Only a successful replay into the group's own function (any qualifier of it, same
environment) resolves the group "by replay"; a replay elsewhere is shown as such on the group
and leaves its status and backlog alone."""

import pytest
from django.urls import reverse

from invocations.access.actor import Actor
from invocations.failures import grouping
from invocations.invoking import replay
from invocations.models import FailureGroup, ReplayBatch
from tests import factories

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def _replay(records, user, env, function, group, qualifier="", payload=""):
    plan = replay.plan(records, env, function, qualifier)
    batch = replay.start(plan, Actor.person(user), group=group, payload_override=payload)
    ReplayBatch.objects.filter(pk=batch.pk).update(rate_per_second=100)
    return replay.run_batch(batch.pk)


def _orders_failure():
    record = factories.failure_record(function="orders", payload={"order": -1})
    grouping.group_records([record])
    return record, FailureGroup.objects.get()


def test_a_replay_into_another_function_leaves_the_group_open_and_says_so(
    client, alice, sandbox_env
):
    record, group = _orders_failure()

    batch = _replay([record], alice, sandbox_env, "hello", group)
    client.force_login(alice)
    page = client.get(reverse("group", args=[group.pk])).text

    group.refresh_from_db()
    assert batch.succeeded == 1  # hello took the event happily...
    assert (group.status, group.resolved_by_replay, group.backlog_count) == ("open", False, 1)
    assert "only into hello in default" in page  # ...which is not the event going through
    assert "does not resolve the group" in page


def test_a_replay_into_the_same_function_under_a_qualifier_resolves_the_group(alice, sandbox_env):
    record, group = _orders_failure()

    batch = _replay(
        [record], alice, sandbox_env, "orders", group, qualifier="$LATEST", payload='{"order": 7}'
    )

    group.refresh_from_db()
    assert batch.succeeded == 1
    assert (group.status, group.resolved_by_replay, group.backlog_count) == ("resolved", True, 0)


def test_a_replay_into_the_same_function_of_another_environment_does_not_count(alice, sandbox_env):
    from invocations.models import Environment

    record, group = _orders_failure()
    staging = Environment.objects.create(
        name="staging", endpoint_url=sandbox_env.endpoint_url, region=sandbox_env.region
    )

    batch = _replay([record], alice, staging, "orders", group, payload='{"order": 7}')

    group.refresh_from_db()
    assert batch.succeeded == 1
    assert (group.status, group.backlog_count) == ("open", 1)
    assert replay.plan([record], sandbox_env, "orders").to_replay  # still to be replayed here
