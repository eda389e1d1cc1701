"""The README's tour, photographed: `make screenshots` runs this module with SCREENSHOTS_DIR set
(it is skipped otherwise). It starts what the pages need (the sandbox, Redis and a Celery
worker, Django's live server), makes an incident the way production would (asynchronous
invokes of `orders` with bad input that Lambda retries and reports to OnFailure and the
dead-letter queue, which the poller drains into records and failure groups; a synchronous
failure; a long-named function's failures beside them), and saves PNGs of the main pages."""

import json
import os
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from invocations import aws
from invocations.access.actor import Actor
from invocations.ingest import polling
from invocations.invoking import inventory, lifecycle
from invocations.models import ExecutionRecord, FailureGroup, Invocation, WatchedQueue
from tests import realistic
from tests.conftest import ensure_roles

OUT = os.environ.get("SCREENSHOTS_DIR", "")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.broker,
    pytest.mark.sandbox,
    pytest.mark.skipif(not OUT, reason="make screenshots sets SCREENSHOTS_DIR"),
    pytest.mark.timeout(600),
]


def _watch_orders(environment) -> list[WatchedQueue]:
    sqs = aws.client(environment, "sqs")
    queues = []
    for name in ("orders-on-success", "orders-on-failure", "orders-dlq"):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.purge_queue(QueueUrl=url)
        queues.append(
            WatchedQueue.objects.create(
                environment=environment,
                url=url,
                kind="dlq" if name.endswith("dlq") else "destination",
                function_name="orders",
            )
        )
    return queues


def _incident(environment, user) -> None:
    ensure_roles()
    assert inventory.sync(environment) == []
    queues = _watch_orders(environment)
    bad = [{"order": "not a number"}, {"order": -3}, {"order": None}, {"order": "42x"}]
    for payload in [*bad, {"order": 7}]:
        lifecycle.start(
            environment=environment,
            function_name="orders",
            invocation_type=Invocation.Type.EVENT,
            payload=json.dumps(payload),
            actor=Actor.person(user),
        )
    lifecycle.start(
        environment=environment,
        function_name="orders",
        invocation_type=Invocation.Type.REQUEST_RESPONSE,
        payload=json.dumps({"order": "sync and wrong"}),
        actor=Actor.person(user),
    )
    deadline = time.monotonic() + 60
    while ExecutionRecord.objects.filter(kind="failure").count() < len(bad):
        assert time.monotonic() < deadline, "the OnFailure records did not arrive"
        polling.poll_all(queues, budget_seconds=2, wait_seconds=0)
        time.sleep(0.3)
    polling.poll_all(queues, budget_seconds=2, wait_seconds=0)
    realistic.seed(environment=environment, user=user)


def _shoot(page, name: str, full_page: bool = True) -> None:
    Path(OUT).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(OUT) / f"{name}.png"), full_page=full_page)


def _settled(page) -> None:
    expect(page.locator("main h1")).to_be_visible()
    expect(page.locator("html[data-keys=ready]")).to_have_count(1)
    for panel in ("#record-logs", "#full-log"):
        if (
            page.locator(panel).count()
            and page.locator(panel).get_attribute("hx-trigger") == "load"
        ):
            expect(page.locator(panel)).not_to_contain_text("Loading the logs", timeout=20_000)


def test_the_tour(live_server, browser, alice, sandbox_env, celery_worker):
    _incident(sandbox_env, alice)
    orders = FailureGroup.objects.filter(function_name="orders").order_by("-count").first()
    record = ExecutionRecord.objects.filter(failure_group=orders, kind="failure").latest("id")
    invocation = Invocation.objects.filter(request_id=record.request_id).first()
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/")

    for name, url in [
        ("triage", "/"),
        ("group", f"/groups/{orders.pk}/"),
        ("request", f"/requests/{record.request_id}/"),
        ("record", f"/records/{record.pk}/"),
        ("records", "/records/"),
        ("function", "/functions/orders/"),
        ("invocation", f"/invocations/{invocation.pk}/" if invocation else "/invocations/"),
        ("queues", "/queues/"),
    ]:
        page.goto(live_server.url + url)
        _settled(page)
        _shoot(page, name)

    page.goto(f"{live_server.url}/")
    _settled(page)
    page.keyboard.press("j")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    _shoot(page, "keys", full_page=False)

    page.set_viewport_size({"width": 390, "height": 844})
    for name, url in [("phone-triage", "/"), ("phone-group", f"/groups/{orders.pk}/")]:
        page.goto(live_server.url + url)
        _settled(page)
        _shoot(page, name)
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "true")
    _shoot(page, "phone-menu", full_page=False)
    context.close()
