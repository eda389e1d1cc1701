from invocations.access import permissions
from invocations.middleware import chosen_environment


def environments(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    shown = request.environment
    chosen = chosen_environment(request)
    return {
        "current_environment": shown,
        # The page is about an object of another environment than the switcher's.
        "switcher_environment": chosen if chosen.pk != shown.pk else None,
        "all_environments": permissions.visible_environments(request.user),
    }
