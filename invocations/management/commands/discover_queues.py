"""Watch every SQS queue named in the functions' destinations, DLQs and event source mappings."""

from django.core.management.base import BaseCommand, CommandError

from invocations.access.actor import SYSTEM
from invocations.ingest import discovery
from invocations.models import Environment


class Command(BaseCommand):
    help = (
        "Read every function's destinations, dead-letter target and event source mapping "
        "OnFailure target, and watch the SQS queues among them. SNS topics and EventBridge buses "
        "are followed to the queues subscribed to them; the rest are listed with the steps to "
        "subscribe a queue."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--environment", default="", help="environment name (default: the default one)"
        )

    def handle(self, *args, environment="", **options):
        env = (
            Environment.objects.filter(name=environment).first()
            if environment
            else Environment.objects.default()
        )
        if env is None:
            raise CommandError(f"no environment named {environment!r}")
        try:
            result = discovery.discover(env, actor=SYSTEM)
        except discovery.AwsError as error:
            raise CommandError(f"cannot list the functions: {error}") from error
        for queue in result.added:
            self.stdout.write(f"watching {queue.url} ({queue.kind}, {queue.function_name})")
        for queue in result.already:
            self.stdout.write(f"already watched {queue.url}")
        for item in result.not_pollable:
            target = item.target
            self.stdout.write(
                f"not pollable directly: {target.function} {target.source} {target.arn}: "
                f"{item.reason}"
            )
            for step in item.steps:
                self.stdout.write(f"    {step}")
        for problem in result.errors:
            self.stderr.write(f"error: {problem}")
        self.stdout.write(result.summary)
