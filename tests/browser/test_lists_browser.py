"""The lists in a real browser: live triage, the query bar with Back/Forward, and exporting all
the records that match."""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from invocations.failures import grouping
from invocations.models import FailureGroup
from tests import factories
from tests.browser import log_in

pytestmark = [pytest.mark.browser]


def _group(function: str) -> FailureGroup:
    grouping.group_records([factories.failure_record(function=function)])
    return FailureGroup.objects.get(function_name=function)


def test_a_new_failure_shows_one_new_without_moving_the_selected_row(live_server, page, alice):
    orders = _group("orders")
    log_in(page, live_server)
    rows = page.locator("#group-table tbody tr")
    expect(rows).to_have_count(1)
    page.locator(f"#group-{orders.pk}").get_by_role("checkbox").check()

    billing = _group("billing")

    expect(page.locator("#triage-live")).to_contain_text("1 new")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("id", f"group-{orders.pk}")
    expect(page.locator(f"#select-group-{orders.pk}")).to_be_checked()

    # A new occurrence of a group on the page updates its row in place, selection kept.
    grouping.group_records([factories.failure_record(function="orders")])
    expect(page.locator(f"#group-{orders.pk} td.num").first).to_have_text("2")
    expect(page.locator(f"#select-group-{orders.pk}")).to_be_checked()

    page.get_by_role("link", name="1 new").click()
    expect(rows).to_have_count(2)
    expect(page.locator(f"#group-{billing.pk}")).to_be_visible()
    expect(page.locator(f"#select-group-{orders.pk}")).to_be_checked()


def test_a_search_narrows_the_list_and_back_restores_the_inputs(live_server, page, alice):
    for function in ("orders", "billing", "shipping"):
        _group(function)
    log_in(page, live_server)
    table = page.locator("#group-table")
    query = page.locator("#id_q")
    time = page.locator("#id_range")
    expect(table).to_contain_text("shipping")

    # Suggestions arrive when the bar is focused, and complete the word being typed.
    query.focus()
    expect(page.locator('#triage-fields option[value="function:shipping"]')).to_have_count(1)
    query.type("is:open e")
    expect(page.locator('#triage-fields option[value="is:open error:ValueError"]')).to_have_count(1)

    query.fill("function:orders")
    query.press("Enter")
    expect(page).to_have_url(re.compile(r"q=function%3Aorders"))
    expect(table).not_to_contain_text("shipping")

    time.select_option("24h")
    expect(page).to_have_url(re.compile(r"q=function%3Aorders.*range=24h"))

    query.fill("function:billing")
    query.press("Enter")
    expect(page).to_have_url(re.compile(r"q=function%3Abilling"))
    expect(table).not_to_contain_text("orders")

    page.go_back()
    expect(page).to_have_url(re.compile(r"q=function%3Aorders.*range=24h"))
    expect(query).to_have_value("function:orders")
    expect(time).to_have_value("24h")
    expect(table).to_contain_text("orders")
    expect(table).not_to_contain_text("billing")

    page.go_back()
    expect(page).to_have_url(re.compile(r"q=function%3Aorders&"))
    expect(time).to_have_value("")
    expect(query).to_have_value("function:orders")


def test_select_all_matching_then_export_gives_every_matching_record(
    live_server, page, alice, tmp_path
):
    watched = factories.queue(function="orders")
    wanted = {factories.failure_record(function="orders", watched=watched).pk for _ in range(30)}
    factories.failure_record(function="billing")
    log_in(
        page,
        live_server,
        next_path="/records/%3Fq%3Dfunction%253Aorders%26per_page%3D25",
        lands_on=f"{live_server.url}/records/?q=function%3Aorders&per_page=25",
    )
    expect(page.locator("input[name=records]")).to_have_count(25)

    page.get_by_label("Select all 30 matching").check()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export selected (JSON Lines)").click()
    saved = Path(tmp_path) / "export.jsonl"
    download_info.value.save_as(saved)

    exported = {json.loads(line)["id"] for line in saved.read_text().splitlines()}
    assert exported == wanted
