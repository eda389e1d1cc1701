import logging
import os

from celery import Celery

from dashboard.kombu_fixes import apply as apply_kombu_fixes

apply_kombu_fixes()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("dashboard.celery_settings:CELERY", namespace="CELERY")
app.autodiscover_tasks()


class PeriodicTasksAtDebug(logging.Filter):
    """Beat's "Sending due task" and the worker's "received" / "succeeded" lines for the
    scheduled tasks (a queue poll every few seconds, alert evaluation, ...) are logged at DEBUG:
    at INFO they bury everything else in the console. Failures keep their level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        from django.conf import settings

        message = record.getMessage()
        schedule: dict[str, dict[str, object]] = settings.CELERY_BEAT_SCHEDULE
        periodic = {str(entry["task"]) for entry in schedule.values()}
        periodic |= set(schedule)  # beat names the entry
        if not any(name in message for name in periodic):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


for _name in ("celery.beat", "celery.app.trace", "celery.worker.strategy"):
    logging.getLogger(_name).addFilter(PeriodicTasksAtDebug())


# Imported here so that every process that publishes tasks (web, worker, beat) stamps them, and
# so that the worker keeps its database connections between tasks.
from celery.signals import beat_init, before_task_publish, task_postrun, task_prerun  # noqa: E402

from dashboard.task_connections import after_task, before_task  # noqa: E402
from invocations.ops import heartbeat  # noqa: E402

beat_init.connect(heartbeat.mark_beat, weak=False)
before_task_publish.connect(heartbeat.stamp, weak=False)
task_prerun.connect(before_task, weak=False)
task_postrun.connect(after_task, weak=False)
