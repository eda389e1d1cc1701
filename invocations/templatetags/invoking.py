"""Template helpers of the invoke pages. Plain strings only: Django escapes them."""

from django import template

from invocations.models import Invocation

register = template.Library()


@register.filter
def status_label(value) -> str:
    """`function_error` → `function error`, as the status badges read."""
    try:
        return Invocation.Status(value).label.lower()
    except ValueError:
        return str(value or "").replace("_", " ")


@register.filter
def record_url(record) -> str:
    """A record's own page once the records pages have one; else the list filtered to it."""
    from urllib.parse import urlencode

    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("record", args=[record.pk])
    except NoReverseMatch:
        return reverse("records") + "?" + urlencode({"q": record.request_id or record.message_id})


@register.inclusion_tag("invocations/partials/invocation_status.html")
def invocation_status(invocation):
    """An invocation's status badge, worded the same on every page; for an Event invocation
    whose outcome is known, the outcome, with "accepted (202)" beside it."""
    return {"i": invocation}
