from django.db import models


class RedactionPass(models.Model):
    """One making of the stored redacted copies with a list of keys: the newest row says which
    keys made the copies now stored, and, while `finished_at` is empty, how far the worker has
    got re-redacting them after REDACT_KEYS changed (the Workers page shows it)."""

    keys = models.TextField()  # the normalised REDACT_KEYS, comma separated
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Where the pass is: the model whose rows it is walking and the last primary key done.
    model = models.CharField(max_length=40, blank=True)
    last_pk = models.BigIntegerField(default=0)
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"redaction with {self.keys}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, int(100 * self.done / self.total))
