"""The Workers page (Admin): Celery workers, the task queue in Redis, invocations and replays
in progress, and the last poll of each watched queue."""

from django.views.decorators.http import require_GET

from invocations.access import permissions, reredaction
from invocations.ops import workers
from invocations.views import edge
from invocations.views.edge import page_or_fragment


@require_GET
@edge.require(permissions.ADMIN)
def worker_list(request):
    context = {
        "state": workers.worker_state(),
        "tasks": workers.task_queue(),
        "fresh_seconds": workers.FRESH_SECONDS,
        **workers.in_progress(request.environment),
        "queues": workers.polls(request.environment),
        "redaction": reredaction.progress(),
    }
    return page_or_fragment(
        request,
        "invocations/workers.html",
        "invocations/partials/workers_panel.html",
        context,
        target="workers-panel",
    )
