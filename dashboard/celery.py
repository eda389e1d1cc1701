import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("dashboard.celery_settings:CELERY", namespace="CELERY")
app.autodiscover_tasks()

# Imported here so that every process that publishes tasks (web, worker, beat) stamps them, and
# so that the worker keeps its database connections between tasks.
from celery.signals import beat_init, before_task_publish, task_postrun, task_prerun  # noqa: E402

from dashboard import task_connections  # noqa: E402
from invocations import heartbeat  # noqa: E402

beat_init.connect(heartbeat.mark_beat, weak=False)
before_task_publish.connect(heartbeat.stamp, weak=False)
task_prerun.connect(task_connections.before_task, weak=False)
task_postrun.connect(task_connections.after_task, weak=False)
