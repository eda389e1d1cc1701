from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sandbox.seed import register_watched_queues, seed


class Command(BaseCommand):
    help = (
        "Creates the sandbox's sample functions, queues, topic, event bus and async configs "
        "(idempotently) at AWS_ENDPOINT_URL, and registers the queues as watched queues."
    )

    def handle(self, *args, **options):
        endpoint_url = getattr(settings, "AWS_ENDPOINT_URL", None)
        region = getattr(settings, "AWS_REGION", None) or "us-east-1"
        if not endpoint_url:
            # The seed uses fake credentials and creates sample resources: never on real AWS.
            raise CommandError("AWS_ENDPOINT_URL is not set; seed_sandbox only seeds a sandbox")
        try:
            result = seed(endpoint_url, region)
        except (BotoCoreError, ClientError) as exc:
            raise CommandError(f"seeding {endpoint_url} failed: {exc}") from exc
        register_watched_queues(result)
        self.stdout.write(
            f"Seeded {len(result['functions'])} functions and {len(result['queues'])} queues "
            f"at {endpoint_url}"
        )
