"""Redaction of free text is linear in the length of the text, whatever the text: the work is
counted (characters the RE2 pass reads, matches, key comparisons, value walks), never timed."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invocations.access import redaction
from invocations.access.redaction import MAX_TEXT_CHARS, REDACTED, redact_text, scan

PATTERNS = redaction._squash("password"), redaction._squash("token"), redaction._squash("pwd")
# 3 for the pass, the matches and the value walks; one more per pattern for key comparisons.
PER_CHARACTER = 3 + len(PATTERNS)

# Pieces that make scanners backtrack: escapes, quotes of every kind, separators, nesting, keys.
HOSTILE = st.sampled_from(
    [
        "\\",
        "\\\\",
        '"',
        "'",
        '\\"',
        ":",
        "=",
        " ",
        "\n",
        "{",
        "}",
        "password",
        '"password": ',
        "'token'=",
        "pwd=",
        "https://",
        "u:p@",
        "%5F",
        "Authorization: ",
        "a",
        "é",
    ]
)


def _work(text: str) -> int:
    return scan(text, list(PATTERNS)).steps


@settings(max_examples=300, deadline=None)
@given(st.lists(HOSTILE, max_size=200).map("".join), st.integers(min_value=1, max_value=50))
def test_the_work_of_redaction_is_at_most_a_constant_times_the_length(piece, repeat):
    text = piece * repeat

    assert _work(text) <= PER_CHARACTER * len(text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=500))
def test_any_text_is_redacted_in_linear_work_and_never_fails(text):
    shown = redact_text(text, list(PATTERNS))

    assert isinstance(shown, str)
    assert _work(text) <= PER_CHARACTER * len(text)


@pytest.mark.parametrize(
    "unit",
    ["\\", '\\"', "'password': '\\", '"password": "' + "\\" * 3, "password=", "a:" * 2, "'a'='"],
)
def test_doubling_the_input_doubles_the_work_no_more(unit):
    small, large = unit * 10_000, unit * 20_000

    assert _work(large) <= 2 * _work(small) + 64


def test_the_attackers_hundred_thousand_backslashes_cost_one_pass():
    payload = '{"message": "' + "\\" * 100_000 + '"}'

    work = _work(payload)
    shown = redact_text(payload, list(PATTERNS))

    assert work <= PER_CHARACTER * len(payload)
    assert shown == payload


def test_backslashes_between_a_secret_key_and_its_value_are_walked_once():
    payload = "'password': '" + "\\" * 100_000 + "x"

    work = _work(payload)

    assert work <= PER_CHARACTER * len(payload)
    assert redact_text(payload, list(PATTERNS)) == f"'password': '{REDACTED}"


def test_a_text_past_the_budget_is_cut_not_scanned():
    text = "a" * MAX_TEXT_CHARS + "password=late"

    shown = redact_text(text, list(PATTERNS))

    assert "late" not in shown
    assert "13 more characters not shown" in shown
    assert _work(text) <= MAX_TEXT_CHARS * PER_CHARACTER
