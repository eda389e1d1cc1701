"""What a group's page says about its failures: which time each figure is, what a dead letter
without an error is, what "resolved by replay" means, and its title."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invocations.failures import events, grouping, triage
from invocations.models import Environment, ExecutionRecord, FailureGroup, Function, Invocation
from tests import factories


@pytest.fixture
def env(db):
    return Environment.objects.default()


def group_of(record):
    return FailureGroup.objects.get(pk=ExecutionRecord.objects.get(pk=record.pk).failure_group_id)


def test_backlog_oldest_and_last_failed_are_the_same_notion_of_time(client, alice, env):
    failed = (timezone.now() - timedelta(days=2)).replace(microsecond=0)
    record = factories.failure_record()  # received now, failed two days ago in Lambda's record
    ExecutionRecord.objects.filter(pk=record.pk).update(record_timestamp=failed)
    record.refresh_from_db()
    grouping.group_records([record])
    client.force_login(alice)

    page = client.get(reverse("group", args=[group_of(record).pk])).text

    exact = failed.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert page.count(exact) >= 3  # first failed, last failed, backlog's oldest
    assert "oldest failed" in page
    assert "Last failed" in page
    assert "the time in Lambda's record" in page


def test_an_occurrence_row_shows_when_the_failure_happened_not_when_it_arrived(client, alice, env):
    failed = (timezone.now() - timedelta(days=2)).replace(microsecond=0)
    record = factories.failure_record()
    ExecutionRecord.objects.filter(pk=record.pk).update(record_timestamp=failed)
    record.refresh_from_db()
    grouping.group_records([record])
    client.force_login(alice)

    page = client.get(reverse("group", args=[group_of(record).pk])).text

    occurrences = page.split('id="occurrences-title"', 1)[1]
    assert "<th>Failed</th>" in occurrences
    assert failed.strftime("%Y-%m-%d %H:%M:%S UTC") in occurrences


def test_a_dead_letter_sqs_moved_says_it_carries_no_error_and_where_it_came_from(
    client, alice, env
):
    Function.objects.create(
        environment=env,
        name="queue-worker",
        event_source_mappings=[
            {"uuid": "1", "source": "arn:aws:sqs:us-east-1:123456789012:queue-worker-input"}
        ],
    )
    letter = factories.failure_record(
        function="queue-worker",
        kind=ExecutionRecord.Kind.DLQ,
        error_type="",
        message="",
        watched=factories.queue(env, kind="dlq", function="queue-worker"),
    )
    grouping.group_records([letter])
    client.force_login(alice)

    page = client.get(reverse("group", args=[group_of(letter).pk])).text

    assert "(no error type)" not in page
    assert "the message carries no error. SQS moved it into" in page
    assert "queue-worker-input" in page


def test_resolved_by_replay_says_it_checked_the_records_not_the_synchronous_invocation(
    client, alice, env
):
    record = factories.failure_record()
    grouping.group_records([record])
    synchronous = Invocation.objects.create(
        environment=env,
        function_name="orders",
        status=Invocation.Status.FUNCTION_ERROR,
        error_code="ValueError",
        error_text="order must be a positive integer, got -1",
        finished_at=timezone.now(),
    )
    group = grouping.group_invocation(synchronous)
    assert group is not None and group.pk == group_of(record).pk
    replayed = Invocation.objects.create(
        environment=env,
        function_name="orders",
        replay_of=record,
        replay_of_event=record.event,
        status=Invocation.Status.SUCCEEDED,
    )
    events.record_replay(replayed)

    assert triage.resolve_by_replay(group, alice)
    client.force_login(alice)
    page = client.get(reverse("group", args=[group.pk])).text

    assert "every failure replayed with success" not in page
    assert "by replay: every failed event replayed with success" in page
    assert "the 1 synchronous invocation in this group cannot be replayed" in page
    table = page.split('id="occurrences-title"', 1)[1]
    row = table.split(f"Invocation #{synchronous.pk}</a>", 1)[1].split("</tr>", 1)[0]
    assert "not replayable: synchronous, the caller got the error" in row
