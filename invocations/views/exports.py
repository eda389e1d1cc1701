"""Export any list (triage, records, invocations) as CSV or JSON Lines, with the filters of the
page it was asked from; on the Records list, the selected records or all that match."""

from django.http import Http404, QueryDict, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from invocations.access import permissions
from invocations.lists import exports
from invocations.middleware import actor_of
from invocations.models import ExecutionRecord
from invocations.shared.ids import as_id
from invocations.views import edge, invocations, records, triage

MAX_SELECTED = 10_000


def _records(request):
    if request.GET.get("all"):
        params = QueryDict(request.GET.get("matching", "")[:4000])
        return records.matching_records(request, params), params.urlencode()
    chosen = (as_id(v) for v in request.GET.getlist("records")[:MAX_SELECTED])
    selected = [pk for pk in chosen if pk is not None]
    if selected:
        chosen = ExecutionRecord.objects.for_list().filter(
            environment=request.environment, pk__in=selected
        )
        return chosen, f"records={len(selected)} selected"
    return records.matching_records(request, request.GET), request.GET.urlencode()


def _groups(request):
    return triage.matching_groups(request), request.GET.urlencode()


def _invocations(request):
    return invocations.matching_invocations(request, request.GET), request.GET.urlencode()


SOURCES = {"triage": _groups, "records": _records, "invocations": _invocations}


@require_GET
@edge.require(permissions.VIEW)
def export(request, list_name, fmt):
    if list_name not in SOURCES or fmt not in exports.FORMATS:
        raise Http404("No such export")
    queryset, filters = SOURCES[list_name](request)
    exports.record_export(actor_of(request), list_name, fmt, queryset, filters)
    body = exports.stream(
        list_name,
        fmt,
        queryset,
        raw_payloads=permissions.can(request.user, permissions.RAW_PAYLOADS),
    )
    response = StreamingHttpResponse(body, content_type=exports.FORMATS[fmt])
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    name = f"{list_name}-{request.environment.name}-{stamp}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
