"""What bench/pages.py found, pinned: pages whose work does not grow with the tables."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invocations.failures import grouping
from invocations.lists.bounded import COUNT_LIMIT
from invocations.models import Environment, ExecutionRecord
from tests import factories


def test_the_records_page_counts_each_kind_up_to_the_limit_and_says_more(client, bob):
    queue = factories.queue()
    ExecutionRecord.objects.bulk_create(
        ExecutionRecord(
            environment=Environment.objects.default(),
            queue=queue,
            message_id=f"msg-{n}",
            kind="failure",
            raw_body="{}",
        )
        for n in range(COUNT_LIMIT + 5)
    )
    ExecutionRecord.objects.create(
        environment=queue.environment, queue=queue, message_id="ok", kind="success", raw_body="{}"
    )
    client.force_login(bob)

    response = client.get("/records/")

    kinds = {kind["value"]: kind for kind in response.context["kinds"]}
    assert kinds["failure"]["count"] == COUNT_LIMIT
    assert kinds["failure"]["more"]
    assert kinds["success"]["count"] == 1
    assert not kinds["success"]["more"]
    assert response.context["total_more"]
    assert f"{COUNT_LIMIT}+" in response.content.decode()


def test_the_triage_sparklines_read_the_event_index_alone(client, bob):
    """The sparklines count a group's failed events by time: on SQLite, which keeps no
    statistics, each reads a range of the (group, time) index and no table row."""
    if connection.vendor != "sqlite":
        pytest.skip("the plan is SQLite's")
    grouping.group_records([factories.failure_record(function=f"fn-{n}") for n in range(3)])
    client.force_login(bob)

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200

    charts = [q["sql"] for q in captured if 'FROM "invocations_failedevent"' in q["sql"]]
    assert len(charts) == 2  # the 24 hours and the 14 days
    with connection.cursor() as cursor:
        for sql in charts:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = " ".join(row[-1] for row in cursor.fetchall())
            assert "USING COVERING INDEX event_group_time_idx (group_id=? AND happened_at>?)" in (
                plan
            ), plan
