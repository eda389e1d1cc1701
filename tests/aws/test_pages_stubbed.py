"""Lists whose second page moto cannot give (one asynchronous invocation config per function;
GetMetricData answered whole), and the bound on log reads: botocore's Stubber answers page by
page."""

from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from invocations import aws
from invocations.models import Environment


@pytest.fixture
def env(db):
    aws.reset_clients()
    yield Environment.objects.default()
    aws.reset_clients()


def test_every_page_of_event_invoke_configs_is_read(env):
    def config(qualifier):
        return {"FunctionArn": f"arn:aws:lambda:us-east-1:123456789012:function:f:{qualifier}"}

    with Stubber(aws.client(env, "lambda")) as stub:
        stub.add_response(
            "list_function_event_invoke_configs",
            {"FunctionEventInvokeConfigs": [config("1"), config("2")], "NextMarker": "page-2"},
            {"FunctionName": "f"},
        )
        stub.add_response(
            "list_function_event_invoke_configs",
            {"FunctionEventInvokeConfigs": [config("live")]},
            {"FunctionName": "f", "Marker": "page-2"},
        )

        configs = aws.list_event_invoke_configs(env, "f")

        stub.assert_no_pending_responses()
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in configs] == ["1", "2", "live"]


def test_a_metric_series_that_continues_on_the_next_page_is_joined_in_time_order(env):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    minute = [start + timedelta(minutes=n) for n in range(3)]
    query = aws.MetricQuery("errors", "AWS/Lambda", "Errors", (("FunctionName", "f"),), "Sum", 60)

    with Stubber(aws.client(env, "cloudwatch")) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "errors", "Timestamps": [minute[2], minute[0]], "Values": [3.0, 1.0]}
                ],
                "NextToken": "page-2",
            },
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "errors", "Timestamps": [minute[1]], "Values": [2.0]}]},
        )

        series = aws.get_metric_data(env, [query], start, start + timedelta(hours=1))

        stub.assert_no_pending_responses()
    assert series == {"errors": list(zip(minute, [1.0, 2.0, 3.0], strict=True))}


def _log_page(messages, token):
    answer = {
        "events": [{"timestamp": 1, "message": m, "logStreamName": "s"} for m in messages],
        "searchedLogStreams": [],
    }
    if token:
        answer["nextToken"] = token
    return answer


def test_a_log_search_stops_after_its_page_bound_and_says_more_was_left(env):
    with Stubber(aws.client(env, "logs")) as stub:
        stub.add_response("filter_log_events", _log_page(["a"], "t1"))
        stub.add_response("filter_log_events", _log_page([], "t2"))

        events, more = aws.filter_log_events(env, "/aws/lambda/f", "x", 0, max_pages=2)

        stub.assert_no_pending_responses()  # and no third call: Stubber would refuse it
    assert ([event.message for event in events], more) == (["a"], True)


def test_a_log_search_stops_at_its_limit_and_says_more_was_left(env):
    with Stubber(aws.client(env, "logs")) as stub:
        stub.add_response("filter_log_events", _log_page(["a", "b"], "t1"))
        stub.add_response("filter_log_events", _log_page(["c", "d"], "t2"))

        events, more = aws.filter_log_events(env, "/aws/lambda/f", "x", 0, limit=3)

        stub.assert_no_pending_responses()
    assert ([event.message for event in events], more) == (["a", "b", "c"], True)


def test_a_log_search_that_reads_to_the_end_says_nothing_was_left(env):
    with Stubber(aws.client(env, "logs")) as stub:
        stub.add_response("filter_log_events", _log_page(["a"], "t1"))
        stub.add_response("filter_log_events", _log_page(["b"], None))

        events, more = aws.filter_log_events(env, "/aws/lambda/f", "x", 0)

    assert ([event.message for event in events], more) == (["a", "b"], False)
