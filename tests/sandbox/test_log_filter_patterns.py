"""FilterLogEvents over a function's log with CloudWatch Logs filter patterns.

Follows "Filter pattern syntax for metric filters, subscription filters, filter log events, and
Live Tail" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html)
and "FilterLogEvents" (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html:
InvalidParameterException).
"""

import json

import pytest

from tests.sandbox.helpers import invoke, wait_for_log_line

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

HANDLER = (
    "import json\n\n"
    "def lambda_handler(event, context):\n"
    "    print(json.dumps({'level': 'INFO', 'message': 'starting', 'latency': 12}))\n"
    "    print(json.dumps({'level': 'ERROR', 'message': 'payment failed', 'latency': 950}))\n"
    "    print(json.dumps({'level': 'WARNING', 'message': 'slow', 'latency': 700}))\n"
    "    print('GET /orders 404 0.3 plain text line')\n"
    "    print('DONE')\n"
)


@pytest.fixture
def logged(awslambda, logs, make_function):
    """The log group of a function that has logged JSON lines and plain ones."""
    name = make_function(HANDLER)
    invoke(awslambda, name, {})
    wait_for_log_line(logs, name, "DONE")
    return f"/aws/lambda/{name}"


def messages(logs, group: str, pattern: str) -> list[str]:
    events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
    return [event["message"].strip() for event in events]


def levels(lines: list[str]) -> list[str]:
    return [json.loads(line)["level"] for line in lines if line.startswith("{")]


def test_a_json_pattern_selects_the_matching_events_only(logs, logged):
    assert levels(messages(logs, logged, '{ $.level = "ERROR" }')) == ["ERROR"]
    assert levels(messages(logs, logged, "{ $.latency > 500 }")) == ["ERROR", "WARNING"]
    assert levels(messages(logs, logged, '{ $.level = "WARN*" || $.latency < 100 }')) == [
        "INFO",
        "WARNING",
    ]
    assert messages(logs, logged, "{ $.missing EXISTS }") == []


def test_terms_phrases_alternatives_and_exclusions(logs, logged):
    assert messages(logs, logged, '"plain text"') == ["GET /orders 404 0.3 plain text line"]
    assert levels(messages(logs, logged, "latency -ERROR -INFO")) == ["WARNING"]
    assert sorted(messages(logs, logged, "?DONE ?slow"))[0] == "DONE"
    assert len(messages(logs, logged, "?DONE ?slow")) == 2


def test_a_space_delimited_pattern_matches_fields(logs, logged):
    lines = messages(logs, logged, "[method = GET, path, status = 4*, seconds < 1, ...]")

    assert lines == ["GET /orders 404 0.3 plain text line"]


def test_an_unparseable_pattern_is_refused_not_taken_as_everything(logs, logged):
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=logged, filterPattern='{ $.level = "ERROR"')
