"""The rows stored before redacted copies existed get them from the migration that adds them,
and so do the alerts' notifications."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("invocations", "0016_failure_group_headline"),
    ("alerts", "0002_admin_role_manages_alerts"),
]
AFTER = [("invocations", "0017_redacted_copies"), ("alerts", "0003_notifications_redacted")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def at_the_latest_schema_after():
    """Whatever the test migrates to, the database is at the latest migrations afterwards: the
    tests that follow expect the schema of the code."""
    yield
    executor = MigrationExecutor(connection)
    _migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_the_copies_of_rows_already_stored(at_the_latest_schema_after):
    old = _migrate(BEFORE)
    environment = old.get_model("invocations", "Environment").objects.create(
        name="legacy", region="eu-west-1"
    )
    queue = old.get_model("invocations", "WatchedQueue").objects.create(
        environment=environment, url="http://127.0.0.1:4566/123456789012/legacy", kind="dlq"
    )
    old.get_model("invocations", "ExecutionRecord").objects.create(
        environment=environment,
        queue=queue,
        message_id="m-1",
        kind="failure",
        error_message="refused password=old-secret",
        request_payload={"token": "old-token", "n": 1},
        raw_body="{}",
    )
    channel = old.get_model("alerts", "Channel").objects.create(
        name="hook", url="https://hooks.example.com/x", secret="s"
    )
    old.get_model("alerts", "Notification").objects.create(
        channel=channel,
        event="new_group",
        title="New failure: token=old-alert",
        payload={"error": {"message": "Settings(db_password='old-alert')"}},
        next_attempt_at=timezone.now(),
    )

    new = _migrate(AFTER)

    record = new.get_model("invocations", "ExecutionRecord").objects.get(message_id="m-1")
    assert record.error_message_redacted == "refused password=[redacted]"
    assert record.request_payload_redacted == {"token": "[redacted]", "n": 1}
    assert new.get_model("invocations", "RedactionPass").objects.exists()
    notification = new.get_model("alerts", "Notification").objects.get()
    assert "old-alert" not in notification.title + str(notification.payload)
