"""The query bar's language and the time range: any input is understood or named, never an
error."""

from datetime import timedelta

from django.http import QueryDict
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from invocations.lists import search, time_ranges

FIELDS = ("function", "error", "version", "is", "assigned", "queue", "kind")
CHOICES = {"is": search.GROUP_STATES, "kind": ("failure", "dlq")}


def parse(raw, fields=FIELDS):
    return search.parse(raw, fields=fields, choices=CHOICES)


def test_it_reads_every_field_and_the_free_text():
    query = parse(
        "function:orders error:ValueError version:7 is:regressed assigned:me "
        "queue:orders-dlq kind:dlq must be positive"
    )

    assert query.terms == {
        "function": "orders",
        "error": "ValueError",
        "version": "7",
        "is": "regressed",
        "assigned": "me",
        "queue": "orders-dlq",
        "kind": "dlq",
    }
    assert query.text == "must be positive"
    assert query.problems == ()


def test_a_quoted_value_keeps_its_spaces_and_quoted_text_is_one_phrase():
    query = parse('error:"Runtime exited" "order must"')

    assert query.get("error") == "Runtime exited"
    assert query.text == "order must"


def test_an_unknown_field_is_named_and_the_rest_still_applies():
    query = parse("colour:red function:orders", fields=("function", "error"))

    assert query.terms == {"function": "orders"}
    assert len(query.problems) == 1
    assert query.problems[0].startswith("colour: is not a field here")


def test_a_value_outside_a_closed_field_is_named_and_ignored():
    query = parse("is:sleeping kind:DLQ")

    assert "is" not in query.terms
    assert query.get("kind") == "dlq"
    assert query.problems == (
        "is:sleeping is not one of " + ", ".join(search.GROUP_STATES) + "; ignored",
    )


def test_a_field_without_a_value_is_named():
    query = parse("function: boom")

    assert query.terms == {}
    assert query.problems == ("function: needs a value; ignored",)
    assert query.text == "boom"


def test_an_unterminated_quote_runs_to_the_end():
    assert parse('error:"Value Err').get("error") == "Value Err"


@given(st.text(max_size=800))
def test_any_string_parses_without_error(raw):
    query = parse(raw)

    assert set(query.terms) <= set(FIELDS)
    assert len(query.text) <= search.MAX_VALUE
    assert all(len(value) <= search.MAX_VALUE for value in query.terms.values())


VALUE = st.text(
    alphabet=st.characters(blacklist_categories=("Z", "C"), blacklist_characters='"'),
    min_size=1,
    max_size=40,
)


@given(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=6), VALUE)
def test_any_field_with_any_value_is_either_kept_or_named(names, value):
    query = parse(" ".join(f"{name}:{value}" for name in names))

    for name in names:
        assert name in query.terms or any(p.startswith(f"{name}:") for p in query.problems)


def test_suggestions_list_fields_then_known_values_quoted_when_needed():
    entries = search.suggestions(("function", "error"), {"error": ["Runtime exited"]})

    assert entries == ["function:", "error:", 'error:"Runtime exited"']


def test_a_preset_range_ends_now_and_starts_that_long_ago():
    before = timezone.now()

    window = time_ranges.from_params(QueryDict("range=24h"))

    assert window.key == "24h" and window.end is None
    assert before - timedelta(hours=24) <= window.start <= timezone.now() - timedelta(hours=24)


def test_a_custom_range_reads_from_and_to():
    window = time_ranges.from_params(
        QueryDict("range=custom&since=2026-11-01T08:00&until=2026-11-02T09:30")
    )

    assert (window.start.day, window.start.hour, window.end.day, window.end.minute) == (1, 8, 2, 30)
    assert window.problems == ()


def test_bad_range_values_are_named_and_ignored():
    window = time_ranges.from_params(QueryDict("range=forever&since=yesterday"))

    assert not window.bounded
    assert len(window.problems) == 2
    assert "forever" in window.problems[0] and "yesterday" in window.problems[1]


def test_a_range_that_ends_before_it_starts_is_ignored():
    window = time_ranges.from_params(QueryDict("since=2026-11-02T00:00&until=2026-11-01T00:00"))

    assert not window.bounded
    assert window.problems == ("the range ends before it starts; ignored",)


@given(st.dictionaries(st.sampled_from(["range", "since", "until"]), st.text(max_size=60)))
def test_any_range_parameters_read_without_error(params):
    window = time_ranges.from_params(params)

    assert window.key in ("", "custom", *time_ranges.PRESETS)
