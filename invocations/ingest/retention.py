"""Record retention: records older than RECORD_RETENTION_DAYS are deleted daily (beat), in
chunks, with one audit event by the system."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from invocations.access import audit
from invocations.access.actor import SYSTEM
from invocations.failures import grouping
from invocations.models import ExecutionRecord, FailureGroup


def purge_old_records(days: int | None = None, chunk: int = 1000) -> int:
    """Delete records received more than `days` (RECORD_RETENTION_DAYS) ago, in chunks so that no
    transaction holds the table long; one audit event (system) says how many."""
    days = days if days is not None else settings.RECORD_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    groups: set[int] = set()
    while True:
        ids = list(
            ExecutionRecord.objects.filter(received_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:chunk]
        )
        if not ids:
            break
        with transaction.atomic():
            groups.update(
                ExecutionRecord.objects.filter(id__in=ids, failure_group__isnull=False)
                .order_by()
                .values_list("failure_group_id", flat=True)
            )
            _, per_model = ExecutionRecord.objects.filter(id__in=ids).delete()
        deleted += per_model.get(ExecutionRecord._meta.label, 0)
    # Their groups' backlog figures counted them: recount each group once, not once a chunk.
    for group in FailureGroup.objects.filter(pk__in=groups).order_by("pk"):
        with transaction.atomic():
            grouping.refresh_backlog(group)
    with transaction.atomic():
        audit.record(
            "records.purge",
            actor=SYSTEM,
            summary=f"Purged {deleted} record(s) received before {cutoff:%Y-%m-%d %H:%M} UTC",
            details={"deleted": deleted, "retention_days": days, "cutoff": cutoff.isoformat()},
        )
    return deleted
