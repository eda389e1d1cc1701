"""What bench/pages.py found, pinned: pages whose work does not grow with the tables."""

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
