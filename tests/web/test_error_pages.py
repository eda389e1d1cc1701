"""The error pages (400, 403, 404, 500, CSRF) are our own, styled by the static stylesheet, and
carry nothing the Content-Security-Policy would block; the favicon is served."""

import re

import pytest
from django.test import Client
from django.urls import path

from dashboard.urls import urlpatterns as site_urls


def boom(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [*site_urls, path("boom/", boom)]


def assert_styled_under_the_csp(response, heading: str):
    html = response.content.decode()
    assert heading in html
    assert '<link rel="stylesheet" href="/static/css/app.css">' in html
    assert 'rel="icon"' in html
    assert not re.search(r"<style|\sstyle=|<script(?![^>]*\ssrc=)|\son\w+=", html), "inline"
    if "Content-Security-Policy" in response:
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_a_missing_page_is_our_404(client, bob):
    client.force_login(bob)

    response = client.get("/invocations/999999/")

    assert response.status_code == 404
    assert_styled_under_the_csp(response, "There is nothing here")
    assert "/invocations/999999/" in response.content.decode()
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_a_refused_action_is_our_403_naming_the_permission(client, bob):
    client.force_login(bob)

    response = client.post("/inventory/refresh/")

    assert response.status_code == 403
    assert_styled_under_the_csp(response, "Your role does not allow this")
    assert "invocations.invoke_function" in response.content.decode()


def test_a_refused_action_logs_one_line_without_a_traceback(client, bob, caplog):
    client.force_login(bob)

    with caplog.at_level("WARNING", logger="django.request"):
        client.post("/inventory/refresh/")

    logged = [r for r in caplog.records if r.name == "django.request"]
    forbidden = "Forbidden (Permission denied): /inventory/refresh/"
    assert [r.getMessage() for r in logged] == [forbidden]
    assert logged[0].exc_info is None
    assert "Traceback" not in caplog.text


def test_a_form_without_its_csrf_token_is_our_403(bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)

    response = client.post("/environment/", {"environment": "1"})

    assert response.status_code == 403
    assert_styled_under_the_csp(response, "This form could not be checked")


@pytest.mark.urls(__name__)
def test_a_crash_is_our_500_without_details(bob):
    client = Client(raise_request_exception=False)
    client.force_login(bob)

    response = client.get("/boom/")

    assert response.status_code == 500
    assert_styled_under_the_csp(response, "Something went wrong on our side")
    assert "a bug in a view" not in response.content.decode()


def test_a_bad_host_is_our_400(client, db):
    response = client.get("/accounts/login/", headers={"Host": "evil.example"})

    assert response.status_code == 400
    assert_styled_under_the_csp(response, "This request could not be understood")


def test_the_favicon_is_served_to_anyone(client, db):
    response = client.get("/favicon.ico", follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[0][0] == "/static/favicon.ico"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
