"""End to end against the sandbox: Lambda's own retries, destinations and DLQ, then discovery,
the poller and the pages."""

import json
import random
import re
import time

import pytest
from playwright.sync_api import expect

from invocations import aws
from invocations.access.actor import SYSTEM
from invocations.ingest import discovery, polling
from invocations.models import ExecutionRecord, WatchedQueue

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(120)]


def invoke_orders_with_bad_input(env) -> str:
    order = -random.randint(1, 10**9)
    response = aws.client(env, "lambda").invoke(
        FunctionName="orders", InvocationType="Event", Payload=json.dumps({"order": order}).encode()
    )
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["RequestId"]


def poll_until(request_id: str, kinds: set[str], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        polling.poll_all(wait_seconds=0)
        found = set(
            ExecutionRecord.objects.filter(request_id=request_id).values_list("kind", flat=True)
        )
        if kinds <= found:
            return
        assert time.monotonic() < deadline, f"only {found} of {kinds} within {seconds} s"
        time.sleep(0.3)


def test_discovery_watches_every_sample_queue_including_those_behind_sns_and_eventbridge(
    sandbox_env,
):
    result = discovery.discover(sandbox_env, actor=SYSTEM)

    watched = {q.name: (q.kind, q.function_name) for q in WatchedQueue.objects.all()}
    assert watched["orders-dlq"] == ("dlq", "orders")
    assert watched["orders-on-failure"] == ("destination", "orders")
    assert watched["orders-on-success"] == ("destination", "orders")
    assert watched["notify-on-failure"] == ("destination", "notify")
    assert watched["billing-on-failure"] == ("destination", "billing")
    # queue-worker's source queue (its SQS event source) has a redrive policy: its DLQ is found.
    assert "queue-worker-dlq" in {q.name for q in result.added + result.already}
    assert result.errors == []


@pytest.mark.browser
def test_an_event_invoke_of_orders_with_bad_input_reaches_the_records_page(
    live_server, page, admin_user, sandbox_env
):
    discovery.discover(sandbox_env, actor=SYSTEM)

    request_id = invoke_orders_with_bad_input(sandbox_env)
    poll_until(request_id, {"failure", "dlq"})

    failure = ExecutionRecord.objects.get(request_id=request_id, kind="failure")
    dead_letter = ExecutionRecord.objects.get(request_id=request_id, kind="dlq")
    assert failure.condition == "RetriesExhausted"
    assert failure.approximate_invoke_count == 3
    assert failure.error_type == "ValueError"
    assert dead_letter.function_name == "orders"
    assert dead_letter.queue.name == "orders-dlq"

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    # Wait until the login has landed: a goto while its answer is on the way would drop the
    # session cookie.
    expect(page).to_have_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/records/")
    page.get_by_label("Search").fill(request_id)
    page.get_by_label("Search").press("Enter")
    # The unfiltered list has rows already: wait for what only the search brings, the filter
    # in the URL (hx-push-url, to share) and exactly this request's two rows.
    expect(page).to_have_url(re.compile(re.escape(request_id)))
    rows = page.locator("#record-results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Failure")).to_contain_text("RetriesExhausted")
    expect(rows.filter(has_text="Dead letter")).to_have_count(1)

    rows.filter(has_text="Failure").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/records/\d+/$"))
    attempts = page.locator(".field", has_text="Attempts")
    expect(attempts.locator(".value")).to_have_text("3")
    expect(page.get_by_text("ValueError").first).to_be_visible()
    # Logs of this request, loaded lazily: every attempt (the sandbox writes them).
    expect(page.get_by_text("Attempt 3")).to_be_visible(timeout=20_000)
    expect(page.locator(".attempt")).to_have_count(3)
