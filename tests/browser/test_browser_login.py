import pytest
from playwright.sync_api import expect


@pytest.mark.browser
def test_a_person_logs_in_and_sees_the_navigation(live_server, page, alice):
    page.goto(f"{live_server.url}/")

    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{live_server.url}/")
    nav = page.get_by_role("navigation", name="Main")
    for label in ["Triage", "Functions", "Invocations", "Records", "Queues"]:
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    expect(page.get_by_text("alice").first).to_be_visible()


@pytest.mark.browser
def test_a_wrong_password_shows_an_error(live_server, page, alice):
    page.goto(f"{live_server.url}/accounts/login/")

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()

    # The login page shows no alert before the answer: waiting for it waits for the answer.
    expect(page.get_by_role("alert")).to_be_visible()
    assert "/accounts/login/" in page.url
