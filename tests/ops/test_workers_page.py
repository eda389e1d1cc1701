"""The Workers page (Admin): the workers' answer through a real worker, the tasks waiting in
Redis with the oldest one's age, work in progress that looks stuck, and queue polls."""

import re
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invocations.models import Environment, Invocation, WatchedQueue
from invocations.ops import sending, workers


def page_until(client, text: str, seconds: float = 20.0):
    """The page, fetched again until it contains `text` (the worker answers in its own time)."""
    deadline = time.monotonic() + seconds
    while True:
        page = client.get(reverse("workers"))
        if text in page.text or time.monotonic() > deadline:
            return page
        time.sleep(0.2)


@pytest.fixture
def empty_broker(redis_server):
    """No task waiting (only the queue is emptied: kombu's bindings must stay)."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.delete(workers.QUEUE, workers.ANSWER_KEY, workers.ASKED_KEY)
    return redis_server


@pytest.mark.broker
def test_it_shows_the_workers_answer_and_their_concurrency(
    client, admin_user, celery_worker, empty_broker
):
    client.force_login(admin_user)

    first = client.get(reverse("workers"))
    page = page_until(client, "data-worker=")

    assert first.status_code == 200
    assert "Asking the workers" in first.text
    assert "data-worker=" in page.text
    row = page.text.split("data-worker=", 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">4</td>' in row  # the test worker's concurrency
    assert re.search(r'<td class="num">up \d+ (s|min)</td>', row)  # it started with this test


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (None, "—"),
        (0, "up 0 s"),
        (59, "up 59 s"),
        (60, "up 1 min"),
        (12 * 60 + 59, "up 12 min"),
        (3600, "up 1 h"),
        (3 * 3600 + 5 * 60 + 7, "up 3 h 5 min"),
        (2 * 86400 + 4 * 3600 + 120, "up 2 d 4 h"),
        (86400, "up 1 d"),
    ],
)
def test_uptime_reads_as_a_person_says_it(seconds, said):
    from invocations.templatetags.display import uptime

    assert uptime(seconds) == said


@pytest.mark.broker
def test_it_counts_waiting_tasks_and_the_oldest_ones_age(client, admin_user, db, empty_broker):
    sending.send(sending.SYNC_FUNCTIONS, 1)
    time.sleep(1.1)  # the age being measured, not a wait for a condition
    sending.send(sending.SYNC_FUNCTIONS, 2)
    client.force_login(admin_user)

    found = workers.task_queue()
    page = client.get(reverse("workers"))

    assert found.waiting == 2
    assert found.oldest_task == sending.SYNC_FUNCTIONS
    assert 1.0 <= found.oldest_age < 30
    # The page itself asked the workers (a third task, waiting too: no worker runs here).
    assert "<strong data-tasks-waiting>3</strong> waiting" in page.text
    assert "invocations.tasks.sync_functions × 2" in page.text
    assert "invocations.tasks.inspect_workers × 1" in page.text
    assert "Asking the workers" in page.text


def test_stuck_work_links_to_its_page_and_late_polls_are_marked(client, admin_user, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # Redis down: said on the page
    env = Environment.objects.default()
    stuck = Invocation.objects.create(environment=env, function_name="hello", status="queued")
    Invocation.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    fresh = Invocation.objects.create(environment=env, function_name="hello", status="running")
    Invocation.objects.filter(pk=fresh.pk).update(started_at=timezone.now())
    WatchedQueue.objects.create(
        environment=env,
        url="http://127.0.0.1:9/123456789012/orders-dlq",
        kind="dlq",
        last_polled_at=timezone.now() - timedelta(hours=1),
        last_poll_seconds=0.25,
    )
    client.force_login(admin_user)

    page = client.get(reverse("workers"))

    assert page.status_code == 200
    assert "Redis did not answer" in page.text
    link = reverse("invocation", args=[stuck.pk])
    assert f'<a class="status status-failed" href="{link}">looks stuck</a>' in page.text
    assert page.text.count("looks stuck") == 1
    assert "0.25 s" in page.text
    assert "late" in page.text
