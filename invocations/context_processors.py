from invocations.models import Environment


def environments(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "current_environment": request.environment,
        "all_environments": Environment.objects.all(),
    }
