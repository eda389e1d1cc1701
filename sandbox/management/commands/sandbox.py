from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from sandbox.server import parse_latency_ms, parse_retry_delays, run


class Command(BaseCommand):
    help = (
        "Runs the sandbox (moto's server plus our Lambda runner) in the foreground, and seeds "
        "its sample functions and queues unless --no-seed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=4566)
        parser.add_argument(
            "--retry-delays",
            default="1,2",
            help="seconds between asynchronous retries (AWS: 60,120); other async times scale",
        )
        parser.add_argument("--no-seed", action="store_true", help="skip the sample resources")
        parser.add_argument(
            "--latency-ms",
            default="0",
            help="answer every request this many milliseconds late (a stand-in for AWS's network)",
        )
        parser.add_argument(
            "--enforce-iam",
            action="store_true",
            help="evaluate the IAM policies of the sandbox's IAM users and roles on every request "
            "(the sandbox's own credentials act as the account's root)",
        )

        parser.add_argument(
            "--scale",
            type=int,
            default=0,
            help="seed N×10 more functions with versions, aliases, destinations, DLQs, mappings "
            "and queues (an account N× the demo); implies --aws-quotas",
        )
        parser.add_argument(
            "--aws-quotas",
            action="store_true",
            help="refuse control-plane calls past AWS's documented request quotas",
        )

    def handle(
        self,
        *args,
        host,
        port,
        retry_delays,
        no_seed,
        latency_ms,
        enforce_iam,
        scale,
        aws_quotas,
        **options,
    ):
        if not 0 <= scale <= 200:
            raise CommandError(f"--scale must be between 0 and 200, not {scale}")
        try:
            delays = parse_retry_delays(retry_delays)
            latency = parse_latency_ms(latency_ms)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            run(
                host,
                port,
                retry_delays=delays,
                seed=not no_seed,
                on_seeded=_register,
                latency_ms=latency,
                enforce_iam=enforce_iam,
                scale=scale,
                aws_quotas=aws_quotas,
            )
        except (BotoCoreError, ClientError) as exc:
            raise CommandError(f"seeding the sandbox failed: {exc}") from exc
        except OSError as exc:
            raise CommandError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc


def _register(result: dict) -> None:
    """Watch the seeded queues and read the functions into the inventory, so that the
    dashboard shows them at once (beat would take minutes)."""
    from invocations.invoking import inventory
    from invocations.models import Environment
    from sandbox.seed import register_watched_queues

    register_watched_queues(result)
    inventory.sync(Environment.objects.default())
