from django.db import models


class ExecutionRecordQuerySet(models.QuerySet):
    def link_to(self, invocation) -> int:
        """Link the records of the invocation's request that arrived before the invocation had
        its request ID (call it once the ID is known); returns how many were linked."""
        if not invocation.request_id:
            return 0
        return self.filter(
            environment_id=invocation.environment_id,
            request_id=invocation.request_id,
            invocation__isnull=True,
        ).update(invocation=invocation)

    def for_list(self):
        """The records page: newest first by id (keyset pagination), without the big columns."""
        return (
            self.select_related("queue")
            .defer(
                "raw_body",
                "message_attributes",
                "request_payload",
                "response_payload",
                "request_payload_redacted",
                "response_payload_redacted",
                "stack_trace",
                "stack_trace_redacted",
                "batch_info",
            )
            .order_by("-id")
        )


class ExecutionRecord(models.Model):
    """One SQS message from a destination queue or a DLQ, parsed; the raw body is always kept."""

    class Kind(models.TextChoices):
        # Labels lower case, as every page words a kind.
        SUCCESS = "success", "success"
        FAILURE = "failure", "failure"
        DLQ = "dlq", "dead letter"
        STREAM_FAILURE = "stream_failure", "stream failure"
        UNPARSED = "unparsed", "unparsed"

    environment = models.ForeignKey("Environment", on_delete=models.CASCADE)
    queue = models.ForeignKey("WatchedQueue", on_delete=models.CASCADE, related_name="records")
    message_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    condition = models.CharField(max_length=40, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    function_arn = models.CharField(max_length=300, blank=True)
    function_name = models.CharField(max_length=140, blank=True)
    qualifier = models.CharField(max_length=128, blank=True)
    executed_version = models.CharField(max_length=32, blank=True)
    approximate_invoke_count = models.PositiveSmallIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    function_error = models.CharField(max_length=20, blank=True)
    error_type = models.CharField(max_length=256, blank=True)
    error_message = models.TextField(blank=True)
    stack_trace = models.TextField(blank=True)
    dlq_error_code = models.IntegerField(null=True, blank=True)
    request_payload = models.JSONField(null=True, blank=True)
    response_payload = models.JSONField(null=True, blank=True)
    envelope = models.CharField(max_length=20, blank=True)
    batch_info = models.JSONField(null=True, blank=True)
    record_timestamp = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    raw_body = models.TextField()
    message_attributes = models.JSONField(default=dict, blank=True)
    parse_error = models.TextField(blank=True)
    # Redacted copies of the three texts above, made once when the record is stored
    # (`access.redaction.copies`) and again when REDACT_KEYS changes: what pages, exports,
    # search and alerts show to people without the raw-payload permission.
    error_message_redacted = models.TextField(blank=True, default="")
    stack_trace_redacted = models.TextField(blank=True, default="")
    parse_error_redacted = models.TextField(blank=True, default="")
    request_payload_redacted = models.JSONField(null=True, blank=True)
    response_payload_redacted = models.JSONField(null=True, blank=True)
    invocation = models.ForeignKey(
        "Invocation", null=True, blank=True, on_delete=models.SET_NULL, related_name="records"
    )
    failure_group = models.ForeignKey(
        "FailureGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="records"
    )
    # The failed event this record reports (failures only), whatever group it is in.
    event = models.ForeignKey(
        "FailedEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="records"
    )
    # A message this dashboard sent back to a queue (redrive.ORIGIN_ATTRIBUTE) that returned:
    # it is the record it was sent from, back again, not a new failure.
    returned_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="returns"
    )

    objects = ExecutionRecordQuerySet.as_manager()
    # Not a column: the group page attaches to an occurrence's first record the other records
    # of the same request (its dead letter), to show them on one row.
    twins: list["ExecutionRecord"]

    class Meta:
        constraints = [
            # Redelivered messages (a crash between commit and delete) are saved once.
            models.UniqueConstraint(fields=["queue", "message_id"], name="record_unique_message")
        ]
        indexes = [
            # Filters on the records page, each walked newest first. They lead with the
            # environment (every page reads one) so that the planner never prefers the bare
            # environment index and walks all its rows: SQLite has no statistics to tell
            # (bench/pages.py measured it at 1,000,000 records).
            models.Index(fields=["environment", "kind", "-id"], name="record_env_kind_idx"),
            models.Index(
                fields=["environment", "function_name", "-id"], name="record_env_function_idx"
            ),
            # The triage page's sparklines and a group's occurrences: a range of one group's
            # records by time, read from the index alone.
            models.Index(fields=["failure_group", "received_at"], name="record_group_time_idx"),
            # A record's page: the other records and the invocation of the same request.
            models.Index(fields=["environment", "request_id"], name="record_env_request_idx"),
            models.Index(fields=["queue", "-id"], name="record_queue_idx"),
            # The retention purge.
            models.Index(fields=["received_at"], name="record_received_idx"),
        ]
        permissions = [
            ("replay_record", "Can replay records and redrive dead letters"),
            ("triage_failures", "Can change failure groups"),
            ("view_raw_payload", "Can see payloads unredacted"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.request_id or self.message_id}"

    @property
    def never_ran(self) -> bool:
        return self.condition in ("EventAgeExceeded", "ZeroReservedConcurrency")
