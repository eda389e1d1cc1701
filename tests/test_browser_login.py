import pytest


@pytest.mark.browser
def test_a_person_logs_in_and_sees_the_navigation(live_server, page, alice):
    page.goto(f"{live_server.url}/")

    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()

    nav = page.get_by_role("navigation", name="Main")
    for label in ["Triage", "Functions", "Invocations", "Records", "Queues"]:
        assert nav.get_by_role("link", name=label).is_visible()
    assert page.get_by_text("alice").first.is_visible()


@pytest.mark.browser
def test_a_wrong_password_shows_an_error(live_server, page, alice):
    page.goto(f"{live_server.url}/accounts/login/")

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()

    assert page.get_by_role("alert").is_visible()
    assert "/accounts/login/" in page.url
