"""The morning routine in a real browser: a failure is on the triage page, Alice takes it,
replays it, and sees it resolved. The replay crosses Redis to a real worker and the sandbox."""

import re

import pytest
from django.db import transaction
from playwright.sync_api import expect

from invocations.failures import grouping
from invocations.models import FailureGroup
from tests import factories
from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.broker]


def test_a_failure_is_assigned_replayed_and_resolved(
    live_server, page, alice, sandbox_env, celery_worker
):
    record = factories.failure_record(
        function="hello",
        error_type="RuntimeError",
        message="downstream unavailable",
        payload={"name": "ann"},
    )
    with transaction.atomic():  # as the poller does: it locks the group
        grouping.group_records([record])
    group = FailureGroup.objects.get()
    log_in(page, live_server, "alice")

    row = page.locator(f"#group-{group.pk}")
    expect(row).to_contain_text("downstream unavailable")
    row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator(f"#group-{group.pk}")).to_contain_text("alice")

    page.get_by_role("link", name="RuntimeError").click()
    expect(page).to_have_url(f"{live_server.url}/groups/{group.pk}/")
    page.get_by_role("button", name="Replay backlog…").click()
    expect(page.get_by_text("Nothing has been sent yet")).to_be_visible()
    page.get_by_role("button", name="Replay 1 record").click()
    expect(page).to_have_url(re.compile(r"/replay/\d+/$"))

    expect(page.locator("#replay-progress")).to_contain_text("done", timeout=30_000)
    expect(page.locator("#replay-progress")).to_contain_text("1 succeeded")
    group.refresh_from_db()
    assert group.status == "resolved" and group.resolved_by_replay
    assert group.assignee == alice
    page.goto(f"{live_server.url}/groups/{group.pk}/")
    expect(page.get_by_text("resolved by replay: every failed event replayed")).to_be_visible()
