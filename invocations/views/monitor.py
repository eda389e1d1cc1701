"""The function page's Monitor panel (an htmx fragment that waits for the worker's reading) and
the Logs Insights link for a request ID."""

import re

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from invocations.access import permissions
from invocations.invoking import monitor
from invocations.views import edge
from invocations.views.functions import function_for

REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@require_GET
@edge.require(permissions.VIEW)
def function_monitor(request, name):
    function = function_for(request, name)
    span = monitor.chosen_range(request.GET.get("range"))
    reading, waiting = monitor.reading(request.environment, function.name, span)
    figures = [
        {"metric": metric, "value": reading.values.get(metric.id)} for metric in monitor.METRICS
    ]
    seen = monitor.seen_here(request.environment, function.name, span)
    context = {
        "function": function,
        "span": span,
        "reading": reading,
        "waiting": waiting,
        "figures": figures,
        "has_figures": bool(reading.values),
        "seen": seen,
        "reached_no_queue": monitor.reached_no_queue(reading.values.get("async_dropped"), seen),
        "cost": monitor.cost(span),
    }
    return render(request, "invocations/partials/monitor_panel.html", context)


@require_GET
@edge.require(permissions.VIEW)
def logs_insights(request, name):
    """Off to the AWS console's Logs Insights with a query for one request ID."""
    function = function_for(request, name)
    request_id = request.GET.get("request_id", "").strip()
    if monitor.is_local(request.environment) or not REQUEST_ID.match(request_id):
        raise Http404("No Logs Insights for this environment or request ID.")
    return redirect(monitor.logs_insights_url(request.environment, function.name, request_id))
