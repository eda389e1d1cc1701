from fnmatch import fnmatchcase

from django.conf import settings
from django.db import models


class EnvironmentQuerySet(models.QuerySet["Environment"]):
    def default(self) -> "Environment":
        """The environment built from settings, created on first use."""
        found = self.filter(is_default=True).first()
        if found is not None:
            return found
        env, _ = self.get_or_create(
            name=settings.AWS_ENVIRONMENT_NAME,
            defaults={
                "region": settings.AWS_REGION,
                "endpoint_url": settings.AWS_ENDPOINT_URL,
                "profile": settings.AWS_PROFILE,
                "role_arn": settings.AWS_ROLE_ARN,
                "allowed_functions": settings.AWS_ALLOWED_FUNCTIONS,
                "is_default": True,
            },
        )
        return env


class Environment(models.Model):
    """A named AWS connection: an account and region, or the local sandbox."""

    name = models.SlugField(max_length=64, unique=True)
    region = models.CharField(max_length=32, default="us-east-1")
    endpoint_url = models.URLField(
        blank=True, help_text="Empty for real AWS; http://127.0.0.1:4566 for the sandbox."
    )
    profile = models.CharField(max_length=128, blank=True, help_text="Named AWS profile.")
    role_arn = models.CharField(max_length=256, blank=True, help_text="Role to assume.")
    allowed_functions = models.TextField(
        default="*",
        help_text="Function name patterns that may be invoked or replayed, one a line or "
        "comma separated; shell wildcards (orders-*).",
    )
    protected = models.BooleanField(
        default=False, help_text="Production: people type the function name to confirm."
    )
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EnvironmentQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [("manage_environments", "Can manage AWS environments")]

    def __str__(self) -> str:
        return self.name

    @property
    def patterns(self) -> list[str]:
        raw = self.allowed_functions.replace(",", "\n")
        return [p.strip() for p in raw.splitlines() if p.strip()]

    def allows(self, function_name: str) -> bool:
        return any(fnmatchcase(function_name, pattern) for pattern in self.patterns)
