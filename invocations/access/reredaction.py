"""Making the stored redacted copies again when REDACT_KEYS changes, in the worker, a batch of
rows per task, with its progress kept on a `RedactionPass` row for the Workers page.

Beat sends `reredact` every minute: it notices a change of keys (the newest pass was made with
other keys) and starts a pass; each run does one batch under a lock on the pass row (two runs
never do the same batch) and sends the next run at once while rows remain."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from invocations.access import redaction
from invocations.models import (
    ExecutionRecord,
    FailedEvent,
    FailureGroup,
    Invocation,
    RedactionPass,
)
from invocations.ops import sending

BATCH = 1000
MODELS: dict[str, Any] = {
    "ExecutionRecord": ExecutionRecord,
    "Invocation": Invocation,
    "FailureGroup": FailureGroup,
    "FailedEvent": FailedEvent,
}
ORDER = list(redaction.STORED_COPIES)


def current_keys() -> str:
    return ",".join(sorted(set(redaction._patterns())))


def latest() -> RedactionPass | None:
    return RedactionPass.objects.order_by("-id").first()


def _start(keys: str) -> RedactionPass:
    total = sum(model.objects.count() for model in MODELS.values())
    return RedactionPass.objects.create(keys=keys, model=ORDER[0], total=total)


def step() -> bool:
    """Start a pass if the keys changed, then do one batch of the unfinished pass. Returns
    whether rows remain (the caller sends the next step)."""
    keys = current_keys()
    with transaction.atomic():
        newest = RedactionPass.objects.select_for_update().order_by("-id").first()
        if newest is None or newest.keys != keys:
            newest = _start(keys)
        if newest.finished_at is not None:
            return False
        patterns = keys.split(",") if keys else []
        model = MODELS[newest.model]
        columns = redaction.STORED_COPIES[newest.model]
        written = list(columns.values())
        # A group's title is kept redacted only (everyone reads it): redacting it again with
        # the new keys hides what they name; a key taken away shows nothing back.
        titled = newest.model == "FailureGroup"
        read = ["pk", *columns, *(["headline"] if titled else [])]
        batch = list(model.objects.filter(pk__gt=newest.last_pk).order_by("pk").only(*read)[:BATCH])
        if titled:
            for row in batch:
                row.headline = redaction.redact_text(row.headline, patterns)[:200]
            written.append("headline")
        for row in batch:
            redaction.fill_copies(row, patterns)
        model.objects.bulk_update(batch, written)
        newest.done += len(batch)
        if batch:
            newest.last_pk = batch[-1].pk
        else:
            index = ORDER.index(newest.model) + 1
            if index < len(ORDER):
                newest.model, newest.last_pk = ORDER[index], 0
            else:
                newest.finished_at = timezone.now()
        newest.save()
        return newest.finished_at is None


def run() -> bool:
    """One step; the next is sent by name once this one has committed."""
    more = step()
    if more:
        transaction.on_commit(lambda: sending.send(sending.REREDACT))
    return more


def progress() -> RedactionPass | None:
    """The newest pass, for the Workers page (None before the first)."""
    return latest()
