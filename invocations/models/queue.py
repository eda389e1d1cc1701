from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone


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
    # A poller claims the queue until this time, so two pollers never read it at once.
    claimed_until = models.DateTimeField(null=True, blank=True)
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

    def claim(self, seconds: float, renew: bool = False) -> bool:
        """Hold the queue for `seconds` (a conditional UPDATE); False if another poller has it.
        `renew`: the caller holds it already and extends its lease."""
        now = timezone.now()
        rows = WatchedQueue.objects.filter(pk=self.pk)
        if not renew:
            rows = rows.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        return rows.update(claimed_until=now + timedelta(seconds=seconds)) == 1

    def release(self) -> None:
        WatchedQueue.objects.filter(pk=self.pk).update(claimed_until=None)
