"""Watch one SQS queue: its messages become execution records."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from invocations.access.actor import SYSTEM
from invocations.ingest import queues
from invocations.models import Environment, WatchedQueue


class Command(BaseCommand):
    help = "Watch an SQS queue that receives a function's destination records or dead letters."

    def add_arguments(self, parser):
        parser.add_argument("url", metavar="QUEUE_URL", help="the queue's URL")
        parser.add_argument(
            "--kind",
            required=True,
            choices=[choice for choice, _ in WatchedQueue.Kind.choices],
            help="destination (OnSuccess/OnFailure records) or dlq (dead letters)",
        )
        parser.add_argument(
            "--function", default="", help="the function it serves (needed for a DLQ's records)"
        )
        parser.add_argument(
            "--environment", default="", help="environment name (default: the default one)"
        )

    def handle(self, *args, url, kind, function, environment, **options):
        if environment:
            env = Environment.objects.filter(name=environment).first()
            if env is None:
                raise CommandError(f"no environment named {environment!r}")
        else:
            env = Environment.objects.default()
        try:
            queue, created = queues.watch(
                env, url, kind, function, actor=SYSTEM, via="with manage.py"
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from error
        self.stdout.write(f"{'watching' if created else 'updated'} {queue.url} ({kind})")
