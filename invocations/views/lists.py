"""What every list page (triage, records, invocations) gives its query bar, time range picker,
page size choice, exports and live updates."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from invocations.access import permissions
from invocations.lists import list_search, time_ranges
from invocations.views import edge


def list_context(request, found: list_search.Search) -> dict:
    """What the query bar, range picker, page size and exports need, on any of the lists."""
    params = request.GET.copy()
    for name in ("page", "before", "cursor", "seen"):
        params.pop(name, None)
    return {
        "search": found,
        "range_choices": time_ranges.CHOICES,
        "page_sizes": list_search.PAGE_SIZES,
        "export_query": params.urlencode(),
        "live_seconds": settings.LIVE_POLL_SECONDS,
    }


@require_GET
@edge.require(permissions.VIEW)
def suggestions(request, list_name):
    """The query bar's datalist, asked for when the bar is first focused (so the page itself
    stays light)."""
    if list_name not in list_search.LISTS:
        raise Http404("No such list")
    entries = list_search.suggestions_for(request.environment, list_name)
    return render(request, "invocations/partials/suggestions.html", {"entries": entries})
