"""Watch one SQS queue: its messages become execution records."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from invocations import audit
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
        with transaction.atomic():
            queue = WatchedQueue.objects.filter(environment=env, url=url).first()
            created = queue is None
            if created:
                queue = WatchedQueue(environment=env, url=url)
            queue.kind, queue.function_name, queue.enabled = kind, function, True
            try:
                queue.full_clean()
            except ValidationError as error:
                raise CommandError(
                    "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
                ) from error
            queue.save()
            audit.record(
                "queue.watch",
                target=queue,
                summary=f"{'Watched' if created else 'Updated'} queue {queue.name} ({kind}) "
                f"with manage.py",
                details={"url": url, "kind": kind, "function": function, "created": created},
            )
        self.stdout.write(f"{'watching' if created else 'updated'} {queue.url} ({kind})")
