from django.db import models


class DeployQuerySet(models.QuerySet):
    def for_function(self, environment, function_name: str):
        """One function's deploys, oldest first (the chart's markers, the group's "after")."""
        return self.filter(environment=environment, function_name=function_name).order_by(
            "at", "id"
        )


class Deploy(models.Model):
    """A change to a function that the inventory refresh noticed: a version published, the
    code of $LATEST replaced (its CodeSha256), or its configuration changed. `at` is when AWS
    says it happened (the version's or the function's LastModified); `detected_at` is when we
    saw it."""

    class Kind(models.TextChoices):
        VERSION = "version", "version published"
        CODE = "code", "code changed"
        CONFIG = "config", "configuration changed"

    environment = models.ForeignKey("Environment", on_delete=models.CASCADE)
    function = models.ForeignKey(
        "Function", null=True, blank=True, on_delete=models.SET_NULL, related_name="deploys"
    )
    # Kept by name as well: a deleted function's deploys still explain its old failures.
    function_name = models.CharField(max_length=140)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The published version, or "$LATEST" for a code or configuration change.
    version = models.CharField(max_length=32)
    code_sha256 = models.CharField(max_length=64, blank=True)
    # What changed, [{"field", "old", "new"}]; environment variables by name only.
    changes = models.JSONField(default=list, blank=True)
    at = models.DateTimeField()
    detected_at = models.DateTimeField(auto_now_add=True)

    objects = DeployQuerySet.as_manager()

    class Meta:
        indexes = [
            # The function chart's markers and "first seen N min after ..." on groups.
            models.Index(fields=["environment", "function_name", "at"], name="deploy_time_idx"),
        ]
        constraints = [
            # A version is published once; the refresh that sees it again adds nothing.
            models.UniqueConstraint(
                fields=["environment", "function_name", "version"],
                condition=models.Q(kind="version"),
                name="deploy_version_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.function_name}: {self.summary}"

    @property
    def summary(self) -> str:
        """ "version 7 was published", "the code of $LATEST changed", "memory 128 → 256"."""
        if self.kind == self.Kind.VERSION:
            return f"version {self.version} was published"
        if self.kind == self.Kind.CODE:
            return "the code of $LATEST changed"
        described = [_describe(change) for change in self.changes[:3]]
        more = len(self.changes) - len(described)
        text = ", ".join(described) + (f" and {more} more" if more > 0 else "")
        return f"the configuration changed ({text})" if text else "the configuration changed"

    @property
    def short_label(self) -> str:
        """The chart marker's label."""
        if self.kind == self.Kind.VERSION:
            return f"v{self.version}"
        return "code" if self.kind == self.Kind.CODE else "config"


def _describe(change: dict) -> str:
    field = change.get("field", "")
    old, new = change.get("old"), change.get("new")
    if field == "environment variables":
        added = sorted(set(new or []) - set(old or []))
        removed = sorted(set(old or []) - set(new or []))
        parts = [f"+{name}" for name in added] + [f"-{name}" for name in removed]
        return f"environment variables {' '.join(parts)}".strip()
    return f"{field} {_shown(old)} → {_shown(new)}"


def _shown(value) -> str:
    return "none" if value in (None, "") else str(value)
