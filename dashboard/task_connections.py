"""The Celery worker's database connections, kept between tasks the way the web process keeps
them between requests.

Unless CELERY_DB_REUSE_MAX is set, Celery's Django fixup closes every connection before and after
every task, so each task opened a new one: on SQLite (with its PRAGMAs) about 1 ms of the
worker's CPU per invoke, on PostgreSQL a connection and its authentication per task. Settings set
it, and these handlers (connected in dashboard/celery.py) do around each task what Django does
around each request: a connection older than CONN_MAX_AGE, or one that saw an error, is closed,
and CONN_HEALTH_CHECKS tests a kept one before a task uses it (a database that failed over).
After a task that did not succeed every connection of its thread is closed, as Celery would: a
time limit can interrupt a query and leave a connection that Django still takes for usable."""

from django.db import close_old_connections, connections


def _eager(task) -> bool:
    # Run in the caller's process (Task.apply): its connections are the caller's business.
    return bool(getattr(getattr(task, "request", None), "is_eager", False))


def before_task(task=None, **_) -> None:
    """task_prerun."""
    if not _eager(task):
        close_old_connections()


def after_task(task=None, state=None, **_) -> None:
    """task_postrun."""
    if _eager(task):
        return
    if state == "SUCCESS":
        close_old_connections()
    else:
        connections.close_all()
