"""/metrics: Prometheus text read from stored state, behind a bearer token."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from moto import mock_aws
from prometheus_client.parser import text_string_to_metric_families

from invocations import aws
from invocations.aws import clients
from invocations.ingest import polling, queue_depths
from invocations.models import Environment, Invocation, WatchedQueue

TOKEN = "s3cret-scrape-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def metrics_on(settings, db):
    settings.METRICS_TOKEN = TOKEN
    settings.CELERY_BROKER_URL = (
        "redis://127.0.0.1:9/0"  # closed: no broker unless a test starts one
    )
    return settings


def samples(response) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_it_is_off_without_a_token(client, db, settings):
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics", headers=AUTH)

    assert response.status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_a_missing_or_wrong_token_is_401(client, metrics_on, header):
    response = client.get("/metrics", headers={"Authorization": header} if header else {})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"lambda_triage" not in response.content


def test_it_reports_queues_invocations_and_a_broker_that_is_down(client, metrics_on, monkeypatch):
    env = Environment.objects.default()
    polled = timezone.now() - timedelta(seconds=42)
    WatchedQueue.objects.create(
        environment=env,
        url="https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq",
        kind="dlq",
        function_name="orders",
        records_stored=17,
        poll_errors=2,
        depth_visible=5,
        depth_in_flight=1,
        depth_checked_at=timezone.now(),
        last_polled_at=polled,
    )
    for status in ["succeeded", "succeeded", "function_error", "throttled"]:
        Invocation.objects.create(environment=env, function_name="orders", status=status)

    def no_aws(*args, **kwargs):
        raise AssertionError("a scrape must not call AWS")

    # Where every service module gets its client, so no AWS call can slip past it.
    monkeypatch.setattr(clients, "client", no_aws)

    response = client.get("/metrics", headers=AUTH)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response)
    queue = (
        ("environment", env.name),
        ("function", "orders"),
        ("kind", "dlq"),
        ("queue", "orders-dlq"),
    )
    assert found["lambda_triage_queue_messages_visible", queue] == 5
    assert found["lambda_triage_queue_messages_in_flight", queue] == 1
    assert found["lambda_triage_queue_records_stored_total", queue] == 17
    assert found["lambda_triage_queue_poll_errors_total", queue] == 2
    assert 42 <= found["lambda_triage_queue_poll_lag_seconds", queue] < 100
    assert found["lambda_triage_queue_poll_failing", queue] == 0
    by_status = {
        dict(labels)["status"]: value
        for (name, labels), value in found.items()
        if name == "lambda_triage_invocations_total"
    }
    assert by_status == {"succeeded": 2, "function_error": 1, "throttled": 1}
    assert found["lambda_triage_broker_up", ()] == 0


@pytest.mark.broker
def test_it_counts_the_tasks_waiting_in_redis(client, metrics_on, redis_server):
    from dashboard.celery import app

    metrics_on.CELERY_BROKER_URL = redis_server.url
    for _ in range(3):  # no worker runs: they wait in the queue
        app.send_task("invocations.tasks.requeue_unsent")

    found = samples(client.get("/metrics", headers=AUTH))

    assert found["lambda_triage_broker_up", ()] == 1
    assert found["lambda_triage_task_backlog", (("queue", "celery"),)] >= 3


@pytest.fixture
def sqs(db):
    with mock_aws():
        aws.reset_clients()
        yield aws.client(Environment.objects.default(), "sqs")
    aws.reset_clients()


def test_the_beat_task_stores_each_queues_depth_for_the_scrape(client, metrics_on, sqs):
    url = sqs.create_queue(QueueName="orders-on-failure")["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))
    WatchedQueue.objects.create(
        environment=Environment.objects.default(), url=url, kind="destination"
    )

    measured = queue_depths.measure_all()
    found = samples(client.get("/metrics", headers=AUTH))

    assert measured == 1
    depth = [
        value
        for (name, labels), value in found.items()
        if name == "lambda_triage_queue_messages_visible"
    ]
    assert depth == [3]


def test_a_failed_poll_is_counted(client, metrics_on, sqs):
    url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    queue = WatchedQueue.objects.create(
        environment=Environment.objects.default(), url=url, kind="dlq", function_name="orders"
    )
    sqs.delete_queue(QueueUrl=url)

    polling.poll_queue(queue, budget_seconds=5, wait_seconds=0)
    polling.poll_queue(queue, budget_seconds=5, wait_seconds=0)
    found = samples(client.get("/metrics", headers=AUTH))

    errors = [v for (n, _), v in found.items() if n == "lambda_triage_queue_poll_errors_total"]
    failing = [v for (n, _), v in found.items() if n == "lambda_triage_queue_poll_failing"]
    assert errors == [2]
    assert failing == [1]
