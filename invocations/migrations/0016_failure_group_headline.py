from django.db import migrations, models

# As grouping.stream_headline words it, frozen here: a migration must not follow later edits.
BATCH_SOURCES = {
    "KinesisBatchInfo": "Kinesis",
    "DDBStreamBatchInfo": "DynamoDB stream",
    "KafkaBatchInfo": "Kafka",
}


def title_stream_groups(apps, schema_editor):
    """Existing groups of stream failures get the title new ones get."""
    FailureGroup = apps.get_model("invocations", "FailureGroup")
    ExecutionRecord = apps.get_model("invocations", "ExecutionRecord")
    untitled = FailureGroup.objects.filter(error_type="", error_class="error")
    for group in untitled.iterator():
        record = (
            ExecutionRecord.objects.filter(failure_group=group, kind="stream_failure")
            .order_by("id")
            .first()
        )
        if record is None:
            continue
        keys = list(record.batch_info or {})
        source = BATCH_SOURCES.get(keys[0], keys[0].removesuffix("BatchInfo")) if keys else ""
        headline = f"{source or 'Stream'} batch failed"
        if record.condition:
            headline += f": {record.condition}"
        FailureGroup.objects.filter(pk=group.pk).update(headline=headline[:200])


class Migration(migrations.Migration):
    dependencies = [
        ("invocations", "0015_function_metrics_and_poll_duration"),
    ]

    operations = [
        migrations.AddField(
            model_name="failuregroup",
            name="headline",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(title_stream_groups, migrations.RunPython.noop),
    ]
