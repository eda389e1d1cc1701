"""Secrets as they are really written in error messages, stack traces and log lines, with the
default key list; and what redaction cannot know."""

import pytest

from invocations.access import audit
from invocations.access.actor import Actor
from invocations.access.redaction import REDACTED, redact, redact_text

PLACEMENTS = [
    "password=hunter2",
    "password = hunter2",
    'password="hunter2"',
    "password = 'hunter2'",
    '{"password" : "hunter2"}',
    "{'password': 'hunter2'}",
    '{\\"password\\": \\"hunter2\\"}',
    "Settings(db_password='hunter2', debug=False)",
    "Config(password=SecretStr('hunter2'))",
    "db_password: hunter2",
    "Authorization: Bearer hunter2",
    "x-api-key: hunter2",
    "connecting to postgres://app:hunter2@db.internal:5432/orders",
    "GET https://ann:hunter2@api.example.com/v1 failed",
    "api%5Fkey=hunter2&page=1",
    "pass%77ord=hunter2",
    "x" * 150 + "_password=hunter2",
    "passwd=hunter2",
    "pwd=hunter2",
    "private_key='hunter2'",
    "aws_credential=hunter2",
    "secret_key: hunter2",
    "sessionid=hunter2",
    "X-Api-Key=hunter2",
    "token:hunter2",
    "ValueError: bad input {'user': 'ann', 'token': 'hunter2'} at line 3",
]


@pytest.mark.parametrize("text", PLACEMENTS)
def test_the_secret_is_hidden_however_it_is_written(text):
    shown = redact_text(f"failed: {text}\nnext line stays")

    assert "hunter2" not in shown
    assert REDACTED in shown
    assert shown.endswith("next line stays")


def test_what_is_not_secret_is_left_as_it_was():
    text = "order 42 failed: quantity=3, user='ann', https://api.example.com/v1 at 12:30:45"

    assert redact_text(text) == text


def test_the_neighbours_of_a_secret_stay():
    shown = redact_text("Settings(user='ann', db_password='hunter2', port=5432)")

    assert shown == f"Settings(user='ann', db_password='{REDACTED}', port=5432)"


def test_a_secret_under_an_innocent_key_name_cannot_be_known():
    shown = redact_text("failed with note=hunter2")

    assert "hunter2" in shown


def test_payload_keys_of_the_default_list_are_hidden():
    payload = {"passwd": "a", "pwd": "b", "private_key": "c", "credentials": "d", "session": "e"}

    assert redact(payload) == dict.fromkeys(payload, REDACTED)


@pytest.mark.django_db
def test_an_audit_events_details_are_redacted_as_written(admin_user):
    event = audit.record(
        "test.note",
        actor=Actor.person(admin_user),
        summary="replayed: token=hunter2",
        details={"error": "Settings(db_password='hunter2')", "count": 3},
    )

    event.refresh_from_db()
    assert "hunter2" not in event.summary + str(event.details)
    assert event.details["count"] == 3


def test_a_text_holding_a_lone_surrogate_is_redacted_and_kept_otherwise():
    shown = redact_text("\udc00 token=hunter2 \ud800 tail")

    assert shown == f"\udc00 token={REDACTED} \ud800 tail"
