"""The invoke form: bad input never reaches AWS, a valid POST enqueues after commit."""

import json

import pytest
from django.urls import reverse

from invocations.models import AuditEvent, Environment, Function, Invocation


@pytest.fixture
def hello(db):
    return Function.objects.create(environment=Environment.objects.default(), name="hello")


def post(client, name, **data):
    fields = {"invocation_type": "RequestResponse", "qualifier": "$LATEST", "payload": "{}"}
    fields.update(data)
    return client.post(reverse("function-invoke", args=[name]), fields)


def test_it_shows_bad_json_as_a_form_error_with_line_and_column(client, alice, hello):
    client.force_login(alice)

    response = post(client, "hello", payload='{\n  "name": "x",\n}')

    assert response.status_code == 400
    assert "Not valid JSON" in response.text
    assert "line 3, column 1" in response.text
    assert not Invocation.objects.exists()


def test_it_refuses_an_async_payload_over_one_megabyte(client, alice, hello):
    client.force_login(alice)
    big = json.dumps({"blob": "x" * (1024 * 1024)})

    response = post(client, "hello", payload=big, invocation_type="Event")

    assert response.status_code == 400
    assert "Event invocations take at most 1 MB" in response.text
    assert not Invocation.objects.exists()


def test_it_takes_the_same_payload_synchronously(
    client, alice, hello, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    big = json.dumps({"blob": "x" * (1024 * 1024)})

    with django_capture_on_commit_callbacks(execute=False):
        response = post(client, "hello", payload=big)

    assert response.status_code == 302
    assert Invocation.objects.get().payload == big


def test_it_refuses_a_function_outside_the_allowed_patterns(client, alice, db):
    env = Environment.objects.default()
    env.allowed_functions = "orders-*"
    env.save()
    Function.objects.create(environment=env, name="billing")
    client.force_login(alice)

    response = post(client, "billing")

    assert response.status_code == 400
    assert "billing is not among the functions environment" in response.text
    assert not Invocation.objects.exists()


def test_a_protected_environment_wants_the_function_name_typed(
    client, alice, hello, django_capture_on_commit_callbacks
):
    env = hello.environment
    env.protected = True
    env.save()
    client.force_login(alice)

    refused = post(client, "hello", confirm_name="helo")
    with django_capture_on_commit_callbacks(execute=False):
        accepted = post(client, "hello", confirm_name="hello")

    assert refused.status_code == 400
    assert "type the function name exactly" in refused.text
    assert accepted.status_code == 302
    assert Invocation.objects.count() == 1


def test_a_viewer_cannot_invoke(client, bob, hello):
    client.force_login(bob)

    response = post(client, "hello")

    assert response.status_code == 403
    assert not Invocation.objects.exists()


def test_a_valid_post_enqueues_the_task_only_after_the_commit(
    client, alice, hello, redis_server, django_capture_on_commit_callbacks
):
    import redis

    broker = redis.Redis.from_url(redis_server.url)
    broker.delete("celery")
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(client, "hello", payload='{"name": "Ada"}')
    queued_before_commit = broker.llen("celery")
    for callback in callbacks:
        callback()

    invocation = Invocation.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("invocation", args=[invocation.pk])
    assert invocation.status == Invocation.Status.QUEUED
    assert invocation.requested_by == alice
    assert queued_before_commit == 0
    assert len(callbacks) == 1
    message = json.loads(broker.lpop("celery"))
    assert message["headers"]["task"] == "invocations.tasks.run_invocation"
    assert json.loads(message["headers"]["argsrepr"].replace("(", "[").replace(",)", "]")) == [
        invocation.pk
    ]
    event = AuditEvent.objects.get(action="function.invoke")
    assert event.actor == alice
    assert event.target_id == str(invocation.pk)


def test_a_template_can_be_saved_and_loaded(client, alice, hello):
    client.force_login(alice)

    saved = client.post(
        reverse("template-save", args=["hello"]),
        {"name": "Ada", "payload": '{"name": "Ada"}', "shared": "on"},
    )
    page = client.get(saved.url)

    assert saved.status_code == 302
    assert "Payload loaded from Ada" in page.text
    assert "&quot;name&quot;: &quot;Ada&quot;" in page.text
    assert AuditEvent.objects.filter(action="template.create").count() == 1


def test_a_builtin_template_fills_the_payload(client, alice, hello):
    client.force_login(alice)

    page = client.get(reverse("function", args=["hello"]) + "?template=builtin:apigw-login")

    assert page.status_code == 200
    assert "&quot;httpMethod&quot;: &quot;POST&quot;" in page.text


def test_it_refuses_a_synchronous_payload_over_six_megabytes(client, alice, hello):
    client.force_login(alice)
    big = json.dumps({"blob": "x" * (6 * 1024 * 1024)})

    response = post(client, "hello", payload=big)

    assert response.status_code == 400
    assert "RequestResponse invocations take at most 6 MB" in response.text
    assert not Invocation.objects.exists()
