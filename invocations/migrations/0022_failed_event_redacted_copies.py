from django.db import migrations, models

# The columns as they are at this migration.
COPIES = {"error_message": "error_message_redacted", "stack_trace": "stack_trace_redacted"}


def _fill(apps, schema_editor):
    """The redacted copies of the failed events already stored, made once here (by primary key,
    a thousand at a time)."""
    from invocations.access.redaction import redact_text

    model = apps.get_model("invocations", "FailedEvent")
    last = 0
    while True:
        batch = list(model.objects.filter(pk__gt=last).order_by("pk").only("pk", *COPIES)[:1000])
        if not batch:
            break
        for row in batch:
            for raw, redacted in COPIES.items():
                setattr(row, redacted, redact_text(getattr(row, raw) or ""))
        model.objects.bulk_update(batch, list(COPIES.values()))
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("invocations", "0021_one_group_per_bug"),
    ]

    operations = [
        migrations.AddField(
            model_name="failedevent",
            name="error_message_redacted",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="failedevent",
            name="stack_trace_redacted",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(_fill, migrations.RunPython.noop),
    ]
