"""Notifications stored before alert messages were redacted: their title, payload (what is sent,
and what the Deliveries page shows) and the receiver's answer redacted now, in batches."""

from django.db import migrations


def _redact(apps, schema_editor):
    from invocations.access.redaction import redact_strings, redact_text

    Notification = apps.get_model("alerts", "Notification")
    last = 0
    while True:
        batch = list(
            Notification.objects.filter(pk__gt=last)
            .order_by("pk")
            .only("pk", "title", "payload", "error")[:1000]
        )
        if not batch:
            break
        for row in batch:
            row.title = redact_text(row.title)[:300]
            row.payload = redact_strings(row.payload)
            row.error = redact_text(row.error)
        Notification.objects.bulk_update(batch, ["title", "payload", "error"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_admin_role_manages_alerts"),
        ("invocations", "0017_redacted_copies"),
    ]

    operations = [migrations.RunPython(_redact, migrations.RunPython.noop)]
