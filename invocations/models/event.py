from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Exists, OuterRef, Q

from .record import ExecutionRecord

if TYPE_CHECKING:
    from .triage import FailureGroup


class FailedEventQuerySet(models.QuerySet["FailedEvent"]):
    def of_group(self, group: "FailureGroup") -> "FailedEventQuerySet":
        """A group's events, the occurrences its page steps through; ordered by the caller."""
        return self.filter(group=group)

    def pending(self) -> "FailedEventQuerySet":
        """Events not yet put through by a successful replay into their own function and
        environment: a group's backlog. A synchronous failure is not in it: its caller got
        the error, and there is no event to send again."""
        return (
            self.filter(replayed_ok=False)
            .exclude(kind=FailedEvent.Kind.SYNC)
            # Records past retention cannot be sent again: such an event is history, not work.
            .filter(Exists(ExecutionRecord.objects.filter(event=OuterRef("pk"))))
        )

    def for_occurrences(self) -> "FailedEventQuerySet":
        """What an occurrence row shows: the event with the record and invocation it is shown
        by, without their big columns."""
        return self.select_related("primary_record", "primary_record__queue", "invocation").defer(
            "primary_record__raw_body",
            "primary_record__request_payload",
            "primary_record__response_payload",
            "primary_record__message_attributes",
            "primary_record__batch_info",
            "invocation__payload",
            "invocation__response_payload",
            "invocation__log_tail",
            # and their redacted copies, as big
            "primary_record__request_payload_redacted",
            "primary_record__response_payload_redacted",
            "invocation__payload_redacted",
            "invocation__response_payload_redacted",
            "invocation__log_tail_redacted",
        )


class FailedEvent(models.Model):
    """One failed event: an asynchronous event of a function (its request ID) with every record
    that reports it (its OnFailure or stream-failure record, its dead letter, a copy sent back
    to a queue), or one failed synchronous invocation. Groups count these rows, and every page
    reads the event's facts from here: they are taken once, as its reports arrive, from the most
    informative report whatever arrived first (an OnFailure record over a dead letter)."""

    class Kind(models.TextChoices):
        ASYNC = "async", "asynchronous event"
        STREAM = "stream", "stream batch"
        SYNC = "sync", "synchronous invocation"

    class Happened(models.TextChoices):
        # Where `happened_at` comes from, best first; pages say which when it is not Lambda's.
        LAMBDA = "lambda", "Lambda's time"
        INVOCATION = "invocation", "the invocation's time"
        SENT = "sent", "when the message was sent"
        RECEIVED = "received", "when the message was received"

    environment = models.ForeignKey("Environment", on_delete=models.CASCADE)
    function_name = models.CharField(max_length=140)
    # Blank for a report without one (a message SQS moved by itself): an event of its own.
    request_id = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    group = models.ForeignKey("FailureGroup", on_delete=models.CASCADE, related_name="events")
    # The report the facts were taken from, and how informative it is (grouping.RANK): a later
    # report replaces them only if it says more.
    primary_record = models.ForeignKey(
        "ExecutionRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_rank = models.PositiveSmallIntegerField(default=0)
    # The failed synchronous invocation, or the Event invocation that started the event.
    invocation = models.ForeignKey(
        "Invocation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="failed_events",
    )
    error_type = models.CharField(max_length=256, blank=True)
    error_message = models.TextField(blank=True)
    stack_trace = models.TextField(blank=True)
    # Their redacted copies (`access.redaction.copies`), made when the facts are written: what
    # people without the raw-payload permission read.
    error_message_redacted = models.TextField(blank=True, default="")
    stack_trace_redacted = models.TextField(blank=True, default="")
    executed_version = models.CharField(max_length=32, blank=True)
    qualifier = models.CharField(max_length=128, blank=True)
    condition = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(null=True, blank=True)
    happened_at = models.DateTimeField()
    happened_from = models.CharField(max_length=12, choices=Happened.choices)
    # When the first report of it was stored: "new since the page was drawn" reads this.
    arrived_at = models.DateTimeField()
    # Replays (and copies sent back to a queue) are attempts of this event, never new events.
    replay_count = models.PositiveIntegerField(default=0)
    last_replay_at = models.DateTimeField(null=True, blank=True)
    last_replay_status = models.CharField(max_length=20, blank=True)
    replayed_ok = models.BooleanField(default=False)
    # Sent back to a queue from the dashboard (a dead letter's body, as a new message), and how
    # many of those copies came back as failures again (redrive.ORIGIN_ATTRIBUTE).
    sent_back_count = models.PositiveIntegerField(default=0)
    last_sent_back_at = models.DateTimeField(null=True, blank=True)
    came_back_count = models.PositiveIntegerField(default=0)

    objects = FailedEventQuerySet.as_manager()

    class Meta:
        constraints = [
            # One row per asynchronous event, whichever of its reports arrives first.
            models.UniqueConstraint(
                fields=["environment", "function_name", "request_id"],
                condition=~Q(request_id=""),
                name="event_unique_request",
            ),
        ]
        indexes = [
            # A group's occurrences by time, its sparklines and breakdowns.
            models.Index(fields=["group", "happened_at"], name="event_group_time_idx"),
            # What arrived since a page was drawn (the live markers).
            models.Index(fields=["group", "arrived_at"], name="event_group_arrived_idx"),
            # The function page's chart and search by version.
            models.Index(
                fields=["environment", "function_name", "happened_at"], name="event_function_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.function_name} {self.request_id or f'event #{self.pk}'}"

    @property
    def condition_label(self) -> str:
        """The condition as the breakdowns word it: Lambda's, else what kind of report said it."""
        if self.condition:
            return self.condition
        if self.kind == self.Kind.SYNC:
            return "synchronous failure"
        return "dead letter" if self.source_rank <= 1 else "failure"

    @property
    def happened_note(self) -> str:
        """ "" when the time is Lambda's or the invocation's; else which time it is."""
        if self.happened_from == self.Happened.SENT:
            return "when the message was sent; the event carries no time"
        if self.happened_from == self.Happened.RECEIVED:
            return "when the message was received; it carries no time"
        return ""
