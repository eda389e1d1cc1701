import pytest
from django.test import override_settings

from tests.conftest import free_port


@pytest.mark.django_db
def test_it_reports_a_stopped_broker_as_down_on_a_503_page(client):
    unused = f"redis://127.0.0.1:{free_port()}/0"

    with override_settings(CELERY_BROKER_URL=unused):
        response = client.get("/health/?format=json")
        page = client.get("/health/")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False
    assert "Redis unreachable" in checks["broker"]["reason"]
    assert checks["workers"]["ok"] is False
    assert checks["database"]["ok"] is True
    assert response.json()["ok"] is False
    assert page.status_code == 503
    assert b"something is down" in page.content


@pytest.mark.django_db
def test_it_reports_the_broker_up_when_redis_answers(client, redis_server):
    response = client.get("/health/?format=json")

    assert response.json()["checks"]["broker"] == {"ok": True, "reason": "Redis answering"}


@pytest.mark.django_db
def test_it_reports_an_unreachable_aws_endpoint_as_degraded(client):
    from invocations.models import Environment

    env = Environment.objects.default()
    env.endpoint_url = f"http://127.0.0.1:{free_port()}"
    env.save()

    checks = client.get("/health/?format=json").json()["checks"]

    assert checks["aws:default"]["ok"] is False
    assert "Lambda API call failed" in checks["aws:default"]["reason"]
    assert env.endpoint_url not in checks["aws:default"]["reason"]


def _publish_waiting_task(app):
    """A real task message in the broker, as web or beat would send it, with no worker."""
    app.send_task("invocations.tasks.poll_queues")


@pytest.fixture
def broker_app(redis_server):
    import redis as redis_lib

    from dashboard.celery import app

    client = redis_lib.Redis.from_url(redis_server.url)
    client.flushdb()
    yield app, client
    client.flushdb()


@pytest.mark.django_db
def test_a_watched_queue_that_fails_every_poll_makes_health_degraded(client, broker_app):
    from django.utils import timezone

    from invocations.models import Environment, WatchedQueue

    WatchedQueue.objects.create(
        environment=Environment.objects.default(),
        url="http://127.0.0.1:4566/123456789012/orders-dlq",
        kind="dlq",
        last_polled_at=timezone.now() - timezone.timedelta(minutes=5),
        last_error="AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist",
        last_error_at=timezone.now(),
    )

    answer = client.get("/health/?format=json").json()
    page = client.get("/health/").text

    assert answer["status"] in {"degraded", "down"} and answer["ok"] is False
    assert answer["checks"]["queues"]["ok"] is False
    assert "orders-dlq (default) failing" in answer["checks"]["queues"]["reason"]
    assert "AWS.SimpleQueueService.NonExistentQueue" in answer["checks"]["queues"]["reason"]
    assert "orders-dlq (default) failing" in page


@pytest.mark.django_db
def test_an_environment_whose_aws_calls_fail_is_named(client):
    from invocations.models import Environment

    Environment.objects.default()
    Environment.objects.create(name="staging", endpoint_url=f"http://127.0.0.1:{free_port()}")

    answer = client.get("/health/?format=json").json()

    assert any(
        reason.startswith("environment staging: Lambda API call failed")
        for reason in answer["reasons"]
    )


@pytest.mark.django_db
def test_beat_that_has_not_run_is_degraded_until_it_sends_a_task(client, broker_app):
    from invocations.ops import heartbeat

    app, _ = broker_app
    before = client.get("/health/?format=json").json()["checks"]["beat"]
    heartbeat.mark_beat()  # this test process plays beat
    try:
        _publish_waiting_task(app)
    finally:
        heartbeat._in_beat = False
    after = client.get("/health/?format=json").json()["checks"]["beat"]

    assert before == {"ok": False, "reason": "beat has not sent any task"}
    assert after["ok"] is True


@pytest.mark.django_db
def test_a_task_waiting_over_a_minute_for_a_worker_is_degraded(client, broker_app):
    import json

    from invocations.ops import heartbeat

    app, redis_client = broker_app
    _publish_waiting_task(app)
    fresh = client.get("/health/?format=json").json()["checks"]["backlog"]
    # The same message, as if it had been published two minutes ago.
    message = json.loads(redis_client.lindex(heartbeat.TASK_QUEUE, -1))
    message["headers"][heartbeat.SENT_AT_HEADER] -= 120
    redis_client.lset(heartbeat.TASK_QUEUE, -1, json.dumps(message))

    answer = client.get("/health/?format=json").json()

    assert fresh["ok"] is True
    assert answer["checks"]["backlog"]["ok"] is False
    assert "the oldest task has waited 12" in answer["checks"]["backlog"]["reason"]
    assert answer["status"] in {"degraded", "down"}


@pytest.mark.django_db
def test_health_is_linked_from_the_top_bar(client, bob):
    client.force_login(bob)

    page = client.get("/").text

    assert '<a href="/health/"' in page


@pytest.mark.sandbox
def test_a_fresh_sandbox_s_permission_line_is_up_not_a_failed_check(client, sandbox_env):
    """`make run`'s sandbox checks no IAM: its answer to the permission check's
    SimulatePrincipalPolicy is "allowed", so a new install's Health page is not degraded by a
    check that could not be made."""
    from django.core.cache import cache

    cache.clear()  # the page reuses a permission check for ten minutes

    checks = client.get("/health/?format=json").json()["checks"]

    line = checks[f"permissions:{sandbox_env.name}"]
    assert line["ok"] is True, line
    assert "failed" not in line["reason"]
