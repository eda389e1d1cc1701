"""The on-call workbench in a real browser: a group page read from the evidence up, the page of
one request, and the keyboard."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from invocations.failures import grouping
from invocations.models import FailureGroup, Function, Invocation
from tests import factories
from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


def _keys_ready(page):
    """The keyboard script has run (it loads after the page is shown)."""
    expect(page.locator("html[data-keys=ready]")).to_have_count(1)


def _failures(n=3, function="orders", message="order must be a positive integer, got -1"):
    now = timezone.now()
    records = [
        factories.failure_record(
            function=function,
            message=message,
            payload={"order": -index, "step": index},
            received_at=now - timedelta(minutes=10 * (n - index)),
            version=str(5 + index),
        )
        for index in range(n)
    ]
    grouping.group_records(records)
    return records, FailureGroup.objects.get(records=records[0])


def test_the_group_page_shows_the_latest_occurrence_and_steps_through_the_others(
    live_server, page, alice, sandbox_env
):
    records, group = _failures()
    oldest, middle, latest = records
    log_in(page, live_server)
    page.goto(f"{live_server.url}/groups/{group.pk}/")
    occurrence = page.locator("#occurrence")

    expect(occurrence.get_by_role("heading", name="Latest occurrence")).to_be_visible()
    expect(occurrence).to_contain_text('"step": 2')
    expect(page.locator("#record-logs")).not_to_contain_text("Loading the logs")

    occurrence.get_by_role("link", name="Older ›").click()
    expect(page).to_have_url(re.compile(rf"occurrence=r{middle.pk}"))
    expect(occurrence).to_contain_text('"step": 1')
    occurrence.get_by_role("link", name="First »").click()
    expect(page).to_have_url(re.compile(rf"occurrence=r{oldest.pk}"))
    expect(occurrence).to_contain_text("Occurrence 3 of 3")
    expect(occurrence.get_by_text("Older ›")).to_have_attribute("aria-disabled", "true")
    occurrence.get_by_role("link", name="‹ Newer").click()
    expect(page).to_have_url(re.compile(rf"occurrence=r{middle.pk}"))
    occurrence.get_by_role("link", name="« Latest").click()
    expect(page).to_have_url(re.compile(rf"occurrence=r{latest.pk}"))
    expect(occurrence).to_contain_text('"step": 2')

    page.get_by_role("navigation", name="Time range").get_by_role("link", name="7d").click()
    expect(page).to_have_url(re.compile(r"range=7d"))
    expect(page.locator(".histogram .bucket")).to_have_count(28)
    expect(page.get_by_role("heading", name="Breakdown, last 7d")).to_be_visible()
    breakdown = page.locator(".breakdown")
    expect(breakdown.locator("table", has_text="Executed version")).to_contain_text("7")
    expect(breakdown.locator("table", has_text="Source queue")).to_contain_text("orders-on-failure")

    actions = page.get_by_role("complementary", name="Actions and activity").bounding_box()
    evidence = page.locator("#occurrence").bounding_box()
    assert actions["x"] > evidence["x"] + evidence["width"] - 1


def test_an_occurrence_id_that_is_not_the_groups_is_ignored_with_a_note(
    live_server, page, alice, sandbox_env
):
    records, group = _failures(n=1)
    log_in(page, live_server)

    page.goto(f"{live_server.url}/groups/{group.pk}/?occurrence=r99999")

    expect(page.get_by_role("note")).to_contain_text("is not one of this group's")
    expect(page.locator("#occurrence")).to_contain_text("Latest occurrence")


def test_the_request_page_gathers_the_invocation_records_group_and_replays(
    live_server, page, alice, sandbox_env
):
    records, group = _failures(n=1)
    record = records[0]
    invocation = Invocation.objects.create(
        environment=sandbox_env,
        function_name="orders",
        invocation_type="Event",
        status="accepted",
        request_id=record.request_id,
        payload='{"order": 0}',
    )
    replay = Invocation.objects.create(
        environment=sandbox_env,
        function_name="orders",
        status="succeeded",
        request_id="5d7c1e2a-0000-4000-8000-00000000beef",
        replay_of=record,
    )
    log_in(page, live_server)
    page.goto(f"{live_server.url}/records/")

    page.get_by_role("link", name=record.request_id[:8] + "…" + record.request_id[-8:]).click()

    expect(page).to_have_url(f"{live_server.url}/requests/{record.request_id}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(record.request_id)
    expect(page.locator(".fields")).to_contain_text(sandbox_env.name)
    expect(page.locator(".fields")).to_contain_text(f"#{invocation.pk}")
    expect(page.locator("#record-logs")).not_to_contain_text("Loading the logs")
    replays = page.locator("ul.replays")
    expect(replays).to_contain_text(f"Invocation #{replay.pk}")
    replays.get_by_role("link", name=re.compile(r"^5d7c1e2a")).click()
    expect(page).to_have_url(f"{live_server.url}/requests/{replay.request_id}/")
    expect(page.get_by_role("note")).to_contain_text(f"a replay of record #{record.pk}")
    page.get_by_role("link", name=f"record #{record.pk}").click()
    expect(page).to_have_url(f"{live_server.url}/records/{record.pk}/")
    page.locator(".fields").get_by_role("link", name=group.title).click()
    expect(page).to_have_url(f"{live_server.url}/groups/{group.pk}/")


def test_an_unknown_request_id_is_not_found(live_server, page, alice, sandbox_env):
    log_in(page, live_server)

    response = page.goto(f"{live_server.url}/requests/no-such-request/")

    assert response.status == 404


def test_keys_move_select_and_act_on_the_triage_list(live_server, page, alice, sandbox_env):
    _failures(n=1, function="orders")
    _failures(n=1, function="billing", message="card declined")
    log_in(page, live_server)
    rows = page.locator("#group-table tbody tr")
    expect(rows).to_have_count(2)
    _keys_ready(page)

    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile("kb-current"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile("kb-current"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("kb-current"))
    expect(rows.nth(1)).not_to_have_class(re.compile("kb-current"))
    first_id = rows.nth(0).get_attribute("id")

    page.keyboard.press("x")
    expect(rows.nth(0).get_by_role("checkbox")).to_be_checked()
    page.keyboard.press("a")
    expect(page.locator(f"#{first_id}")).to_contain_text("alice")

    expect(page.locator(f"#{first_id}")).to_have_class(re.compile("kb-current"))
    # A bulk action clears the selection it acted on, so "e" then acts on the current row.
    expect(page.locator(f"#{first_id}").get_by_role("checkbox")).not_to_be_checked()
    page.keyboard.press("j")
    second = page.locator("#group-table tbody tr").nth(1)
    expect(second).to_have_class(re.compile("kb-current"))
    second_id = second.get_attribute("id")
    page.keyboard.press("e")
    # The row shows "resolved", or leaves a list that shows only active groups.
    page.wait_for_function(
        "id => { const row = document.getElementById(id);"
        " return !row || row.textContent.includes('resolved'); }",
        arg=second_id,
    )
    assert FailureGroup.objects.get(pk=second_id.split("-")[1]).status == "resolved"

    page.keyboard.press("/")
    expect(page.locator("[data-search]")).to_be_focused()
    page.keyboard.press("Escape")
    page.locator("main h1").click()
    page.keyboard.press("k")
    page.keyboard.press("o")
    expect(page).to_have_url(re.compile(r"/groups/\d+/$"))


def test_keys_on_a_group_page_resolve_assign_and_ignore_it(live_server, page, alice, sandbox_env):
    records, group = _failures(n=1)
    others, other = _failures(n=1, function="billing", message="card declined")
    log_in(page, live_server)
    page.goto(f"{live_server.url}/groups/{group.pk}/")
    title = page.get_by_role("heading", level=1)

    _keys_ready(page)
    page.keyboard.press("a")
    expect(page.locator(".fields")).to_contain_text("alice")
    _keys_ready(page)
    page.keyboard.press("e")
    expect(title).to_contain_text("resolved")

    page.goto(f"{live_server.url}/groups/{other.pk}/")
    _keys_ready(page)
    page.keyboard.press("i")
    expect(title).to_contain_text("ignored")


def test_question_mark_lists_the_keys_in_a_dialog(live_server, page, alice, sandbox_env):
    log_in(page, live_server)
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_hidden()
    _keys_ready(page)

    page.keyboard.press("?")

    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Assign the selected groups (or this group) to me")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Keys ?").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_a_skip_link_leads_to_the_content(live_server, page, alice, sandbox_env):
    log_in(page, live_server)
    page.goto(f"{live_server.url}/records/")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/records/#main")
    expect(page.locator("#main")).to_be_focused()


def test_ctrl_enter_in_the_plain_payload_box_invokes(
    live_server, page, alice, sandbox_env, redis_server
):
    Function.objects.create(environment=sandbox_env, name="hello")
    # The plain text box, as it is when the code editor does not load (the editor binds the
    # same keys itself: tests/browser/test_payload_editor_browser.py).
    page.route("**/editor/*", lambda route: route.abort())
    log_in(page, live_server)
    page.goto(f"{live_server.url}/functions/hello/")
    payload = page.locator("textarea#payload")

    _keys_ready(page)
    payload.fill('{"name": "ctrl enter"}')
    payload.press("Control+Enter")

    expect(page).to_have_url(re.compile(r"/invocations/\d+/$"))
    assert Invocation.objects.get().payload == '{"name": "ctrl enter"}'
