from django.db import models


class FunctionMetrics(models.Model):
    """A function's CloudWatch figures over one range, as the worker last read them: the
    Monitor panel shows this row and asks the worker for a new one once it is old. A row (not
    Django's cache) because the web process and the worker must both see it."""

    environment = models.ForeignKey("Environment", on_delete=models.CASCADE)
    function_name = models.CharField(max_length=140)
    range_key = models.CharField(max_length=8)
    # {metric id: value or None}; see invocations.invoking.monitor.METRICS.
    values = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    # When a fetch was last sent to the worker: the panel sends one, not one per poll.
    requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "function_name", "range_key"], name="function_metrics_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.function_name} metrics over {self.range_key}"
