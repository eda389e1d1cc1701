"""The migrations that build failed events for what is stored, and merge the groups of one bug.
They run on SQLite here and on PostgreSQL with `tests/postgres/run.sh`."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("invocations", "0019_failed_events"), ("alerts", "0002_admin_role_manages_alerts")]
EVENTS = [("invocations", "0020_build_failed_events")]
MERGED = [("invocations", "0021_one_group_per_bug")]

TRACE = (
    '  File "/var/runtime/bootstrap.py", line 60, in handle_event_request\n'
    '  File "/var/task/app.py", line {line}, in handler\n'
    "    raise ValueError(f'order must be a positive integer, got {{order!r}}')"
)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps():
    apps = _migrate(BEFORE)
    yield apps
    _migrate(executor_leaf())


def executor_leaf():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _group(apps, env, key, error_type="ValueError", message="", **extra):
    now = timezone.now()
    return apps.get_model("invocations", "FailureGroup").objects.create(
        environment=env,
        fingerprint=key,
        function_name="orders",
        error_class="dlq_message" if not error_type else "error",
        error_type=error_type,
        sample_message=message,
        first_seen=now,
        last_seen=now,
        **extra,
    )


def _record(apps, env, queue, group, request_id, kind="failure", **facts):
    defaults = {
        "error_type": "ValueError",
        "error_message": "order must be a positive integer, got -1",
        "executed_version": "$LATEST",
        "condition": "RetriesExhausted",
        "approximate_invoke_count": 3,
        "function_name": "orders",
    }
    if kind == "dlq":
        defaults = {"error_message": facts.pop("error_message", "got -1"), "function_name": ""}
    defaults.update(facts)
    return apps.get_model("invocations", "ExecutionRecord").objects.create(
        environment=env,
        queue=queue,
        message_id=f"m-{kind}-{request_id}",
        kind=kind,
        request_id=request_id,
        raw_body="{}",
        failure_group=group,
        **defaults,
    )


def test_it_builds_one_event_per_request_with_the_facts_of_its_best_record(old_apps):
    apps = old_apps
    env = apps.get_model("invocations", "Environment").objects.create(name="production")
    Queue = apps.get_model("invocations", "WatchedQueue")
    destination = Queue.objects.create(environment=env, url="http://q/1/on-failure", kind="dest")
    dlq = Queue.objects.create(
        environment=env, url="http://q/1/orders-dlq", kind="dlq", function_name="orders"
    )
    errors = _group(apps, env, "errors", count=3)
    letters = _group(apps, env, "letters", error_type="", count=1)
    happened = timezone.now() - timedelta(hours=2)
    # Event 1: its dead letter arrived first and was grouped apart; event 2: both in one group.
    _record(apps, env, dlq, letters, "req-1", kind="dlq")
    onfailure = _record(apps, env, destination, errors, "req-1", record_timestamp=happened)
    _record(apps, env, destination, errors, "req-2", executed_version="1")
    _record(apps, env, dlq, errors, "req-2", kind="dlq")
    Invocation = apps.get_model("invocations", "Invocation")
    sync = Invocation.objects.create(
        environment=env,
        function_name="orders",
        status="function_error",
        error_code="ValueError",
        error_text="order must be a positive integer, got 0",
        request_id="req-sync",
        failure_group=errors,
        finished_at=timezone.now(),
    )
    # A replay that failed again was counted as a failure of its own.
    replay = Invocation.objects.create(
        environment=env,
        function_name="orders",
        status="function_error",
        error_code="ValueError",
        request_id="req-replay",
        replay_of=onfailure,
        failure_group=errors,
        finished_at=timezone.now(),
    )

    apps = _migrate(EVENTS)

    Event = apps.get_model("invocations", "FailedEvent")
    first = Event.objects.get(request_id="req-1")
    assert (first.error_type, first.executed_version, first.condition, first.attempts) == (
        "ValueError",
        "$LATEST",
        "RetriesExhausted",
        3,
    )
    assert (first.happened_at, first.happened_from) == (happened, "lambda")
    assert first.primary_record_id == onfailure.pk and first.group_id == errors.pk
    assert (first.replay_count, first.last_replay_status, first.replayed_ok) == (
        1,
        "function_error",
        False,
    )
    assert Event.objects.get(request_id="req-2").executed_version == "1"
    assert Event.objects.get(request_id="req-sync").invocation_id == sync.pk
    Group = apps.get_model("invocations", "FailureGroup")
    kept = Group.objects.get(pk=errors.pk)
    assert (kept.count, kept.backlog_count) == (3, 2)
    assert not Group.objects.filter(pk=letters.pk).exists()  # its one letter is event 1's
    replayed = apps.get_model("invocations", "Invocation").objects.get(pk=replay.pk)
    assert (replayed.failure_group_id, replayed.replay_of_event_id) == (None, first.pk)
    Record = apps.get_model("invocations", "ExecutionRecord")
    assert set(Record.objects.values_list("failure_group_id", flat=True)) == {errors.pk}


def test_it_merges_the_groups_of_one_bug_keeping_every_line_and_the_most_advanced_status(
    old_apps, django_user_model
):
    apps = old_apps
    env = apps.get_model("invocations", "Environment").objects.create(name="production")
    queue = apps.get_model("invocations", "WatchedQueue").objects.create(
        environment=env, url="http://q/1/on-failure", kind="destination"
    )
    bob = apps.get_model("auth", "User").objects.create(username="bob")
    Activity = apps.get_model("invocations", "GroupActivity")
    groups = []
    # One raise, three inputs, three lines (the file was edited between them): one bug.
    for n, (value, status, line) in enumerate(
        [("'abc'", "open", 12), ("None", "resolved", 14), ("[1]", "acknowledged", 15)]
    ):
        group = _group(
            apps,
            env,
            f"old-{n}",
            message=f"order must be a positive integer, got {value}",
            status=status,
            count=1,
            assignee=bob if n == 2 else None,
        )
        Activity.objects.create(group=group, kind="comment", text=f"note {n}")
        _record(
            apps,
            env,
            queue,
            group,
            f"req-{n}",
            error_message=f"order must be a positive integer, got {value}",
            stack_trace=TRACE.format(line=line),
        )
        groups.append(group)
    other = _group(apps, env, "other", error_type="KeyError", message="'sku'", count=1)
    _record(apps, env, queue, other, "req-k", error_type="KeyError", error_message="'sku'")
    leaky = _group(apps, env, "leaky", error_type="AuthError", message="token=S3cr3tX", count=1)
    _record(apps, env, queue, leaky, "req-t", error_type="AuthError", error_message="token=S3cr3tX")

    apps = _migrate(MERGED)

    Group = apps.get_model("invocations", "FailureGroup")
    assert Group.objects.count() == 3
    # Everyone reads a title: the migration makes it from the redacted message, as grouping does.
    assert Group.objects.get(pk=leaky.pk).headline == "AuthError: token=[redacted]"
    merged = Group.objects.get(pk=groups[0].pk)
    assert (merged.count, merged.status, merged.assignee_id) == (3, "resolved", bob.pk)
    assert merged.headline == "ValueError: order must be a positive integer, got …"
    texts = list(
        apps.get_model("invocations", "GroupActivity")
        .objects.filter(group=merged)
        .values_list("kind", "text")
    )
    assert {text for kind, text in texts if kind == "comment"} == {"note 0", "note 1", "note 2"}
    assert sum(kind == "merge" for kind, _ in texts) == 2
    audit = apps.get_model("invocations", "AuditEvent").objects.filter(action="group.merged")
    assert audit.count() == 2
    assert len(merged.fingerprint) == 64
    assert Group.objects.get(pk=other.pk).fingerprint != merged.fingerprint
