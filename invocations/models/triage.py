from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class FailureGroupQuerySet(models.QuerySet):
    def for_triage(self):
        """The triage page: one row per group with its assignee, newest activity first."""
        return self.select_related("assignee", "environment").order_by("-last_seen", "-id")

    def snoozed(self):
        """Groups snoozed now: until a time still ahead, or until a count not yet reached.
        Tested on the row itself, not with `pk IN (snoozed groups)`: that subquery read every
        group of the table on each page (bench/pages.py, 10,000 groups)."""
        return self.filter(_snoozed_now())

    def active(self):
        """What the team has to look at: open or acknowledged, and not snoozed. The triage
        list's default view; `FailureGroup.is_active` is the same rule for one row."""
        return self.filter(status__in=ACTIVE_STATUSES).exclude(_snoozed_now())


# Statuses that still ask for work (resolved and ignored do not).
ACTIVE_STATUSES = ("open", "acknowledged")


def _snoozed_now() -> Q:
    return Q(snoozed_until__gt=timezone.now()) | Q(snooze_until_count__gt=models.F("count"))


class FailureGroup(models.Model):
    """Failures of one function with the same error, once its variable parts are normalised."""

    class Status(models.TextChoices):
        # Labels lower case, as every page words a status.
        OPEN = "open", "open"
        ACKNOWLEDGED = "acknowledged", "acknowledged"
        RESOLVED = "resolved", "resolved"
        IGNORED = "ignored", "ignored"

    environment = models.ForeignKey("Environment", on_delete=models.CASCADE)
    fingerprint = models.CharField(max_length=64, unique=True)
    function_name = models.CharField(max_length=140)
    error_class = models.CharField(max_length=20)
    error_type = models.CharField(max_length=256, blank=True)
    sample_message = models.TextField(blank=True)
    # Its redacted copy (`access.redaction.copies`): the triage list, search and alerts read it.
    sample_message_redacted = models.TextField(blank=True, default="")
    # The title, made once when the group is made: the error type with its message, variable
    # parts elided ("ValueError: order must be a positive integer, got …"), or for a failure
    # with no error type a stream batch that failed ("Kinesis batch failed: RetryAttempts…").
    headline = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    regressed = models.BooleanField(default=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    resolved_in_version = models.CharField(max_length=32, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_replay = models.BooleanField(default=False)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # Snoozed until the count reaches this number.
    snooze_until_count = models.PositiveIntegerField(null=True, blank=True)
    # Failure records not yet replayed with success: kept here (see grouping.refresh_backlog) so
    # that the triage page sorts on a column instead of scanning every record.
    backlog_count = models.PositiveIntegerField(default=0)
    backlog_oldest = models.DateTimeField(null=True, blank=True)

    objects = FailureGroupQuerySet.as_manager()

    class Meta:
        indexes = [
            # The triage page's default sort and its status filter.
            models.Index(fields=["environment", "status", "-last_seen"], name="group_status_idx"),
            models.Index(fields=["environment", "-last_seen"], name="group_recent_idx"),
            models.Index(fields=["environment", "-count"], name="group_count_idx"),
            models.Index(fields=["environment", "backlog_oldest"], name="group_backlog_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.function_name}: {self.error_type or self.error_class}"

    @property
    def is_snoozed(self) -> bool:
        """The row's side of `FailureGroupQuerySet.snoozed()`."""
        if self.snoozed_until and self.snoozed_until > timezone.now():
            return True
        return bool(self.snooze_until_count and self.count < self.snooze_until_count)

    @property
    def is_active(self) -> bool:
        """The row's side of `FailureGroupQuerySet.active()`."""
        return self.status in ACTIVE_STATUSES and not self.is_snoozed

    @property
    def title(self) -> str:
        return self.headline or self.error_type or self.get_error_class_display()

    def get_error_class_display(self) -> str:
        return {
            "timeout": "Timeout",
            "out_of_memory": "Out of memory",
            "exit_error": "Runtime exited",
            "import_error": "Import error",
            "never_ran": "Never ran (throttled or too old)",
            "dlq_message": "Dead letter",
        }.get(self.error_class, "Error")


class GroupActivity(models.Model):
    """The group's timeline: status changes, assignment, comments, replays."""

    group = models.ForeignKey(FailureGroup, on_delete=models.CASCADE, related_name="activity")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=20)  # status, assign, comment, replay, regression, snooze
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind}: {self.text[:60]}"


class ReplayBatch(models.Model):
    """Records sent back to a function, at a rate limit, with a circuit breaker."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        RUNNING = "running", "running"
        DONE = "done", "done"
        STOPPED = "stopped", "stopped by the circuit breaker"
        CANCELLED = "cancelled", "cancelled"

    environment = models.ForeignKey("Environment", on_delete=models.PROTECT)
    group = models.ForeignKey(
        FailureGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    function_name = models.CharField(max_length=140)
    qualifier = models.CharField(max_length=128, blank=True)
    record_ids = models.JSONField(default=list)
    payload_override = models.TextField(blank=True)
    override_succeeded = models.BooleanField(default=False)
    rate_per_second = models.FloatField(default=5.0)
    breaker_threshold = models.PositiveSmallIntegerField(default=5)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    position = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    # The broker (Redis) did not take the task: beat's requeue_unsent sends it once it is back.
    unsent = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"replay #{self.pk} of {len(self.record_ids)} to {self.function_name}"

    @property
    def total(self) -> int:
        return len(self.record_ids)

    @property
    def done_count(self) -> int:
        return self.succeeded + self.failed + self.skipped

    @property
    def percent(self) -> int:
        return int(100 * self.done_count / self.total) if self.total else 100

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.STOPPED, self.Status.CANCELLED}
