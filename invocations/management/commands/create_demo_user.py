from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

USERNAME = "demo"
PASSWORD = "lambda-triage-demo"


class Command(BaseCommand):
    help = "Create the demo admin user (development only: refuses unless DJANGO_DEBUG=true)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("refusing to create a demo user with a known password: DEBUG is off")
        user, created = get_user_model().objects.get_or_create(
            username=USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(PASSWORD)
            user.save()
        user.groups.set(Group.objects.filter(name__in=["Viewer", "Operator", "Triager", "Admin"]))
        state = "created" if created else "exists"
        self.stdout.write(f"Demo user {state}: log in as {USERNAME} / {PASSWORD}")
