"""In Chromium: invoke from the function page and watch the result arrive without a reload."""

import json
import re
import time

import pytest
from playwright.sync_api import expect

from invocations import aws
from invocations.ingest import polling
from invocations.invoking import inventory
from invocations.models import ExecutionRecord, Invocation, WatchedQueue
from tests.browser import log_in
from tests.conftest import ensure_roles


@pytest.fixture
def roles(transactional_db):
    """The worker thread and the live server need committed rows (a transactional test)."""
    ensure_roles()


XSS_NAME = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


@pytest.fixture
def inventory_synced(sandbox_env):
    assert inventory.sync(sandbox_env) == []
    return sandbox_env


@pytest.mark.browser
@pytest.mark.broker
@pytest.mark.sandbox
def test_it_invokes_hello_and_the_decoded_log_appears_without_a_reload(
    live_server, page, roles, alice, celery_worker, inventory_synced
):
    log_in(page, live_server, next_path="/functions/")
    page.goto(f"{live_server.url}/functions/hello/")
    page.get_by_label("Payload (JSON)").fill(json.dumps({"name": XSS_NAME}))

    page.get_by_role("button", name="Invoke", exact=True).click()
    page.wait_for_url("**/invocations/*/")
    page.evaluate("window.sameDocument = true")
    tail = page.locator("#tail-log")

    expect(tail).to_contain_text("saying hello to <script>", timeout=20_000)
    expect(page.locator("[data-status]")).to_have_text("succeeded")
    expect(tail.locator(".line.meta").first).to_contain_text("START RequestId:")
    expect(page.locator("#response-payload")).to_contain_text("Hello, <script>window.pwned")
    assert page.evaluate("window.sameDocument") is True  # the log came in by htmx, no reload
    assert page.evaluate("window.pwned") is None  # markup from the function never ran
    assert page.locator("#invocation-result img").count() == 0
    # Polling stopped: the last fragment carries no trigger.
    expect(page.locator("#invocation-result")).not_to_have_attribute("hx-trigger", re.compile(""))
    # The full log from CloudWatch: the function's own print, which carries no request ID.
    page.get_by_text("Full log", exact=True).click()
    expect(page.locator("#full-log")).to_contain_text("saying hello to <script>", timeout=15_000)
    expect(page.locator("#full-log")).to_contain_text("1 attempt in /aws/lambda/hello")
    invocation = Invocation.objects.get()
    assert invocation.requested_by == alice
    assert invocation.duration_ms is not None


@pytest.mark.browser
@pytest.mark.broker
@pytest.mark.sandbox
def test_the_result_page_asks_at_once_then_backs_off_and_shows_the_result_without_a_reload(
    live_server, page, roles, alice, celery_worker, inventory_synced
):
    asked = []
    page.on(
        "request",
        lambda request: "/status/" in request.url and asked.append(request.url.split("?")[-1]),
    )
    log_in(page, live_server, next_path="/functions/")
    page.goto(f"{live_server.url}/functions/slow/")
    page.get_by_label("Payload (JSON)").fill(json.dumps({"seconds": 1}))

    page.get_by_role("button", name="Invoke", exact=True).click()
    page.wait_for_url("**/invocations/*/")
    page.evaluate("window.sameDocument = true")

    expect(page.locator("[data-status]")).to_have_text("succeeded", timeout=20_000)
    assert page.evaluate("window.sameDocument") is True
    # A second's sleep: the page asked several times on the backing-off schedule, in order.
    assert asked[:3] == ["step=1", "step=2", "step=3"]
    expect(page.locator("#invocation-result")).not_to_have_attribute("hx-trigger", re.compile(""))


@pytest.mark.browser
@pytest.mark.broker
@pytest.mark.sandbox
def test_an_event_invoke_of_orders_shows_its_outcome_once_the_record_is_ingested(
    live_server, page, roles, alice, celery_worker, inventory_synced
):
    sqs = aws.client(inventory_synced, "sqs")
    for name in ("orders-on-success", "orders-on-failure", "orders-dlq"):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        kind = "dlq" if name.endswith("dlq") else "destination"
        WatchedQueue.objects.create(
            environment=inventory_synced, url=url, kind=kind, function_name="orders"
        )
    log_in(page, live_server, next_path="/functions/")
    page.goto(f"{live_server.url}/functions/orders/")
    page.locator("#id_invocation_type").select_option("Event")
    page.get_by_label("Payload (JSON)").fill('{"order": "not a number"}')

    page.get_by_role("button", name="Invoke", exact=True).click()
    page.wait_for_url("**/invocations/*/")
    page.evaluate("window.sameDocument = true")
    expect(page.locator("[data-status]")).to_have_text("accepted (202)", timeout=20_000)
    expect(page.locator(".async-outcome")).to_contain_text("OnFailure:")
    deadline = time.monotonic() + 30
    while not ExecutionRecord.objects.filter(invocation__isnull=False).exists():
        assert time.monotonic() < deadline, "no outcome record was ingested in 30 s"
        polling.poll_all(budget_seconds=2, wait_seconds=0)
        time.sleep(0.3)

    outcome = page.locator(".async-outcome")
    expect(outcome).to_contain_text("Lambda reported", timeout=15_000)
    expect(outcome).to_contain_text("RetriesExhausted")
    expect(outcome).to_contain_text("ValueError")
    # The status is now the outcome; the 202 stays as how Lambda took the event.
    expect(page.locator("[data-status]")).to_have_text("failed after 3 attempts")
    expect(page.locator(".accepted-as")).to_have_text("accepted (202)")
    assert page.evaluate("window.sameDocument") is True
    # The full log: every attempt, each with the function's traceback.
    page.get_by_text("Full log", exact=True).click()
    expect(page.locator("#full-log")).to_contain_text("3 attempts", timeout=15_000)
    expect(page.locator("#full-log .attempt").nth(2)).to_contain_text(
        "order must be a positive integer"
    )
    # The list pages say the same.
    invocation = Invocation.objects.get()
    page.goto(f"{live_server.url}/invocations/")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=str(invocation.pk)))
    expect(row.locator("[data-status]")).to_have_text("failed after 3 attempts")
    page.goto(f"{live_server.url}/functions/orders/")
    expect(page.locator("[data-status]").first).to_have_text("failed after 3 attempts")
