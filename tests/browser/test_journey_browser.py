"""One journey through the pages, end to end in Chromium, the sandbox, Redis and a worker:
Alice invokes `orders` asynchronously with bad input and watches the invocation reach
"failed after 3 attempts"; its group counts one occurrence with both records (the OnFailure
record and the dead letter); she replays it into the same function with a fixed payload and sees
the group resolved by replay. Then Bob, whose switcher is on another environment, opens the
group's URL from chat and sees it."""

import re
import time

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from invocations import aws
from invocations.ingest import polling
from invocations.invoking import inventory
from invocations.models import Environment, ExecutionRecord, FailureGroup, WatchedQueue
from tests.browser import log_in
from tests.conftest import ensure_roles

pytestmark = [pytest.mark.browser, pytest.mark.broker, pytest.mark.sandbox]


@pytest.fixture
def orders_watched(transactional_db, sandbox_env):
    ensure_roles()
    assert inventory.sync(sandbox_env) == []
    sqs = aws.client(sandbox_env, "sqs")
    queues = []
    for name in ("orders-on-success", "orders-on-failure", "orders-dlq"):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.purge_queue(QueueUrl=url)
        queues.append(
            WatchedQueue.objects.create(
                environment=sandbox_env,
                url=url,
                kind="dlq" if name.endswith("dlq") else "destination",
                function_name="orders",
            )
        )
    return queues


def _poll_until_both_records_arrive(queues):
    """Beat's job in production: drain the watched queues until the OnFailure record and the
    dead letter of the event are both stored."""
    deadline = time.monotonic() + 30
    while ExecutionRecord.objects.filter(kind__in=["failure", "dlq"]).count() < 2:
        assert time.monotonic() < deadline, "the OnFailure record and dead letter did not arrive"
        polling.poll_all(queues, budget_seconds=2, wait_seconds=0)
        time.sleep(0.3)


def test_a_failed_event_from_invoke_to_resolved_by_replay_and_shared_with_a_teammate(
    live_server, browser, page, alice, bob, orders_watched, celery_worker
):
    # Editing a payload before replay needs the raw-payload permission: Alice has it here.
    alice.user_permissions.add(Permission.objects.get(codename="view_raw_payload"))
    # Alice invokes orders asynchronously with an order that is not a number.
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/functions/orders/")
    page.locator("#id_invocation_type").select_option("Event")
    page.get_by_label("Payload (JSON)").fill('{"order": "not a number"}')
    page.get_by_role("button", name="Invoke", exact=True).click()
    expect(page).to_have_url(re.compile(r"/invocations/\d+/$"))
    expect(page.locator("[data-status]")).to_have_text("accepted (202)", timeout=20_000)

    # Lambda retries twice, then reports to OnFailure and the DLQ; the page follows by itself.
    _poll_until_both_records_arrive(orders_watched)
    expect(page.locator("[data-status]")).to_have_text("failed after 3 attempts", timeout=15_000)
    expect(page.locator(".accepted-as")).to_have_text("accepted (202)")

    # Its group: one failed event, one row carrying both records.
    page.locator(".group-link").click()
    expect(page).to_have_url(re.compile(r"/groups/\d+/$"))
    expect(page.locator(".fields")).to_contain_text("1 failed event")
    expect(page.locator(".fields")).to_contain_text("1 unreplayed")
    rows = page.locator("td.event-records")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("failure #")
    expect(rows.first).to_contain_text("dead letter #")
    group_url = page.url

    # Replay it into orders itself, with the order fixed.
    page.get_by_role("checkbox", name=re.compile(r"Select record \d+")).check()
    page.get_by_role("button", name="Replay selected…").click()
    expect(page.get_by_text("Nothing has been sent yet")).to_be_visible()
    expect(page.locator("#id_function")).to_have_value("orders")
    page.locator("#id_payload").fill('{"order": 7, "items": ["book"]}')
    page.get_by_role("button", name="Replay 1 record").click()
    expect(page.locator("#replay-progress")).to_contain_text("1 succeeded", timeout=30_000)
    expect(page.locator("#replay-progress")).to_contain_text("done")

    page.goto(group_url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("resolved")
    expect(page.locator(".fields")).to_contain_text("by replay")
    expect(page.locator(".fields")).to_contain_text("0 unreplayed")
    expect(page.locator("td.event-records").first.locator("xpath=..")).to_contain_text("yes")

    # Bob works in another environment; Alice pastes the group's URL in chat.
    Environment.objects.create(name="staging", endpoint_url="http://127.0.0.1:9")
    teammate = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        bob_page = teammate.new_page()
        bob_page.set_default_timeout(15_000)
        log_in(bob_page, live_server, "bob")
        bob_page.locator("#env-select").select_option(label="staging")
        expect(bob_page.locator("#env-select option:checked")).to_have_text("staging")

        bob_page.goto(group_url)

        expect(bob_page.get_by_role("heading", level=1)).to_contain_text("ValueError")
        expect(bob_page.get_by_role("heading", level=1)).to_contain_text("resolved")
        expect(bob_page.locator(".env-elsewhere")).to_contain_text("default")
        expect(bob_page.locator(".env-elsewhere")).to_contain_text("staging")
    finally:
        teammate.close()
    assert FailureGroup.objects.get().count == 1
