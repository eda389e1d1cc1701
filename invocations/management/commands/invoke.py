"""python manage.py invoke FUNCTION [--payload JSON | --payload-file F] [--type T] [--qualifier Q]
[--wait] [--user USERNAME] [--confirm FUNCTION]: the browser's path (an Invocation row, a Celery
task after commit)."""

import json
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from invocations.access import permissions
from invocations.access.actor import Actor
from invocations.forms.invoke import InvokeForm
from invocations.invoking import lifecycle
from invocations.models import Environment, Invocation


def as_json(invocation: Invocation) -> dict:
    def payload(text):
        try:
            return json.loads(text) if text else None
        except (ValueError, RecursionError):  # not JSON, or nested thousands deep
            return text

    return {
        "id": invocation.pk,
        "function": invocation.function_name,
        "qualifier": invocation.qualifier,
        "type": invocation.invocation_type,
        "status": invocation.status,
        "status_code": invocation.status_code,
        "function_error": invocation.function_error,
        "request_id": invocation.request_id,
        "executed_version": invocation.executed_version,
        "duration_ms": invocation.duration_ms,
        "billed_duration_ms": invocation.billed_duration_ms,
        "memory_size_mb": invocation.memory_size_mb,
        "max_memory_used_mb": invocation.max_memory_used_mb,
        "init_duration_ms": invocation.init_duration_ms,
        "attempts": invocation.attempts,
        "error_code": invocation.error_code,
        "error_text": invocation.error_text,
        "response_payload": payload(invocation.response_payload),
        "log_tail": invocation.log_tail,
        "created_at": invocation.created_at.isoformat(),
        "finished_at": invocation.finished_at.isoformat() if invocation.finished_at else None,
    }


class Command(BaseCommand):
    help = "Invoke a Lambda function through the dashboard (an Invocation row and a Celery task)."

    def add_arguments(self, parser):
        parser.add_argument("function")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--payload", help="the event as JSON (default {})")
        source.add_argument("--payload-file", help="a file holding the event as JSON")
        parser.add_argument("--type", default="RequestResponse", choices=Invocation.Type.values)
        parser.add_argument("--qualifier", default="", help="a version or alias")
        parser.add_argument("--environment", help="environment name (default: the default one)")
        parser.add_argument(
            "--user",
            help="invoke as this person: recorded as the actor, refused without the invoke "
            "permission (Operator role)",
        )
        parser.add_argument(
            "--confirm",
            metavar="FUNCTION",
            help="the function's name again: required in a protected environment",
        )
        parser.add_argument(
            "--wait", action="store_true", help="wait until it is done and print it as JSON"
        )
        parser.add_argument("--timeout", type=float, default=960, help="seconds --wait waits")

    def handle(self, *args, **options):
        if options["environment"]:
            environment = Environment.objects.filter(name=options["environment"]).first()
            if environment is None:
                raise CommandError(f"No environment named {options['environment']!r}.")
        else:
            environment = Environment.objects.default()
        name = options["function"]
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user named {options['user']!r}.")
            if not permissions.can(user, permissions.INVOKE):
                raise CommandError(
                    f"{user.get_username()} may not invoke functions (the Operator role may)."
                )
        if options["payload_file"]:
            try:
                payload = Path(options["payload_file"]).read_text("utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(f"Cannot read {options['payload_file']}: {error}") from None
        else:
            payload = options["payload"] or "{}"
        # The invoke form's own rules (allowed function, protected environment, JSON, size),
        # so that the command and the page accept the same invocations.
        qualifier = options["qualifier"] or "$LATEST"
        form = InvokeForm(
            {
                "qualifier": qualifier,
                "invocation_type": options["type"],
                "payload": payload,
                "confirm_name": options["confirm"] or "",
            },
            function_name=name,
            environment=environment,
            qualifiers=[qualifier],
        )
        if not form.is_valid():
            raise CommandError(self._problems(form, environment, name))

        invocation = lifecycle.start(
            environment=environment,
            function_name=name,
            qualifier="" if options["qualifier"] == "$LATEST" else options["qualifier"],
            invocation_type=form.cleaned_data["invocation_type"],
            payload=form.cleaned_data["payload"],
            actor=Actor.person(user),
        )
        if not options["wait"]:
            self.stdout.write(f"Invocation {invocation.pk} queued.")
            return
        deadline = time.monotonic() + options["timeout"]
        while True:
            invocation.refresh_from_db()
            if invocation.is_done:
                break
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Invocation {invocation.pk} still {invocation.status} after "
                    f"{options['timeout']:g} s (is a Celery worker running?)."
                )
            time.sleep(0.2)
        self.stdout.write(json.dumps(as_json(invocation), indent=2))
        if invocation.status in {Invocation.Status.FAILED, Invocation.Status.THROTTLED}:
            raise CommandError(f"Invocation {invocation.pk} {invocation.status}.")

    @staticmethod
    def _problems(form, environment, name: str) -> str:
        """The form's errors as one sentence; the confirmation in the command's own terms."""
        problems = []
        for field, errors in form.errors.as_data().items():
            for error in errors:
                if field == "confirm_name" and error.code == "confirm":
                    problems.append(
                        f"{environment} is protected: repeat the function name with "
                        f"--confirm {name}."
                    )
                else:
                    problems.extend(error.messages)
        return " ".join(problems)
