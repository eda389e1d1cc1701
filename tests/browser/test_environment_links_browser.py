"""A teammate whose switcher is on another environment opens a pasted group link and sees the
group, in its environment; switching environment there lands on the matching list."""

import pytest
from playwright.sync_api import expect

from invocations.failures import grouping
from invocations.models import Environment, FailureGroup
from tests import factories
from tests.browser import log_in

pytestmark = [pytest.mark.browser]


def test_a_pasted_group_link_opens_in_its_environment_for_a_teammate(live_server, page, bob):
    staging = Environment.objects.create(name="staging")
    record = factories.failure_record(
        watched=factories.queue(environment=staging), message="card declined for order 7"
    )
    grouping.group_records([record])
    group = FailureGroup.objects.get()
    Environment.objects.default()
    log_in(page, live_server, "bob")
    expect(page.locator("#env-select option:checked")).to_have_text("default")

    page.goto(f"{live_server.url}/groups/{group.pk}/")

    expect(page.get_by_role("heading", level=1)).to_contain_text("ValueError")
    expect(page.locator(".env-elsewhere")).to_contain_text("staging")
    expect(page.locator("#env-select option:checked")).to_have_text("staging")
    page.locator("#env-select").select_option(label="default")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator(".env-elsewhere")).to_have_count(0)
