"""Protected environments: a replay or redrive is confirmed by typing the target's name, even for
a dead letter that names no function; a replay batch is seen and cancelled only from a session
in its own environment."""

import pytest
from django.urls import reverse

from invocations.models import AuditEvent, Environment, ExecutionRecord, ReplayBatch
from tests import factories

pytestmark = pytest.mark.django_db
QUEUE_URL = "http://127.0.0.1:4566/123456789012/orders-source"


@pytest.fixture
def production(db):
    env = Environment.objects.default()
    env.protected = True
    env.save()
    return env


@pytest.fixture
def staging(db):
    return Environment.objects.create(name="staging", region="us-east-1")


def _nameless_dead_letter():
    record = factories.failure_record(kind=ExecutionRecord.Kind.DLQ)
    ExecutionRecord.objects.filter(pk=record.pk).update(function_name="", function_arn="")
    return record


def test_a_redrive_of_a_nameless_dead_letter_asks_for_the_queue_name(client, alice, production):
    record = _nameless_dead_letter()
    client.force_login(alice)

    unconfirmed = client.post(
        reverse("redrive"),
        {"records": record.pk, "queue_url": QUEUE_URL, "confirm_name": ""},
        follow=True,
    )

    assert "type the queue name (orders-source)" in unconfirmed.content.decode()
    assert not AuditEvent.objects.filter(action="record.redrive").exists()


def test_a_replay_of_a_nameless_dead_letter_asks_for_the_function_name(client, alice, production):
    record = _nameless_dead_letter()
    client.force_login(alice)

    unconfirmed = client.post(
        reverse("replay-start"), {"records": record.pk, "function": "orders", "confirm_name": ""}
    )
    nameless = client.post(reverse("replay-start"), {"records": record.pk, "confirm_name": ""})

    assert unconfirmed.status_code == nameless.status_code == 302
    assert not ReplayBatch.objects.exists()


def test_a_replay_into_a_protected_environment_is_confirmed_by_the_target_name(
    client, alice, production
):
    record = _nameless_dead_letter()
    client.force_login(alice)

    response = client.post(
        reverse("replay-start"),
        {"records": record.pk, "function": "orders", "confirm_name": "orders"},
    )

    batch = ReplayBatch.objects.get()
    assert response["Location"] == reverse("replay-batch", args=[batch.pk])
    assert batch.function_name == "orders"


def test_a_protected_batch_opened_from_another_environment_is_shown_in_its_own(
    client, alice, production, staging
):
    record = factories.failure_record()
    batch = ReplayBatch.objects.create(
        environment=production, function_name="orders", record_ids=[record.pk]
    )
    client.force_login(alice)
    client.post(reverse("environment-switch"), {"environment": staging.pk})

    page = client.get(reverse("replay-batch", args=[batch.pk]))

    # A link to the batch opens it in production, under production's protected band.
    assert page.status_code == 200
    assert "env-protected" in page.content.decode()


def test_the_batch_is_seen_from_its_own_environment(client, alice, production):
    record = factories.failure_record()
    batch = ReplayBatch.objects.create(
        environment=production, function_name="orders", record_ids=[record.pk]
    )
    client.force_login(alice)

    assert client.get(reverse("replay-batch", args=[batch.pk])).status_code == 200
