"""The one way a view answers htmx: the fragment when htmx asks for it, else the whole page."""

from django.shortcuts import render


def page_or_fragment(request, page: str, fragment: str, context: dict, *, target: str = ""):
    """Render `fragment` for an htmx request (aimed at the element `target`, when given), and
    `page` for everything else: a first visit, a reload, a boosted link (which wants the whole
    page), or an htmx request that swaps some other element."""
    wants_fragment = (
        request.htmx and not request.htmx.boosted and (not target or request.htmx.target == target)
    )
    return render(request, fragment if wants_fragment else page, context)
