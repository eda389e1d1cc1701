from django.conf import settings
from django.db import models


class Function(models.Model):
    """Inventory cached from the Lambda API by the sync_functions task."""

    environment = models.ForeignKey("Environment", on_delete=models.CASCADE)
    name = models.CharField(max_length=140)
    arn = models.CharField(max_length=300, blank=True)
    runtime = models.CharField(max_length=40, blank=True)
    handler = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    memory_size = models.PositiveIntegerField(null=True, blank=True)
    timeout = models.PositiveIntegerField(null=True, blank=True)
    reserved_concurrency = models.IntegerField(null=True, blank=True)
    last_modified = models.CharField(max_length=64, blank=True)
    async_max_retries = models.PositiveSmallIntegerField(null=True, blank=True)
    async_max_event_age = models.PositiveIntegerField(null=True, blank=True)
    on_success_destination = models.CharField(max_length=300, blank=True)
    on_failure_destination = models.CharField(max_length=300, blank=True)
    dlq_target = models.CharField(max_length=300, blank=True)
    event_source_mappings = models.JSONField(default=list, blank=True)
    versions = models.JSONField(default=list, blank=True)
    aliases = models.JSONField(default=list, blank=True)
    code_sha256 = models.CharField(max_length=64, blank=True)
    # Names only: the values may be secrets, and a deploy only needs to say which changed.
    environment_variable_names = models.JSONField(default=list, blank=True)
    # Each published version's code and configuration, {"7": {"code_sha256", "memory_size",
    # "timeout", "last_modified"}}: what an invocation of that version ran with.
    version_configs = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    present = models.BooleanField(
        default=True, help_text="False once the function is no longer listed by AWS."
    )

    class Meta:
        ordering = ["environment", "name"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "name"], name="function_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_async_outcome(self) -> bool:
        return bool(self.on_success_destination or self.on_failure_destination or self.dlq_target)

    def ran_with(self, executed_version: str) -> dict:
        """The code and configuration an invocation that ran `executed_version` used, as far
        as the last inventory refresh knows ({} for a version it has not seen)."""
        if executed_version in ("", "$LATEST"):
            return {
                "code_sha256": self.code_sha256,
                "memory_size": self.memory_size,
                "timeout": self.timeout,
            }
        return dict(self.version_configs.get(executed_version) or {})

    @property
    def qualifiers(self) -> list[str]:
        names = ["$LATEST"]
        names += [v for v in self.versions if v != "$LATEST"]
        names += [a.get("Name", "") for a in self.aliases if a.get("Name")]
        return names


class PayloadTemplate(models.Model):
    """A saved payload for one function: private to its owner or shared with the team."""

    function = models.ForeignKey(Function, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=100)
    payload = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class InventorySync(models.Model):
    """The last inventory refresh of an environment: when it ran, and what went wrong. The
    functions page shows the error while the last good inventory stays in place."""

    environment = models.OneToOneField(
        "Environment", on_delete=models.CASCADE, related_name="inventory_sync"
    )
    attempted_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The AWS requests the last sync made (retries of throttled calls included) and how long
    # it took: /metrics and the log report them, so that an account's size shows in its cost.
    aws_requests = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    aws_requests_total = models.PositiveBigIntegerField(default=0)  # every sync's, added up

    def __str__(self) -> str:
        return f"inventory of {self.environment_id}"
