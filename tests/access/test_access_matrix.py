"""Every URL pattern × every role: allowed, 403, or sent to the login page.

The table names each URL's method and the permission it needs. A URL that is not in the table
fails the first test, so a new view cannot ship without deciding who may use it."""

import io

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from alerts.models import Channel, Rule
from invocations.models import (
    Environment,
    FailureGroup,
    Function,
    Invocation,
    PayloadTemplate,
    ReplayBatch,
)
from tests import factories
from tests.access.test_login_required import ROUTES
from tests.conftest import ensure_roles

VIEW, INVOKE, TRIAGE, REPLAY, QUEUES = "view", "invoke", "triage", "replay", "queues"
ALERTS = "alerts"
ADMIN = "admin"
LOGIN = "login"  # any signed-in person

# name: (method, needs)
MATRIX = {
    "triage": ("get", VIEW),
    "triage-changes": ("get", VIEW),
    "redrive-dismiss": ("post", VIEW),
    "records-changes": ("get", VIEW),
    "group-changes": ("get", VIEW),
    "suggestions": ("get", VIEW),
    "export": ("get", VIEW),
    "environment-switch": ("post", LOGIN),
    "functions": ("get", VIEW),
    "functions-refresh": ("post", INVOKE),
    "function": ("get", VIEW),
    "function-invoke": ("post", INVOKE),
    "function-monitor": ("get", VIEW),
    "function-insights": ("get", VIEW),
    "workers": ("get", ADMIN),
    "template-save": ("post", INVOKE),
    "template-delete": ("post", INVOKE),
    "invocations": ("get", VIEW),
    "invocation": ("get", VIEW),
    "invocation-status": ("get", VIEW),
    "invocation-log": ("get", VIEW),
    "invocation-rerun": ("post", INVOKE),
    "records": ("get", VIEW),
    "record": ("get", VIEW),
    "record-logs": ("get", VIEW),
    "record-text": ("get", ADMIN),  # the raw-payload permission, which the Admin role holds
    "request": ("get", VIEW),
    "queues": ("get", VIEW),
    "queue-depth": ("get", VIEW),
    "queues-watch": ("post", QUEUES),
    "queue-toggle": ("post", QUEUES),
    "queue-poll": ("post", QUEUES),
    "queues-discover": ("post", QUEUES),
    "group": ("get", VIEW),
    "group-action": ("post", TRIAGE),
    "groups-bulk": ("post", TRIAGE),
    "replay-plan": ("get", REPLAY),
    "replay-start": ("post", REPLAY),
    "replay-batch": ("get", VIEW),
    "replay-cancel": ("post", REPLAY),
    "redrive": ("post", REPLAY),
    "alert-rules": ("get", VIEW),
    "alert-deliveries": ("get", VIEW),
    "alert-rule-add": ("get", ALERTS),
    "alert-rule-edit": ("get", ALERTS),
    "alert-rule-toggle": ("post", ALERTS),
    "alert-channel-add": ("get", ALERTS),
    "alert-channel-edit": ("get", ALERTS),
    "alert-channel-test": ("post", ALERTS),
}
PUBLIC = {"login", "logout", "health", "metrics", "favicon"}

ROLES = {
    "nobody": [],
    "viewer": ["Viewer"],
    "operator": ["Viewer", "Operator"],
    "triager": ["Viewer", "Operator", "Triager"],
    "admin": ["Viewer", "Operator", "Triager", "Admin"],
}
GRANTS = {
    "nobody": set(),
    "viewer": {VIEW},
    "operator": {VIEW, INVOKE},
    "triager": {VIEW, INVOKE, TRIAGE, REPLAY},
    "admin": {VIEW, INVOKE, TRIAGE, REPLAY, QUEUES, ALERTS, ADMIN},
}


def test_every_url_has_a_row_in_the_matrix():
    names = {name for name, _ in ROUTES} - PUBLIC

    assert names - set(MATRIX) == set(), "decide who may use these URLs"
    assert set(MATRIX) - names == set(), "these URLs no longer exist"


@pytest.fixture
def objects(db, django_user_model):
    """One of each object the URLs name, so that a view finds what it looks for."""
    env = Environment.objects.default()
    # Views that call AWS get a closed local port: fail at once, never reach a real account.
    env.endpoint_url = "http://127.0.0.1:9"
    env.save()
    function = Function.objects.create(environment=env, name="hello", runtime="python3.11")
    owner = django_user_model.objects.create_user("owner")
    template = PayloadTemplate.objects.create(
        function=function, name="t", payload="{}", owner=owner
    )
    invocation = Invocation.objects.create(
        environment=env, function_name="hello", status="succeeded"
    )
    record = factories.failure_record(function="hello")
    group = FailureGroup.objects.create(
        environment=env,
        fingerprint="f" * 64,
        function_name="hello",
        error_class="error",
        first_seen=timezone.now(),
        last_seen=timezone.now(),
    )
    batch = ReplayBatch.objects.create(
        environment=env, function_name="hello", status="done", record_ids=[]
    )
    channel = Channel.objects.create(name="hook", url="http://127.0.0.1:9/hook")
    rule = Rule.objects.create(environment=env, name="everything", on_new_group=True)
    return {
        "channel": channel.pk,
        "rule": rule.pk,
        "function": function.name,
        "template": template.pk,
        "invocation": invocation.pk,
        "record": record.pk,
        "request_id": record.request_id,
        "queue": record.queue.pk,
        "group": group.pk,
        "batch": batch.pk,
    }


def _path(name: str, objects: dict) -> str:
    from django.urls import reverse

    kwargs_by_name = {
        "function": {"name": objects["function"]},
        "function-invoke": {"name": objects["function"]},
        "function-monitor": {"name": objects["function"]},
        "function-insights": {"name": objects["function"]},
        "template-save": {"name": objects["function"]},
        "template-delete": {"name": objects["function"], "pk": objects["template"]},
        "invocation": {"pk": objects["invocation"]},
        "invocation-status": {"pk": objects["invocation"]},
        "invocation-log": {"pk": objects["invocation"]},
        "invocation-rerun": {"pk": objects["invocation"]},
        "record": {"pk": objects["record"]},
        "record-logs": {"pk": objects["record"]},
        "record-text": {"pk": objects["record"], "field": "error_message"},
        "request": {"request_id": objects["request_id"]},
        "queue-depth": {"pk": objects["queue"]},
        "queue-toggle": {"pk": objects["queue"]},
        "queue-poll": {"pk": objects["queue"]},
        "group": {"pk": objects["group"]},
        "group-changes": {"pk": objects["group"]},
        "suggestions": {"list_name": "records"},
        "export": {"list_name": "records", "fmt": "csv"},
        "group-action": {"pk": objects["group"], "action": "comment"},
        "replay-batch": {"pk": objects["batch"]},
        "replay-cancel": {"pk": objects["batch"]},
        "alert-rule-edit": {"pk": objects["rule"]},
        "alert-rule-toggle": {"pk": objects["rule"]},
        "alert-channel-edit": {"pk": objects["channel"]},
        "alert-channel-test": {"pk": objects["channel"]},
    }
    return reverse(name, kwargs=kwargs_by_name.get(name, {}))


CASES = [(name, role) for name in sorted(MATRIX) for role in ["anonymous", *ROLES]]


@pytest.mark.parametrize(("name", "role"), CASES)
def test_who_may_use_each_url(client, django_user_model, objects, name, role):
    method, needs = MATRIX[name]
    ensure_roles()
    if role != "anonymous":
        user = django_user_model.objects.create_user(f"u-{role}", password="pw")
        user.groups.set(Group.objects.filter(name__in=ROLES[role]))
        client.force_login(user)

    # Empty forms: an allowed request is refused by validation, never by permission.
    response = getattr(client, method)(_path(name, objects))

    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    elif needs == LOGIN or needs in GRANTS[role]:
        assert response.status_code != 403, f"{role} should be allowed {name}"
        assert not response.get("Location", "").startswith("/accounts/login/")
    else:
        assert response.status_code == 403, f"{role} should be refused {name}"


# Management commands that change state and act for a person (`--user`): command → what the
# person needs. A command that grows a --user option fails the first test until it is here.
COMMAND_MATRIX = {
    "invoke": (["hello", "--payload", "{}"], INVOKE),
}


def _commands_with_a_user_option() -> set[str]:
    from django.core.management import get_commands, load_command_class

    found = set()
    for name, app in get_commands().items():
        if app not in {"invocations", "sandbox"}:
            continue
        parser = load_command_class(app, name).create_parser("manage.py", name)
        if any("--user" in action.option_strings for action in parser._actions):
            found.add(name)
    return found


def test_every_command_with_a_user_option_has_a_row():
    assert _commands_with_a_user_option() == set(COMMAND_MATRIX)


@pytest.mark.parametrize(
    ("command", "role"), [(command, role) for command in COMMAND_MATRIX for role in ROLES]
)
def test_who_may_run_each_command_as_themselves(django_user_model, objects, command, role):
    from django.core.management import CommandError, call_command

    arguments, needs = COMMAND_MATRIX[command]
    ensure_roles()
    user = django_user_model.objects.create_user(f"u-{role}", password="pw")
    user.groups.set(Group.objects.filter(name__in=ROLES[role]))
    invocations_before = Invocation.objects.count()

    if needs in GRANTS[role]:
        call_command(command, *arguments, "--user", user.username, stdout=io.StringIO())
        assert Invocation.objects.count() == invocations_before + 1
    else:
        with pytest.raises(CommandError, match="may not"):
            call_command(command, *arguments, "--user", user.username)
        assert Invocation.objects.count() == invocations_before
