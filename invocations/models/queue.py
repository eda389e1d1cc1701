import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from invocations.models import clock


class WatchedQueue(models.Model):
    """An SQS queue that receives a function's destination records or dead letters."""

    class Kind(models.TextChoices):
        DESTINATION = "destination"
        DLQ = "dlq", "dead-letter queue"

    environment = models.ForeignKey("Environment", on_delete=models.CASCADE)
    url = models.URLField(max_length=500)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    function_name = models.CharField(max_length=140, blank=True)
    enabled = models.BooleanField(default=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    # How long that poll took (the Workers page).
    last_poll_seconds = models.FloatField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    records_stored = models.PositiveBigIntegerField(default=0)
    # Failed polls since the queue was first watched: a counter for /metrics.
    poll_errors = models.PositiveBigIntegerField(default=0)
    # The approximate depth as last measured (queue_depths.measure), so that /metrics and the
    # queues page can show it without calling AWS.
    depth_visible = models.PositiveBigIntegerField(null=True, blank=True)
    depth_in_flight = models.PositiveBigIntegerField(null=True, blank=True)
    depth_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["url"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "url"], name="queue_unique_url")
        ]
        permissions = [("manage_queues", "Can watch, unwatch and poll queues")]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def is_failing(self) -> bool:
        """The last attempt failed: an error newer than the last successful poll."""
        return self.last_error_at is not None and (
            self.last_polled_at is None or self.last_error_at >= self.last_polled_at
        )

    def claim(self, seconds: float, slots: int | None = None) -> "QueueLease | None":
        """Take one of the queue's `slots` leases (POLL_LEASES_PER_QUEUE) for `seconds`; None
        when other pollers hold them all. Each slot is taken with a conditional UPDATE, so two
        pollers never share a slot, and at most `slots` pollers read one queue at once."""
        slots = settings.POLL_LEASES_PER_QUEUE if slots is None else slots
        present = set(
            QueueLease.objects.filter(queue=self, slot__lt=slots).values_list("slot", flat=True)
        )
        if len(present) < slots:
            QueueLease.objects.bulk_create(
                [QueueLease(queue=self, slot=n) for n in range(slots) if n not in present],
                ignore_conflicts=True,  # another poller made them first
            )
        holder = uuid.uuid4().hex
        now = clock.now()  # every host judges a lease by the same clock
        free = Q(until__isnull=True) | Q(until__lt=now)
        until = now + timedelta(seconds=seconds)
        for slot in range(slots):
            taken = (
                QueueLease.objects.filter(queue=self, slot=slot)
                .filter(free)
                .update(holder=holder, until=until)
            )
            if taken:
                return QueueLease(queue=self, slot=slot, holder=holder, until=until)
        return None


class QueueLease(models.Model):
    """One poller's right to read a queue until `until`. A queue has POLL_LEASES_PER_QUEUE of
    them, so a deep queue (a dead-letter flood after an outage) is drained by several pollers
    at once; SQS hides what one receives from the others, and the unique (queue, message ID) of
    the records keeps storage exactly once whoever receives a message.

    A lease is renewed while its poller drains; a poller that died (SIGKILL, a lost machine)
    releases nothing, and its slot is free again when `until` passes."""

    queue = models.ForeignKey(WatchedQueue, on_delete=models.CASCADE, related_name="leases")
    slot = models.PositiveSmallIntegerField()
    # A random token per claim: only the poller that took the slot renews or releases it, not
    # one whose lease ran out and was taken by another.
    holder = models.CharField(max_length=32, blank=True)
    until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "slot"], name="queue_lease_unique_slot")
        ]

    def __str__(self) -> str:
        return f"{self.queue} slot {self.slot}"

    def _mine(self):
        return QueueLease.objects.filter(queue_id=self.queue_id, slot=self.slot, holder=self.holder)

    def renew(self, seconds: float) -> bool:
        """Extend the lease; False when it ran out and another poller has the slot now."""
        self.until = clock.now() + timedelta(seconds=seconds)
        return self._mine().update(until=self.until) == 1

    def release(self) -> None:
        self._mine().update(holder="", until=None)
