"""Steps the browser tests share."""

from playwright.sync_api import expect


def log_in(page, live_server, username="alice", password="pw", next_path=None, lands_on=None):
    """Log in through the form and wait for the page it lands on: `next_path` (as written in the
    log-in address) or the triage page, unless `lands_on` names another URL."""
    query = f"?next={next_path}" if next_path else ""
    page.goto(f"{live_server.url}/accounts/login/{query}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(lands_on or f"{live_server.url}{next_path or '/'}")
