"""Send back to queue: the page hands the dead letters to the worker, which sends each one with
its attributes and audits it; the triage page shows the outcome."""

import json

import pytest
from celery import current_app
from django.urls import reverse
from moto import mock_aws

from invocations import aws, tasks
from invocations.models import AuditEvent, Environment, ExecutionRecord
from tests import factories

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def moto_env(db):
    with mock_aws():
        aws.reset_clients()
        yield Environment.objects.default()
    aws.reset_clients()


@pytest.fixture
def sent_tasks(monkeypatch):
    sent = []
    monkeypatch.setattr(
        current_app, "send_task", lambda name, args=(), **options: sent.append((name, args))
    )
    return sent


def _dead_letter(body: str) -> ExecutionRecord:
    record = factories.failure_record(kind=ExecutionRecord.Kind.DLQ)
    record.raw_body = body
    record.message_attributes = {
        "ErrorCode": {"DataType": "String", "StringValue": "200"},
    }
    record.save(update_fields=["raw_body", "message_attributes"])
    return record


def test_the_worker_sends_the_dead_letters_back_and_the_page_shows_it(
    client, alice, moto_env, sent_tasks, django_capture_on_commit_callbacks
):
    sqs = aws.client(moto_env, "sqs")
    target = sqs.create_queue(QueueName="orders-retry")["QueueUrl"]
    first, second = _dead_letter('{"order": 1}'), _dead_letter('{"order": 2}')
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("redrive"),
            {"records": f"{first.pk},{second.pk}", "queue_url": target},
        )
    running = client.get(reverse("triage")).content.decode()
    [(name, args)] = sent_tasks
    sent = tasks.redrive_records(*args)
    page = client.get(reverse("triage")).content.decode()
    received = sqs.receive_message(
        QueueUrl=target, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]

    assert response.status_code == 302
    assert name == "invocations.tasks.redrive_records"
    assert "running in the worker" in running
    assert sent == 2
    assert sorted(json.loads(m["Body"])["order"] for m in received) == [1, 2]
    assert all(m["MessageAttributes"]["ErrorCode"]["StringValue"] == "200" for m in received)
    assert AuditEvent.objects.filter(action="record.redrive", actor=alice).count() == 2
    assert "Sent 2 of 2 dead letters back to orders-retry" in page


def test_a_refused_send_stops_and_says_why(db, alice, moto_env):
    record = _dead_letter('{"order": 1}')
    missing = "https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue"

    sent = tasks.redrive_records([record.pk], missing, alice.pk)

    event = AuditEvent.objects.get(action="records.redrive")
    assert sent == 0
    assert event.details["error"]
    assert event.summary.startswith("Sent 0 of 1 dead letters back to no-such-queue; stopped:")
