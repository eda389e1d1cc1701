"""Every list and detail page fits the screen, on a phone (390 px) and on a laptop (1366 px),
with realistic data: long function names, ARNs, handlers, request IDs and error messages. The
page itself never scrolls sideways (a wide table scrolls inside its own box), titles are not
smaller than body text, and field cards do not clip their values."""

import pytest
from playwright.sync_api import expect

from tests import realistic
from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]

WIDTHS = [390, 1366]

OVERFLOW = """() => {
  const root = document.documentElement;
  const boxed = ".table-scroll, .table, .log, .json, svg, dialog";
  const wide = Array.from(document.querySelectorAll("body *")).filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > root.clientWidth + 1 && !el.closest(boxed);
  }).slice(0, 5).map((el) => el.tagName + ": " + (el.textContent || "").trim().slice(0, 60));
  return {scroll: root.scrollWidth, client: root.clientWidth, wide: wide};
}"""

CLIPPED_FIELDS = """() => Array.from(document.querySelectorAll(".field .value")).filter(
  (el) => el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right >
          el.closest(".field").getBoundingClientRect().right + 1
).map((el) => el.textContent.trim().slice(0, 60))"""

TITLE_SIZE = """() => {
  const h1 = document.querySelector("main h1");
  const size = (el) => parseFloat(getComputedStyle(el).fontSize);
  return [size(h1), size(document.body)];
}"""


def _settled(page):
    """Wait for what the page loads after it is shown (log panels) before measuring."""
    expect(page.locator("main h1")).to_be_visible()
    for panel in ("#record-logs", "#full-log"):
        if (
            page.locator(panel).count()
            and page.locator(panel).get_attribute("hx-trigger") == "load"
        ):
            expect(page.locator(panel)).not_to_contain_text("Loading the logs")


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways_and_nothing_is_clipped(
    live_server, browser, admin_user, sandbox_env, width
):
    incident = realistic.seed(environment=sandbox_env, user=admin_user)
    realistic.write_logs(sandbox_env, incident)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, live_server, "ada")
    problems = {}

    for name, url in incident.urls().items():
        page.goto(live_server.url + url)
        _settled(page)
        measured = page.evaluate(OVERFLOW)
        clipped = page.evaluate(CLIPPED_FIELDS)
        title, body = page.evaluate(TITLE_SIZE)
        if measured["scroll"] > measured["client"] or clipped or title < body:
            problems[name] = {"width": measured, "clipped": clipped, "title": (title, body)}

    context.close()
    assert problems == {}, "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_the_top_bar_folds_into_a_menu_on_a_phone(live_server, browser, alice, sandbox_env):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    log_in(page, live_server)
    menu = page.get_by_role("button", name="Menu")
    records = page.get_by_role("navigation", name="Main").get_by_role("link", name="Records")

    expect(records).to_be_hidden()
    menu.click()

    expect(records).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    records.click()
    expect(page).to_have_url(f"{live_server.url}/records/")
    context.close()
