"""Invoking from the browser, and the payload templates of the invoke form."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from invocations.access import permissions
from invocations.forms.invoke import QUALIFIER, InvokeForm, TemplateForm
from invocations.invoking import lifecycle, payloads
from invocations.middleware import actor_of, open_in
from invocations.models import Function, Invocation, PayloadTemplate
from invocations.views import edge
from invocations.views.functions import function_context


def _function(request, name) -> Function:
    return get_object_or_404(Function, environment=request.environment, name=name, present=True)


@require_POST
@edge.require(permissions.INVOKE)
def invoke(request, name):
    function = _function(request, name)
    qualifiers = function.qualifiers
    asked = request.POST.get("qualifier", "")
    if asked and asked not in qualifiers and QUALIFIER.fullmatch(asked):
        # An edit-and-re-run of a qualifier that has since left the inventory. Anything Lambda
        # would not take as a qualifier stays out of the choices, so the form refuses it.
        qualifiers.append(asked)
    form = InvokeForm(
        request.POST,
        function_name=function.name,
        environment=request.environment,
        qualifiers=qualifiers,
    )
    if not form.is_valid():
        context = function_context(request, function, form=form)
        return render(request, "invocations/function.html", context, status=400)
    data = form.cleaned_data
    rerun_of = None
    if data.get("rerun_of"):
        rerun_of = Invocation.objects.filter(
            pk=data["rerun_of"], environment=request.environment, function_name=function.name
        ).first()
    invocation = lifecycle.start(
        environment=request.environment,
        function_name=function.name,
        qualifier=data["qualifier"] if data["qualifier"] != "$LATEST" else "",
        invocation_type=data["invocation_type"],
        payload=data["payload"],
        actor=actor_of(request),
        rerun_of=rerun_of,
    )
    return redirect("invocation", pk=invocation.pk)


@require_POST
@edge.require(permissions.INVOKE)
def rerun(request, pk):
    """The same function, qualifier, type and payload again, as a new invocation."""
    previous = get_object_or_404(
        Invocation.objects.select_related("environment"),
        pk=pk,
        environment__in=permissions.visible_environments(request.user),
    )
    open_in(request, previous.environment)
    if not request.environment.allows(previous.function_name):
        messages.error(
            request, f"{previous.function_name} is not among the functions this environment allows."
        )
        return redirect("invocation", pk=previous.pk)
    if request.environment.protected and request.POST.get("confirm_name") != previous.function_name:
        messages.error(request, "This environment is protected: type the function name to re-run.")
        return redirect("invocation", pk=previous.pk)
    invocation = lifecycle.start(
        environment=request.environment,
        function_name=previous.function_name,
        qualifier=previous.qualifier,
        invocation_type=previous.invocation_type,
        payload=previous.payload,
        actor=actor_of(request),
        rerun_of=previous,
    )
    return redirect("invocation", pk=invocation.pk)


@require_POST
@edge.require(permissions.INVOKE)
def save_template(request, name):
    function = _function(request, name)
    form = TemplateForm(request.POST)
    if not form.is_valid():
        context = function_context(request, function, template_form=form)
        return render(request, "invocations/function.html", context, status=400)
    template = payloads.save_template(
        function,
        actor=actor_of(request),
        name=form.cleaned_data["name"],
        payload=form.cleaned_data["payload"],
        shared=form.cleaned_data["shared"],
    )
    messages.success(request, f"Template {template.name!r} saved.")
    return redirect(_function_url(function) + f"&template={template.pk}")


@require_POST
@edge.require(permissions.INVOKE)
def delete_template(request, name, pk):
    function = _function(request, name)
    template = get_object_or_404(PayloadTemplate, pk=pk, function=function, owner=request.user)
    payloads.delete_template(template, actor=actor_of(request))
    messages.success(request, "Template deleted.")
    return redirect(_function_url(function))


def _function_url(function: Function) -> str:
    return (
        reverse("function", args=[function.name])
        + "?"
        + urlencode({"env": function.environment.name})
    )
