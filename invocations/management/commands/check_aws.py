"""Which features work with an environment's AWS credentials, and the actions they miss."""

from django.core.management.base import BaseCommand, CommandError

from invocations.models import Environment
from invocations.ops import permissions_check


class Command(BaseCommand):
    help = (
        "Check, with the cheapest call each feature needs (and iam:SimulatePrincipalPolicy for "
        "what no harmless call proves), which features work with the environment's credentials "
        "and which actions they miss. Exits 0 when every feature works, 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--environment", default="", help="environment name (default: every environment)"
        )

    def handle(self, *args, environment="", **options):
        Environment.objects.default()
        environments = Environment.objects.order_by("name")
        if environment:
            environments = environments.filter(name=environment)
            if not environments.exists():
                raise CommandError(f"no environment named {environment!r}")
        failing = []
        for env in environments:
            report = permissions_check.check(env)
            self.stdout.write(f"{env.name}: {report.caller or 'credentials not usable'}")
            if report.error:
                self.stdout.write(f"  cannot ask AWS: {report.error}")
            for result in report.features:
                state = "works" if result.works else "DOES NOT WORK"
                self.stdout.write(f"  {result.feature.title}: {state}")
                if result.missing:
                    self.stdout.write(f"    missing: {', '.join(result.missing)}")
                if result.unverified:
                    self.stdout.write(f"    not verified: {', '.join(result.unverified)}")
                for note in result.notes:
                    self.stdout.write(f"    ({note})")
            if not report.works:
                failing.append(env.name)
        if failing:
            raise CommandError(
                "some features do not work in "
                + ", ".join(failing)
                + " (docs/iam-policy.json has every action)",
                returncode=1,
            )
