"""Editing a payload before replay needs the raw-payload permission: without it the plan shows
no edit box (the payload would be raw) and the stored payload is replayed as stored. Shared
templates of other people are redacted like every other payload."""

import pytest
from django.urls import reverse

from invocations.models import Environment, Function, PayloadTemplate, ReplayBatch
from tests import factories

pytestmark = pytest.mark.django_db
SECRET_PAYLOAD = {"user": "ann", "password": "hunter2"}


@pytest.fixture
def record(db):
    return factories.failure_record(payload=SECRET_PAYLOAD)


def test_a_triager_sees_no_raw_payload_and_no_edit_box_in_the_plan(client, alice, record):
    client.force_login(alice)

    page = client.get("/replay/", {"records": record.pk})

    body = page.content.decode()
    assert page.status_code == 200
    assert "hunter2" not in body
    assert 'name="payload"' not in body
    assert "raw-payload permission" in body


def test_an_admin_can_edit_the_raw_payload(client, admin_user, record):
    client.force_login(admin_user)

    body = client.get("/replay/", {"records": record.pk}).content.decode()

    assert 'name="payload"' in body
    assert "hunter2" in body


def test_a_triager_posting_an_edited_payload_is_refused(client, alice, record):
    client.force_login(alice)

    response = client.post(
        reverse("replay-start"), {"records": record.pk, "payload": '{"password": "[redacted]"}'}
    )

    assert response.status_code == 302
    assert not ReplayBatch.objects.exists()


def test_a_triager_replays_the_stored_payload_as_stored(client, alice, record):
    client.force_login(alice)

    response = client.post(reverse("replay-start"), {"records": record.pk})

    batch = ReplayBatch.objects.get()
    assert response["Location"] == reverse("replay-batch", args=[batch.pk])
    assert batch.payload_override == ""


def test_another_persons_shared_template_is_redacted_for_a_triager(client, alice, admin_user):
    env = Environment.objects.default()
    function = Function.objects.create(environment=env, name="hello")
    shared = PayloadTemplate.objects.create(
        function=function,
        name="login",
        owner=admin_user,
        shared=True,
        payload='{"user": "ann", "password": "hunter2"}',
    )
    client.force_login(alice)

    page = client.get(reverse("function", args=["hello"]), {"template": shared.pk})

    assert "hunter2" not in page.context["form"].initial["payload"]
    assert "hunter2" not in page.content.decode()
