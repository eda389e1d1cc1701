"""The poller against moto's SQS, in process: receive → parse → save → (after commit) delete."""

import json
import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from moto import mock_aws

from invocations import aws
from invocations.ingest import polling, retention
from invocations.models import AuditEvent, Environment, ExecutionRecord, Invocation, WatchedQueue
from tests.messages import REQUEST_ID, destination_record

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def sqs(db):
    with mock_aws():
        aws.reset_clients()
        yield aws.client(Environment.objects.default(), "sqs")
    aws.reset_clients()


def make_queue(sqs, name, kind="destination", function="orders", visibility="0"):
    # Visibility 0: a message that was not deleted is visible again at once, so a test can
    # see a redelivery without waiting.
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": visibility})["QueueUrl"]
    queue = WatchedQueue.objects.create(
        environment=Environment.objects.default(), url=url, kind=kind, function_name=function
    )
    return queue


def depth(sqs, queue):
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def poll(queue):
    queue.refresh_from_db()
    return polling.poll_queue(queue, wait_seconds=0)


def test_it_stores_a_destination_record_and_deletes_the_message(sqs):
    queue = make_queue(sqs, "orders-on-failure")
    sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record())

    result = poll(queue)

    record = ExecutionRecord.objects.get()
    assert result.stored == 1
    assert record.kind == "failure"
    assert record.condition == "RetriesExhausted"
    assert record.approximate_invoke_count == 3
    assert record.error_type == "ValueError"
    assert record.function_name == "orders"
    assert record.request_payload == {"order": -1}
    assert json.loads(record.raw_body)["requestContext"]["requestId"] == REQUEST_ID
    assert depth(sqs, queue) == 0
    queue.refresh_from_db()
    assert queue.records_stored == 1
    assert queue.last_polled_at is not None
    assert queue.last_error == ""


def test_it_stores_the_same_message_twice_as_one_record(sqs):
    queue = make_queue(sqs, "orders-on-failure")
    sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record())
    messages = aws.receive_messages(queue.environment, queue.url)

    first = polling.store_batch(queue, messages)
    second = polling.store_batch(queue, messages + messages)

    assert (first, second) == (1, 0)
    assert ExecutionRecord.objects.count() == 1
    queue.refresh_from_db()
    assert queue.records_stored == 1


def test_an_insert_refused_by_the_unique_key_is_rolled_back_and_stored_once(sqs, monkeypatch):
    # Another poller whose lease overlapped stored a message between our read and our insert.
    from django.db import IntegrityError

    from invocations.failures import grouping
    from invocations.models import FailureGroup

    queue = make_queue(sqs, "orders-on-failure")
    for order in (-1, -2):
        sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record(f"req{order}", order))
    messages = aws.receive_messages(queue.environment, queue.url)
    real_group_records = grouping.group_records

    def refused_once(records):
        monkeypatch.setattr(grouping, "group_records", real_group_records)
        real_group_records(records)
        raise IntegrityError("UNIQUE constraint failed: queue, message_id")

    monkeypatch.setattr(grouping, "group_records", refused_once)

    stored = polling.store_batch(queue, messages)

    assert stored == 2
    assert ExecutionRecord.objects.count() == 2
    group = FailureGroup.objects.get()
    assert (group.count, group.backlog_count) == (2, 2)
    assert set(group.records.values_list("request_id", flat=True)) == {"req-1", "req-2"}


def test_it_stores_once_when_it_crashed_between_commit_and_delete(sqs, monkeypatch):
    queue = make_queue(sqs, "orders-on-failure")
    for order in (-1, -2, -3):
        sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record(f"req-{order}", order))
    real_delete = aws.delete_messages

    def crash_once(*args, **kwargs):
        monkeypatch.setattr(aws, "delete_messages", real_delete)
        raise RuntimeError("worker killed after the commit")

    monkeypatch.setattr(aws, "delete_messages", crash_once)

    crashed = poll(queue)
    assert ExecutionRecord.objects.count() == 3
    assert depth(sqs, queue) == 3
    redelivered = poll(queue)

    assert "worker killed" in crashed.error
    assert redelivered.received == 3
    assert redelivered.stored == 0
    assert redelivered.duplicates == 3
    assert ExecutionRecord.objects.count() == 3
    assert depth(sqs, queue) == 0
    queue.refresh_from_db()
    assert queue.records_stored == 3


def test_it_logs_a_partly_failed_batch_delete_and_deletes_the_rest_later(sqs, monkeypatch, caplog):
    queue = make_queue(sqs, "orders-on-failure")
    for order in range(-4, 0):
        sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record(f"req{order}", order))
    real_delete = aws.delete_messages

    def spoil_one_handle_once(environment, url, messages):
        monkeypatch.setattr(aws, "delete_messages", real_delete)
        spoiled = [dict(messages[0], ReceiptHandle="not-a-receipt-handle"), *messages[1:]]
        return real_delete(environment, url, spoiled)

    monkeypatch.setattr(aws, "delete_messages", spoil_one_handle_once)

    with caplog.at_level(logging.WARNING, logger="invocations.ingest.polling"):
        result = poll(queue)

    assert result.stored == 4
    assert result.delete_failures == 1
    assert "deleting 1 of 4 messages" in caplog.text
    assert "ReceiptHandleIsInvalid" in caplog.text
    queue.refresh_from_db()
    assert "1 message(s) could not be deleted" in queue.last_error
    # The one that stayed came back (visibility 0: within the same drain), was skipped as
    # already stored, and was deleted then.
    assert result.received == 5
    assert result.duplicates == 1
    assert ExecutionRecord.objects.count() == 4
    assert depth(sqs, queue) == 0


def test_it_keeps_polling_other_queues_when_one_is_broken(sqs):
    broken = WatchedQueue.objects.create(
        environment=Environment.objects.default(),
        url="https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue",
        kind="destination",
        function_name="orders",
    )
    good = make_queue(sqs, "orders-on-failure")
    sqs.send_message(QueueUrl=good.url, MessageBody=destination_record())

    outcome = polling.poll_all(wait_seconds=0)

    assert outcome.stored == 1
    assert [r.queue_name for r in outcome.failed] == ["no-such-queue"]
    broken.refresh_from_db()
    assert "NonExistentQueue" in broken.last_error
    assert broken.last_error_at is not None
    assert broken.last_polled_at is None
    good.refresh_from_db()
    assert good.records_stored == 1


def test_it_stores_an_aws_outage_as_the_queues_error(sqs):
    queue = make_queue(sqs, "orders-on-failure")
    env = queue.environment
    env.endpoint_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    env.save()
    aws.reset_clients()

    outcome = polling.poll_all(wait_seconds=0)

    queue.refresh_from_db()
    assert len(outcome.failed) == 1
    assert "EndpointConnectionError" in queue.last_error
    assert not queue.leases.filter(until__isnull=False).exists()  # its lease was released


def test_it_stores_an_unparsed_message_and_deletes_it(sqs):
    queue = make_queue(sqs, "orders-on-failure")
    sqs.send_message(QueueUrl=queue.url, MessageBody="this is not JSON {")

    poll(queue)

    record = ExecutionRecord.objects.get()
    assert record.kind == "unparsed"
    assert record.raw_body == "this is not JSON {"
    assert "not JSON" in record.parse_error
    assert depth(sqs, queue) == 0


def test_it_stores_a_dead_letter_with_the_queues_function_and_its_attributes(sqs):
    queue = make_queue(sqs, "orders-dlq", kind="dlq")
    sqs.send_message(
        QueueUrl=queue.url,
        MessageBody=json.dumps({"order": -1}),
        MessageAttributes={
            "RequestID": {"DataType": "String", "StringValue": REQUEST_ID},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": "order must be positive"},
        },
    )

    poll(queue)

    record = ExecutionRecord.objects.get()
    assert record.kind == "dlq"
    assert record.function_name == "orders"
    assert record.request_id == REQUEST_ID
    assert record.dlq_error_code == 200
    assert record.request_payload == {"order": -1}
    assert record.record_timestamp is not None  # from SentTimestamp
    assert record.message_attributes["ErrorMessage"]["StringValue"] == "order must be positive"


def test_it_drains_more_than_one_batch(sqs):
    queue = make_queue(sqs, "orders-on-failure")
    for start in range(0, 25, 10):
        entries = [
            {"Id": str(i), "MessageBody": destination_record(f"req-{i}", -i)}
            for i in range(start, min(start + 10, 25))
        ]
        sqs.send_message_batch(QueueUrl=queue.url, Entries=entries)

    result = poll(queue)

    assert result.stored == 25
    assert ExecutionRecord.objects.count() == 25
    assert depth(sqs, queue) == 0


def _fill(sqs, queue, count):
    for start in range(0, count, 10):
        entries = [
            {"Id": str(i), "MessageBody": destination_record(f"req-{i}", -i)}
            for i in range(start, min(start + 10, count))
        ]
        sqs.send_message_batch(QueueUrl=queue.url, Entries=entries)


def test_it_reads_ahead_on_a_deep_queue_and_stores_every_message_once(sqs, monkeypatch):
    queue = make_queue(sqs, "orders-on-failure", visibility="30")
    _fill(sqs, queue, 95)
    sizes, stored = [], []
    real_insert = polling._insert

    def insert(q, rows):
        sizes.append(len(rows))
        stored.append(real_insert(q, rows))
        return stored[-1]

    monkeypatch.setattr(polling, "_insert", insert)

    result = poll(queue)

    # Concurrent receives may see a message twice (SQS delivers at least once): a message seen
    # again in a later transaction reaches _insert again, and is stored once.
    assert (result.stored, result.error) == (95, "")
    assert result.received == result.stored + result.duplicates
    assert ExecutionRecord.objects.count() == 95
    assert depth(sqs, queue) == 0
    assert sum(stored) == 95
    assert len(sizes) > 1, "the poller should have stored in several transactions"
    assert max(sizes) <= 10 * polling.BATCHES_PER_COMMIT


def test_short_batches_never_make_a_transaction_hold_more_than_its_batches(sqs, monkeypatch):
    """SQS may answer with fewer than 10 messages while more wait. A transaction takes at most
    BATCHES_PER_COMMIT receives' worth (30 messages), however short the ones before were: with
    9 a receive, "fewer than 30 so far" would have let a fourth receive in (36)."""
    queue = make_queue(sqs, "orders-on-failure", visibility="30")
    _fill(sqs, queue, 95)
    real_receive = aws.receive_messages
    calls = []

    def nine_at_a_time(environment, url, wait_seconds=0):
        messages = real_receive(environment, url, wait_seconds=wait_seconds)
        calls.append(len(messages))
        if len(calls) == 1 or len(messages) < 10:
            return messages  # the first is whole, so that the poller reads ahead
        # The tenth goes back to the queue at once, as a message SQS did not hand out.
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=messages[-1]["ReceiptHandle"], VisibilityTimeout=0
        )
        return messages[:-1]

    sizes = []
    real_insert = polling._insert

    def insert(q, rows):
        sizes.append(len(rows))
        return real_insert(q, rows)

    monkeypatch.setattr(polling.aws, "receive_messages", nine_at_a_time)
    monkeypatch.setattr(polling, "_insert", insert)

    result = poll(queue)

    assert (result.stored, result.error) == (95, "")
    assert ExecutionRecord.objects.count() == 95
    assert depth(sqs, queue) == 0
    assert max(sizes) <= 10 * polling.BATCHES_PER_COMMIT


def test_batches_read_ahead_but_not_stored_are_visible_again_at_once(sqs, monkeypatch):
    from django.db import OperationalError

    queue = make_queue(sqs, "orders-on-failure", visibility="30")
    _fill(sqs, queue, 40)
    received = []
    real_receive = aws.receive_messages

    def receive(*args, **kwargs):
        messages = real_receive(*args, **kwargs)
        received.append(len(messages))
        return messages

    def refuse(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(aws, "receive_messages", receive)
    monkeypatch.setattr(polling, "_insert", refuse)

    result = poll(queue)

    assert "database is locked" in result.error
    assert len(received) > 1, "the poller should have read ahead"
    visible = sqs.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    # Nothing was stored: every batch received, the one being stored and those read ahead, is
    # visible again at once instead of after the 30 s visibility timeout.
    assert int(visible) == 40
    assert ExecutionRecord.objects.count() == 0


def test_it_does_not_read_ahead_when_the_visibility_timeout_is_0(sqs):
    # A receive sent while a batch is being stored would get that batch again.
    queue = make_queue(sqs, "orders-on-failure", visibility="0")
    _fill(sqs, queue, 25)

    result = poll(queue)

    assert (result.received, result.stored, result.duplicates) == (25, 25, 0)
    assert result.delete_failures == 0


def test_it_skips_a_queue_whose_leases_other_pollers_hold(sqs, settings):
    settings.POLL_LEASES_PER_QUEUE = 2
    queue = make_queue(sqs, "orders-on-failure")
    sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record())
    assert queue.claim(60)
    assert queue.claim(60)

    result = poll(queue)

    assert result.skipped
    assert ExecutionRecord.objects.count() == 0
    assert depth(sqs, queue) == 1


def test_a_pass_polls_first_the_queues_fewest_pollers_hold(sqs, settings):
    # Pollers that start together spread over the queues, then join those still draining.
    settings.POLL_LEASES_PER_QUEUE = 3
    busy, quiet = make_queue(sqs, "a-busy"), make_queue(sqs, "b-quiet")
    make_queue(sqs, "c-idle")
    busy.claim(60)
    busy.claim(60)
    quiet.claim(60)

    outcome = polling.poll_all(wait_seconds=0)

    assert [result.queue_name for result in outcome.results] == ["c-idle", "b-quiet", "a-busy"]
    assert not any(result.skipped for result in outcome.results)


def test_it_skips_a_disabled_queue(sqs):
    queue = make_queue(sqs, "orders-on-failure")
    WatchedQueue.objects.filter(pk=queue.pk).update(enabled=False)
    sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record())

    outcome = polling.poll_all(wait_seconds=0)

    assert outcome.results == []
    assert depth(sqs, queue) == 1


def test_it_links_records_to_the_invocation_whichever_arrives_first(sqs):
    env = Environment.objects.default()
    earlier = Invocation.objects.create(
        environment=env, function_name="orders", invocation_type="Event", request_id=REQUEST_ID
    )
    queue = make_queue(sqs, "orders-on-failure")
    sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record())
    sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record("later-request", -2))

    poll(queue)
    later = Invocation.objects.create(
        environment=env, function_name="orders", invocation_type="Event", request_id="later-request"
    )
    linked = ExecutionRecord.objects.link_to(later)

    assert ExecutionRecord.objects.get(request_id=REQUEST_ID).invocation == earlier
    assert linked == 1
    assert ExecutionRecord.objects.get(request_id="later-request").invocation == later


def test_it_stops_at_the_time_budget(sqs, monkeypatch):
    queue = make_queue(sqs, "orders-on-failure")
    entries = [{"Id": str(i), "MessageBody": destination_record(f"r{i}", -i)} for i in range(10)]
    sqs.send_message_batch(QueueUrl=queue.url, Entries=entries)
    sqs.send_message_batch(QueueUrl=queue.url, Entries=entries)  # new message IDs: 20 in all

    result = polling.poll_queue(queue, budget_seconds=0.000001, wait_seconds=0)

    assert result.received == 10
    assert depth(sqs, queue) == 10


def test_poll_queues_once_prints_what_it_stored(sqs, capsys):
    first = make_queue(sqs, "orders-on-failure")
    second = make_queue(sqs, "orders-dlq", kind="dlq")
    sqs.send_message(QueueUrl=first.url, MessageBody=destination_record())
    sqs.send_message(QueueUrl=second.url, MessageBody=json.dumps({"order": -1}))

    call_command("poll_queues", "--once", "--wait", "0")

    assert capsys.readouterr().out.strip() == "stored 2 records from 2 queues"


def test_poll_queues_once_fails_with_a_reason_when_a_queue_fails(sqs, capsys):
    from django.core.management import CommandError

    WatchedQueue.objects.create(
        environment=Environment.objects.default(),
        url="https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue",
        kind="dlq",
    )

    with pytest.raises(CommandError, match="1 of 1 queue failed"):
        call_command("poll_queues", "--once", "--wait", "0")

    captured = capsys.readouterr()
    assert "stored 0 records from 1 queue" in captured.out  # said right, not "1 queues"
    assert "no-such-queue" in captured.err


def test_the_poll_queues_task_polls_every_enabled_queue(sqs):
    from invocations import tasks

    queue = make_queue(sqs, "orders-on-failure")
    sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record())
    polling.RECEIVE_WAIT_SECONDS, saved = 0, polling.RECEIVE_WAIT_SECONDS
    try:
        stored = tasks.poll_queues.apply().get()
    finally:
        polling.RECEIVE_WAIT_SECONDS = saved

    assert stored == 1


def test_it_purges_old_records_in_chunks_and_audits_it_once(sqs):
    queue = make_queue(sqs, "orders-on-failure")
    for index in range(5):
        ExecutionRecord.objects.create(
            environment=queue.environment,
            queue=queue,
            message_id=f"m{index}",
            kind="unparsed",
            raw_body="x",
            parse_error="x",
        )
    ExecutionRecord.objects.filter(message_id__in=["m0", "m1", "m2"]).update(
        received_at=timezone.now() - timedelta(days=91)
    )

    deleted = retention.purge_old_records(days=90, chunk=2)

    assert deleted == 3
    assert sorted(ExecutionRecord.objects.values_list("message_id", flat=True)) == ["m3", "m4"]
    event = AuditEvent.objects.get(action="records.purge")
    assert event.actor_name == "system"
    assert event.details["deleted"] == 3


def test_a_record_stored_while_its_invocation_got_its_request_id_is_linked_after_the_commit(
    sqs, monkeypatch
):
    # The worker saves the Event invocation's request ID after the poller looked for it and
    # before the batch committed; on PostgreSQL the worker's own link then finds no record.
    queue = make_queue(sqs, "orders-on-failure")
    invocation = Invocation.objects.create(
        environment=queue.environment,
        function_name="orders",
        invocation_type=Invocation.Type.EVENT,
        status=Invocation.Status.ACCEPTED,
        attempts=1,
    )
    sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record())
    real_link_returns = polling.redrive.link_returns

    def request_id_saved_meanwhile(environment, rows):
        Invocation.objects.filter(pk=invocation.pk).update(request_id=REQUEST_ID)
        return real_link_returns(environment, rows)

    monkeypatch.setattr(polling.redrive, "link_returns", request_id_saved_meanwhile)

    poll(queue)

    record = ExecutionRecord.objects.get()
    invocation.refresh_from_db()
    assert record.invocation_id == invocation.pk
    assert (invocation.status, invocation.attempts) == (Invocation.Status.EVENT_FAILED, 3)
