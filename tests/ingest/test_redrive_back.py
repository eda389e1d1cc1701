"""Sending dead letters back to a queue: never into the dead-letter queue they came from, the
queue that feeds the function by default, and a message that comes back is its origin record
again, not a new failure that reopens a resolved group."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from moto import mock_aws

from invocations import aws
from invocations.ingest import polling, redrive
from invocations.invoking import inventory
from invocations.models import (
    Environment,
    ExecutionRecord,
    FailedEvent,
    FailureGroup,
    Function,
    WatchedQueue,
)
from tests import factories

REQUEST_ID = "7e0c7a55-2b52-4a8e-8d1c-3f4f0b1d2e60"


@pytest.fixture
def sqs(db):
    with mock_aws():
        aws.reset_clients()
        yield aws.client(Environment.objects.default(), "sqs")
    aws.reset_clients()


@pytest.fixture
def dead_letter(sqs):
    """orders' DLQ (watched) with one dead letter stored and grouped, the way the poller does."""
    env = Environment.objects.default()
    url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    dlq = WatchedQueue.objects.create(environment=env, url=url, kind="dlq", function_name="orders")
    sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps({"order": -1}),
        MessageAttributes={
            "RequestID": {"DataType": "String", "StringValue": REQUEST_ID},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": "order must be positive"},
        },
    )
    polling.poll_queue(dlq, wait_seconds=0)
    return ExecutionRecord.objects.get()


def send_back(client, record, queue_url):
    """The "Send back to queue" button."""
    return client.post(
        reverse("redrive"), {"records": str(record.pk), "queue_url": queue_url}, follow=True
    )


def depth(sqs, url):
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_sending_a_dead_letter_back_to_its_own_dlq_is_refused_with_a_sentence(
    client, alice, sqs, dead_letter
):
    client.force_login(alice)

    page = send_back(client, dead_letter, dead_letter.queue.url)

    assert "That is the dead-letter queue these messages came from" in page.text
    assert depth(sqs, dead_letter.queue.url) == 0


def test_a_refused_send_returns_to_the_dry_run_with_the_url_that_was_typed(
    client, alice, sqs, dead_letter
):
    client.force_login(alice)
    dry_run = f"{reverse('replay-plan')}?records={dead_letter.pk}"
    assert client.get(dry_run).status_code == 200

    page = client.post(
        reverse("redrive"),
        {"records": str(dead_letter.pk), "queue_url": dead_letter.queue.url, "next": dry_run},
        follow=True,
    )

    assert page.redirect_chain[-1][0].startswith(dry_run)
    assert "That is the dead-letter queue these messages came from" in page.text
    assert "Or send the dead letters back to a queue" in page.text  # the dry run, kept
    assert f'value="{dead_letter.queue.url}"' in page.text  # and what was typed


def test_a_message_sent_back_that_returns_is_linked_to_its_record_not_a_regression(
    client, alice, sqs, dead_letter
):
    source = sqs.create_queue(QueueName="orders-input")["QueueUrl"]
    group = FailureGroup.objects.get()
    FailureGroup.objects.filter(pk=group.pk).update(status="resolved")

    sent_count = redrive.run([dead_letter.pk], source, alice.pk)  # the worker's side of the button
    # The function fails it again and SQS moves it, attributes and all, into the DLQ.
    sent = sqs.receive_message(QueueUrl=source, MessageAttributeNames=["All"])["Messages"][0]
    sqs.send_message(
        QueueUrl=dead_letter.queue.url,
        MessageBody=sent["Body"],
        MessageAttributes=sent["MessageAttributes"],
    )
    polling.poll_queue(dead_letter.queue, wait_seconds=0)

    assert sent_count == 1
    assert sent["MessageAttributes"][redrive.ORIGIN_ATTRIBUTE]["StringValue"] == (
        f"default:{dead_letter.pk}"
    )
    returned = ExecutionRecord.objects.exclude(pk=dead_letter.pk).get()
    assert returned.returned_from == dead_letter
    group.refresh_from_db()
    assert (group.status, group.regressed, group.count) == ("resolved", False, 1)
    client.force_login(alice)
    record_page = client.get(reverse("record", args=[returned.pk])).text
    assert "it came back: it is that record's failure again" in record_page
    # Both are one failed event, and the send is an attempt of it with its outcome.
    event = FailedEvent.objects.get()
    assert returned.event == event == ExecutionRecord.objects.get(pk=dead_letter.pk).event
    assert (event.sent_back_count, event.came_back_count) == (1, 1)
    group_page = client.get(reverse("group", args=[group.pk])).text
    assert "Sent back to a queue 1 time" in group_page
    assert "came back as a failure 1 time" in group_page


def test_the_target_defaults_to_the_queue_that_feeds_the_function(client, alice, dead_letter):
    Function.objects.create(
        environment=dead_letter.environment,
        name="orders",
        event_source_mappings=[
            {"uuid": "1", "source": "arn:aws:sqs:us-east-1:123456789012:orders-input"}
        ],
    )
    client.force_login(alice)

    plan = client.get(reverse("replay-plan") + f"?records={dead_letter.pk}").text

    scheme_host = "/".join(dead_letter.queue.url.split("/", 3)[:3])
    assert f'value="{scheme_host}/123456789012/orders-input"' in plan


def test_the_queues_page_says_watching_moves_the_messages(client, bob, db):
    client.force_login(bob)

    page = client.get(reverse("queues")).text

    assert "moves its messages into the dashboard" in page
    assert "finds an empty dead-letter queue" in page


def test_the_inventory_of_a_queue_fed_function_fills_in_its_source_queue(
    client, alice, sandbox_env
):
    """The seeded queue-worker is fed by queue-worker-input: the dry run offers that queue once
    the inventory has read the function's event source mapping."""
    inventory.sync(sandbox_env)
    letter = factories.failure_record(
        function="queue-worker",
        kind=ExecutionRecord.Kind.DLQ,
        watched=factories.queue(sandbox_env, kind="dlq", function="queue-worker"),
    )
    client.force_login(alice)

    plan = client.get(reverse("replay-plan") + f"?records={letter.pk}").text

    assert 'value="http://127.0.0.1:4566/123456789012/queue-worker-input"' in plan


def test_sending_dead_letters_back_leaves_a_line_on_their_groups_activity(
    client, alice, sqs, dead_letter
):
    source = sqs.create_queue(QueueName="orders-input")["QueueUrl"]
    group = FailureGroup.objects.get()

    redrive.run([dead_letter.pk], source, alice.pk)  # the worker's side of the button
    client.force_login(alice)
    page = client.get(reverse("group", args=[group.pk])).text

    assert "1 dead letter sent back to orders-input by alice" in page
    assert "Nothing yet." not in page


def test_the_last_send_back_can_be_dismissed_and_expires(
    client, alice, sqs, dead_letter, monkeypatch
):
    source = sqs.create_queue(QueueName="orders-input")["QueueUrl"]
    redrive.run([dead_letter.pk], source, alice.pk)
    client.force_login(alice)
    assert "Last send back to queue" in client.get(reverse("triage")).text

    dismissed = client.post(reverse("redrive-dismiss"), headers={"HX-Request": "true"})

    assert dismissed.status_code == 200 and dismissed.text == ""
    assert "Last send back to queue" not in client.get(reverse("triage")).text
    client.logout()
    client.force_login(alice)  # another session has not dismissed it
    assert "Last send back to queue" in client.get(reverse("triage")).text
    monkeypatch.setattr(redrive, "OUTCOME_SHOWN_FOR", timedelta(0))
    assert "Last send back to queue" not in client.get(reverse("triage")).text
