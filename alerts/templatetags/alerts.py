from django import template

from alerts.models import Notification

register = template.Library()


@register.inclusion_tag("alerts/partials/group_notifications.html")
def group_notifications(group):
    """Who was told about `group`, and when: for its timeline."""
    notified = (
        Notification.objects.filter(groups=group)
        .select_related("channel", "rule")
        .order_by("-id")[:20]
    )
    return {"notified": notified}
