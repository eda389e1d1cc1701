"""A task crosses the real Redis broker to a real worker, which writes a row."""

import time

import pytest
from celery import shared_task

from invocations.models import AuditEvent


@shared_task(name="tests.write_audit_row")
def write_audit_row(summary: str) -> None:
    AuditEvent.objects.create(action="test.roundtrip", summary=summary)


@pytest.mark.broker
def test_a_task_goes_through_redis_to_a_worker_that_writes_a_row(celery_worker):
    write_audit_row.delay("through the broker")

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if AuditEvent.objects.filter(action="test.roundtrip").exists():
            break
        time.sleep(0.1)
    assert AuditEvent.objects.get(action="test.roundtrip").summary == "through the broker"
