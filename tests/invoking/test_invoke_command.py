"""`manage.py invoke`: the browser's path, from a shell."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from invocations.models import AuditEvent, Invocation


@pytest.mark.broker
@pytest.mark.sandbox
def test_it_invokes_through_the_worker_and_prints_the_result_with_wait(
    celery_worker, sandbox_env, alice
):
    out = StringIO()

    call_command(
        "invoke", "hello", "--payload", '{"name": "shell"}', "--wait", "--user", "alice", stdout=out
    )

    printed = json.loads(out.getvalue())
    assert printed["status"] == "succeeded"
    assert printed["response_payload"]["message"] == "Hello, shell!"
    assert printed["request_id"]
    assert "saying hello to shell" in printed["log_tail"]
    assert Invocation.objects.get().requested_by == alice
    assert AuditEvent.objects.get(action="function.invoke").actor_name == "alice"


def test_it_refuses_bad_json_with_a_one_line_reason(db):
    with pytest.raises(CommandError, match="Not valid JSON: .* line 1, column 2"):
        call_command("invoke", "hello", "--payload", "{oops}")

    assert not Invocation.objects.exists()


def test_it_queues_without_waiting(db, django_capture_on_commit_callbacks):
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("invoke", "hello", "--type", "Event", stdout=out)

    invocation = Invocation.objects.get()
    assert out.getvalue().strip() == f"Invocation {invocation.pk} queued."
    assert invocation.invocation_type == "Event"
    assert len(callbacks) == 1


def test_a_protected_environment_needs_the_function_name_again(db):
    from invocations.models import Environment

    Environment.objects.filter(pk=Environment.objects.default().pk).update(protected=True)

    with pytest.raises(CommandError, match="protected: repeat the function name"):
        call_command("invoke", "hello", "--confirm", "hell")
    assert not Invocation.objects.exists()

    call_command("invoke", "hello", "--confirm", "hello", stdout=StringIO())
    assert Invocation.objects.get().function_name == "hello"
