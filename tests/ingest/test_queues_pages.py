"""The queues page, its actions, discovery and the watch_queue / discover_queues commands."""

import io
import json
import zipfile

import pytest
from celery import current_app
from django.core.management import CommandError, call_command
from django.urls import reverse
from moto import mock_aws

from invocations import aws, tasks
from invocations.models import AuditEvent, Environment, WatchedQueue

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def env(db):
    return Environment.objects.default()


@pytest.fixture
def moto_aws(env):
    with mock_aws():
        aws.reset_clients()
        yield env
    aws.reset_clients()


@pytest.fixture
def queue(env):
    return WatchedQueue.objects.create(
        environment=env,
        url="https://sqs.us-east-1.amazonaws.com/123456789012/orders-on-failure",
        kind="destination",
        function_name="orders",
    )


@pytest.fixture
def queued_polls(monkeypatch):
    calls = []

    # The broker is outside this test: record what the page sends instead.
    def send_task(name, args=(), **options):
        if name == "invocations.tasks.poll_queue":
            calls.append(tuple(args))

    monkeypatch.setattr(current_app, "send_task", send_task)
    return calls


def test_it_lists_the_watched_queues_for_a_viewer_without_actions(client, bob, queue):
    client.force_login(bob)

    response = client.get(reverse("queues"))

    body = response.content.decode()
    assert response.status_code == 200
    assert "orders-on-failure" in body
    assert "Poll now" not in body
    assert "Discover" not in body


def test_it_shows_the_actions_and_the_depth_loader_to_an_admin(client, admin_user, queue):
    client.force_login(admin_user)

    body = client.get(reverse("queues")).content.decode()

    assert "Poll now" in body and "Disable" in body and "Discover" in body
    assert reverse("queue-depth", args=[queue.pk]) in body


def test_it_shows_the_approximate_depth(client, bob, moto_aws):
    sqs = aws.client(moto_aws, "sqs")
    url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    for _ in range(3):
        sqs.send_message(QueueUrl=url, MessageBody="{}")
    queue = WatchedQueue.objects.create(environment=moto_aws, url=url, kind="dlq")
    client.force_login(bob)

    response = client.get(reverse("queue-depth", args=[queue.pk]))

    assert response.content.decode().strip().startswith("3")


def test_the_depth_of_a_missing_queue_is_unavailable_not_an_error(client, bob, moto_aws, queue):
    client.force_login(bob)

    response = client.get(reverse("queue-depth", args=[queue.pk]))

    assert response.status_code == 200
    assert "unavailable" in response.content.decode()
    assert "NonExistentQueue" in response.content.decode()


def test_a_viewer_cannot_disable_a_queue(client, bob, queue):
    client.force_login(bob)

    response = client.post(reverse("queue-toggle", args=[queue.pk]))

    queue.refresh_from_db()
    assert response.status_code == 403
    assert queue.enabled


def test_an_admin_disables_a_queue_and_htmx_gets_the_row_and_it_is_audited(
    client, admin_user, queue
):
    client.force_login(admin_user)

    response = client.post(reverse("queue-toggle", args=[queue.pk]), headers={"HX-Request": "true"})

    queue.refresh_from_db()
    body = response.content.decode()
    assert not queue.enabled
    assert body.lstrip().startswith(f'<tr id="queue-{queue.pk}"')
    assert "Enable" in body
    event = AuditEvent.objects.get(action="queue.disable")
    assert event.actor == admin_user
    assert event.target_id == str(queue.pk)


def test_poll_now_enqueues_the_task_after_commit_and_is_audited(
    client, admin_user, queue, queued_polls, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("queue-poll", args=[queue.pk]))

    assert response.status_code == 302
    assert queued_polls == [(queue.pk,)]
    assert AuditEvent.objects.filter(action="queue.poll", actor=admin_user).count() == 1


def test_poll_needs_a_post(client, admin_user, queue, queued_polls):
    client.force_login(admin_user)

    response = client.get(reverse("queue-poll", args=[queue.pk]))

    assert response.status_code == 405
    assert queued_polls == []


def test_an_admin_watches_a_queue_by_url(client, admin_user, moto_aws):
    url = aws.client(moto_aws, "sqs").create_queue(QueueName="billing-dlq")["QueueUrl"]
    client.force_login(admin_user)

    response = client.post(
        reverse("queues-watch"), {"url": url, "kind": "dlq", "function": "billing"}
    )

    assert response.status_code == 302
    queue = WatchedQueue.objects.get()
    assert (queue.kind, queue.function_name) == ("dlq", "billing")
    assert AuditEvent.objects.filter(action="queue.watch", actor=admin_user).exists()


def test_watching_a_queue_that_does_not_exist_is_refused_on_the_form(client, admin_user, moto_aws):
    client.force_login(admin_user)

    response = client.post(
        reverse("queues-watch"),
        {
            "url": "https://sqs.us-east-1.amazonaws.com/123456789012/billing-dql",
            "kind": "dlq",
            "function": "billing",
        },
    )

    assert response.status_code == 400
    assert "SQS says it does not exist" in response.text
    assert 'value="https://sqs.us-east-1.amazonaws.com/123456789012/billing-dql"' in response.text
    assert not WatchedQueue.objects.exists()


def test_watch_queue_command_watches_once_and_audits(env, capsys):
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"

    call_command("watch_queue", url, "--kind", "dlq", "--function", "orders")
    call_command("watch_queue", url, "--kind", "dlq", "--function", "orders")

    queue = WatchedQueue.objects.get()
    assert (queue.kind, queue.function_name, queue.environment) == ("dlq", "orders", env)
    assert "watching " + url in capsys.readouterr().out
    assert AuditEvent.objects.filter(action="queue.watch", actor_name="system").count() == 2


def test_watch_queue_command_refuses_a_bad_url(env):
    with pytest.raises(CommandError, match="url"):
        call_command("watch_queue", "not a url", "--kind", "dlq")


def _function(lam, name):
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("lambda_function.py", "def lambda_handler(e, c):\n    return e\n")
    iam = aws.client(Environment.objects.default(), "iam")
    try:
        role = iam.get_role(RoleName="r")["Role"]["Arn"]
    except Exception:
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({}))["Role"]["Arn"]
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": code.getvalue()},
    )


def _arn(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


@pytest.fixture
def functions_with_targets(moto_aws):
    """orders: an OnFailure queue; notify: OnFailure to an SNS topic with one queue subscribed;
    lonely: OnFailure to a topic nobody subscribed to. (moto drops DeadLetterConfig, so the DLQ
    is discovered in the sandbox test, whose moto keeps it.)"""
    sqs, lam, sns = (aws.client(moto_aws, s) for s in ("sqs", "lambda", "sns"))
    failures = sqs.create_queue(QueueName="orders-on-failure")["QueueUrl"]
    notify_queue = sqs.create_queue(QueueName="notify-on-failure")["QueueUrl"]
    _function(lam, "orders")
    lam.put_function_event_invoke_config(
        FunctionName="orders",
        DestinationConfig={"OnFailure": {"Destination": _arn(sqs, failures)}},
    )
    topic = sns.create_topic(Name="notify-failures")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=_arn(sqs, notify_queue))
    _function(lam, "notify")
    lam.put_function_event_invoke_config(
        FunctionName="notify", DestinationConfig={"OnFailure": {"Destination": topic}}
    )
    lonely = sns.create_topic(Name="lonely-topic")["TopicArn"]
    _function(lam, "lonely")
    lam.put_function_event_invoke_config(
        FunctionName="lonely", DestinationConfig={"OnFailure": {"Destination": lonely}}
    )
    return {"failures": failures, "notify": notify_queue, "lonely": lonely}


def test_discover_runs_in_the_worker_watches_queues_follows_topics_and_explains_the_rest(
    client, admin_user, functions_with_targets, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        current_app, "send_task", lambda name, args=(), **options: sent.append((name, args))
    )
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("queues-discover"))
    running = client.get(reverse("queues")).content.decode()
    # The worker's side: the task the page sent, run as the worker would.
    [(name, args)] = sent
    tasks.discover_queues(*args)
    body = client.get(reverse("queues")).content.decode()

    assert response.status_code == 302
    assert name == "invocations.tasks.discover_queues"
    assert "Running in the worker" in running
    watched = {q.url: (q.kind, q.function_name) for q in WatchedQueue.objects.all()}
    assert watched == {
        functions_with_targets["failures"]: ("destination", "orders"),
        functions_with_targets["notify"]: ("destination", "notify"),
    }
    assert "Running in the worker" not in body
    assert "Not pollable directly" in body
    assert "lonely-topic" in body
    assert "aws sns subscribe --topic-arn " + functions_with_targets["lonely"] in body
    event = AuditEvent.objects.get(action="queue.discover")
    assert event.actor == admin_user
    assert len(event.details["added"]) == 2


def test_discover_twice_adds_nothing_the_second_time(functions_with_targets, capsys):
    call_command("discover_queues")
    capsys.readouterr()

    call_command("discover_queues")

    out = capsys.readouterr().out
    assert WatchedQueue.objects.count() == 2
    assert "0 queues added, 2 already watched, 1 target not pollable directly" in out
    assert "not pollable directly: lonely OnFailure" in out


def test_a_viewer_cannot_discover(client, bob, moto_aws):
    client.force_login(bob)

    response = client.post(reverse("queues-discover"))

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="queue.discover").exists()


def test_discover_follows_an_sqs_fed_functions_source_queue_to_its_redrive_dlq(
    client, admin_user, moto_aws, monkeypatch, django_capture_on_commit_callbacks
):
    sqs, lam = aws.client(moto_aws, "sqs"), aws.client(moto_aws, "lambda")
    dlq = sqs.create_queue(QueueName="worker-dlq")["QueueUrl"]
    source = sqs.create_queue(
        QueueName="worker-input",
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": "3"}
            )
        },
    )["QueueUrl"]
    _function(lam, "worker")
    lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=_arn(sqs, source))
    sent = []
    monkeypatch.setattr(
        current_app, "send_task", lambda name, args=(), **options: sent.append((name, args))
    )
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("queues-discover"))
    [(_, args)] = sent
    tasks.discover_queues(*args)
    page = client.get(reverse("queues")).content.decode()

    queue = WatchedQueue.objects.get()
    assert (queue.url, queue.kind, queue.function_name) == (dlq, "dlq", "worker")
    assert "1 queue added, 0 already watched, 0 targets not pollable directly" in page
