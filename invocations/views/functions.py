from django.shortcuts import render

from invocations.models import Function


def function_list(request):
    functions = Function.objects.filter(environment=request.environment, present=True)
    return render(request, "invocations/functions.html", {"functions": functions})
