from django.conf import settings
from django.db import models


class InvocationQuerySet(models.QuerySet):
    def for_list(self):
        """The invocations page: newest first by id, so keyset pagination stays constant time."""
        return self.select_related("requested_by", "environment").order_by("-id")


class Invocation(models.Model):
    class Type(models.TextChoices):
        REQUEST_RESPONSE = "RequestResponse", "RequestResponse (sync)"
        EVENT = "Event", "Event (async)"
        DRY_RUN = "DryRun", "DryRun"

    class Status(models.TextChoices):
        # Labels lower case, as every page words a status.
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        THROTTLED_RETRYING = "retrying", "throttled, retrying"
        ACCEPTED = "accepted", "accepted (202)"
        SUCCEEDED = "succeeded", "succeeded"
        FUNCTION_ERROR = "function_error", "function error"
        THROTTLED = "throttled", "throttled"
        FAILED = "failed", "failed"
        # An Event invocation once Lambda reported its outcome (a record with its request ID).
        EVENT_FAILED = "event_failed", "failed after its attempts"
        DEAD_LETTERED = "dead_lettered", "failed (dead letter)"
        NEVER_RAN = "never_ran", "never ran"

    DONE = {
        Status.ACCEPTED,
        Status.EVENT_FAILED,
        Status.DEAD_LETTERED,
        Status.NEVER_RAN,
        Status.SUCCEEDED,
        Status.FUNCTION_ERROR,
        Status.THROTTLED,
        Status.FAILED,
    }

    # No index of its own: every index in Meta that a page reads leads with the environment,
    # and each index is written by every invoke (bench/invocation_indexes.py measures the cost).
    environment = models.ForeignKey("Environment", on_delete=models.PROTECT, db_index=False)
    function = models.ForeignKey(
        "Function", null=True, blank=True, on_delete=models.SET_NULL, related_name="invocations"
    )
    function_name = models.CharField(max_length=140)
    qualifier = models.CharField(max_length=128, blank=True)
    invocation_type = models.CharField(
        max_length=20, choices=Type.choices, default=Type.REQUEST_RESPONSE
    )
    payload = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    function_error = models.CharField(max_length=20, blank=True)
    response_payload = models.TextField(blank=True)
    log_tail = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    executed_version = models.CharField(max_length=32, blank=True)
    # The code and configuration it ran with (from the inventory, by executed version), so
    # that "which deploy broke it" is answered by the invocation itself.
    code_sha256 = models.CharField(max_length=64, blank=True)
    configured_memory_mb = models.PositiveIntegerField(null=True, blank=True)
    configured_timeout_s = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    billed_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    memory_size_mb = models.PositiveIntegerField(null=True, blank=True)
    max_memory_used_mb = models.PositiveIntegerField(null=True, blank=True)
    init_duration_ms = models.FloatField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_text = models.TextField(blank=True)
    # Redacted copies, made whenever the raw text is written (`access.redaction.copies`) and
    # again when REDACT_KEYS changes: what people without the raw-payload permission read.
    error_text_redacted = models.TextField(blank=True, default="")
    log_tail_redacted = models.TextField(blank=True, default="")
    payload_redacted = models.TextField(blank=True, default="")
    response_payload_redacted = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rerun_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reruns"
    )
    replay_of = models.ForeignKey(
        "ExecutionRecord",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replays",
    )
    # The failed event a replay is an attempt of: its outcome is recorded there, never counted
    # as a new failure.
    replay_of_event = models.ForeignKey(
        "FailedEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replays",
    )
    replay_batch = models.ForeignKey(
        "ReplayBatch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invocations",
    )
    # Indexed by invocation_group_time_idx, which leads with it (a group's invocations, and
    # SET_NULL when a group is deleted, use that one).
    failure_group = models.ForeignKey(
        "FailureGroup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invocations",
        db_index=False,
    )

    objects = InvocationQuerySet.as_manager()

    class Meta:
        indexes = [
            # Every page reads one environment: these lead with it, so that the planner never
            # prefers the bare environment index and walks or sorts all its rows (SQLite has
            # no statistics to tell; bench/pages.py measured it at 1,000,000 rows).
            # The invocations page, newest first.
            models.Index(fields=["environment", "-id"], name="invocation_recent_idx"),
            # The triage page's sparklines and a group's occurrences.
            models.Index(fields=["failure_group", "created_at"], name="invocation_group_time_idx"),
            # A record's page and the poller link records to invocations by request ID.
            models.Index(fields=["environment", "request_id"], name="invocation_request_idx"),
            # Filters on the invocations page and the function page's recent list.
            models.Index(fields=["function_name", "-id"], name="invocation_function_idx"),
            models.Index(fields=["status", "-id"], name="invocation_status_idx"),
            # The function page's 14-day chart.
            models.Index(
                fields=["environment", "function_name", "created_at"], name="invocation_chart_idx"
            ),
        ]
        permissions = [("invoke_function", "Can invoke functions and re-run invocations")]

    def __str__(self) -> str:
        return f"{self.function_name} #{self.pk}"

    @property
    def is_done(self) -> bool:
        return self.status in self.DONE

    # The big columns a list leaves out (`.defer(*Invocation.BIG_FIELDS)`).
    BIG_FIELDS = [
        "payload",
        "response_payload",
        "log_tail",
        "payload_redacted",
        "response_payload_redacted",
        "log_tail_redacted",
    ]

    # What status_text and the badge read: a list of rows can fetch only these.
    BADGE_FIELDS = ["status", "attempts", "error_code", "invocation_type", "status_code"]

    @property
    def status_text(self) -> str:
        """The status as every page words it: for an Event invocation, its outcome once known."""
        if self.status == self.Status.EVENT_FAILED:
            n = self.attempts
            return f"failed after {n} attempt{'' if n == 1 else 's'}"
        if self.status == self.Status.NEVER_RAN:
            return f"never ran: {self.error_code or 'EventAgeExceeded'}"
        return self.get_status_display().lower()

    @property
    def accepted_then_settled(self) -> bool:
        """An Event invocation whose outcome replaced "accepted (202)": the 202 is still how
        Lambda took it, and the pages say so beside the outcome."""
        return (
            self.invocation_type == self.Type.EVENT
            and self.status_code == 202
            and self.status != self.Status.ACCEPTED
        )
