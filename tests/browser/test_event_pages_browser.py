"""What an open page does by itself: after a bulk action the selection is cleared and the
result names the rows it changed; relative times age."""

import pytest
from django.db import transaction
from playwright.sync_api import expect

from invocations.failures import grouping
from invocations.models import FailureGroup
from tests import factories
from tests.browser import log_in

pytestmark = [pytest.mark.browser]


def _two_groups():
    with transaction.atomic():  # as the poller does: it locks the groups
        grouping.group_records([factories.failure_record(function="orders")])
        grouping.group_records(
            [factories.failure_record(function="billing", error_type="KeyError", message="'sku'")]
        )
    return list(FailureGroup.objects.order_by("pk"))


def test_a_bulk_action_clears_the_selection_and_names_the_rows_it_changed(live_server, page, alice):
    orders, billing = _two_groups()
    log_in(page, live_server, "alice")

    for group in (orders, billing):
        page.locator(f"#select-group-{group.pk}").check()
    page.get_by_role("button", name="Acknowledge").click()

    messages = page.locator(".messages")
    expect(messages).to_contain_text("acknowledge: 2 groups")
    expect(messages).to_contain_text(f"#{orders.pk} orders: ValueError: order must be")
    expect(messages).to_contain_text(f"#{billing.pk} billing: KeyError: …")
    expect(page.locator("input[name=groups]:checked")).to_have_count(0)
    assert set(FailureGroup.objects.values_list("status", flat=True)) == {"acknowledged"}


def test_relative_times_age_on_an_open_page(live_server, page, alice):
    page.clock.install()
    _two_groups()
    log_in(page, live_server, "alice")
    first = page.locator("time[data-reltime]").first
    expect(first).to_have_text("just now")

    page.clock.run_for("02:05")

    expect(first).to_have_text("2 minutes ago")


def test_a_triage_row_on_a_phone_says_count_last_seen_and_status_first(live_server, browser, alice):
    orders, _ = _two_groups()
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    log_in(page, live_server, "alice")
    row = page.locator(f"#group-{orders.pk}")

    vital = [row.locator(f'td[data-label="{label}"]') for label in ("Count", "Last seen", "Status")]
    error = row.locator('td[data-label="Error"]')

    expect(vital[0]).to_have_text("1")
    boxes = [cell.bounding_box() for cell in vital]
    error_box = error.bounding_box()
    assert all(box["y"] + box["height"] <= error_box["y"] + 1 for box in boxes)
    assert max(box["x"] + box["width"] for box in boxes) <= 390
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390
    context.close()


def test_the_top_bar_keeps_one_line_at_1366_px_in_a_protected_environment(
    live_server, browser, admin_user
):
    from invocations.models import Environment

    Environment.objects.filter(pk=Environment.objects.default().pk).update(
        name="production-eu-west-1", protected=True
    )
    Environment.objects.create(name="staging-eu-west-1", protected=True)
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    log_in(page, live_server, admin_user.username)
    expect(page.locator(".protected-band")).to_be_visible()

    tops = page.locator(".topbar nav a, .topbar .env-switch select, .topbar .user").evaluate_all(
        "items => items.map(item => Math.round(item.getBoundingClientRect().top))"
    )
    height = page.locator(".topbar").evaluate("bar => bar.getBoundingClientRect().height")
    link = page.locator(".topbar nav a").first.evaluate("a => a.getBoundingClientRect().height")

    assert max(tops) - min(tops) < link, tops  # one row
    assert height < 2 * link + 24
    context.close()
