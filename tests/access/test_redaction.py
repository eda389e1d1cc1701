import pytest
from django.template import Context, Template
from django.test import RequestFactory

from invocations.access.redaction import REDACTED, redact, redact_text


def test_it_hides_the_values_of_secret_looking_keys_at_any_depth():
    payload = {
        "user": "ann",
        "Password": "hunter2",
        "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k1", "Accept": "json"},
        "items": [{"session_token": "t"}, {"name": "x"}],
    }

    shown = redact(payload)

    assert shown == {
        "user": "ann",
        "Password": REDACTED,
        "headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED, "Accept": "json"},
        "items": [{"session_token": REDACTED}, {"name": "x"}],
    }
    assert payload["Password"] == "hunter2"


def test_it_leaves_scalars_and_unknown_keys_alone():
    assert redact("password") == "password"
    assert redact([1, {"order": 42}]) == [1, {"order": 42}]


def _render(value, user):
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load display %}{% json_block value 'Payload' %}")
    return template.render(Context({"value": value, "request": request}))


@pytest.mark.django_db
def test_a_viewer_sees_payloads_redacted_and_an_admin_sees_them_raw(bob, admin_user):
    payload = '{"username": "ann", "password": "hunter2"}'

    as_viewer = _render(payload, bob)
    as_admin = _render(payload, admin_user)

    assert "hunter2" not in as_viewer
    assert "[redacted]" in as_viewer
    assert "hunter2" in as_admin


@pytest.mark.django_db
def test_a_payload_is_escaped_not_interpreted(admin_user):
    html = _render('{"x": "<script>alert(1)</script>"}', admin_user)

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.django_db
def test_a_large_payload_is_collapsed_with_its_size(admin_user):
    html = _render({"blob": "x" * 40_000}, admin_user)

    assert "<details >" in html or "<details>" in html
    assert "Show 39.1 KB" in html


def test_a_change_of_redact_keys_changes_the_verdict_on_a_key_already_judged(settings):
    # Verdicts on keys are remembered while REDACT_KEYS stays the same, and only then.
    payload = {"order": 42, "customer_pin": "1234", "note": "pin=1234"}
    assert redact(payload) == payload

    settings.REDACT_KEYS = [*settings.REDACT_KEYS, "pin"]

    assert redact(payload) == {"order": 42, "customer_pin": REDACTED, "note": f"pin={REDACTED}"}
    assert redact_text("no separator here") == "no separator here"


def test_text_without_a_colon_or_an_equals_sign_is_returned_as_it_is_and_other_text_scanned():
    assert redact_text("password hunter2 in plain words") == "password hunter2 in plain words"
    assert redact_text("password=hunter2") == f"password={REDACTED}"
    assert redact_text("https://ann:hunter2@example.com") == f"https://ann:{REDACTED}@example.com"
