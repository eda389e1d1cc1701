"""Alert rules and channels (Admins change them; everyone with a role may look, with channel
URLs masked), the test button, and the Deliveries page."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from alerts import changes
from alerts.access import MANAGE_ALERTS
from alerts.forms import ChannelForm, RuleForm
from alerts.models import Channel, Notification, Rule
from invocations.access import permissions
from invocations.middleware import actor_of
from invocations.shared.ids import as_id
from invocations.views.edge import require

PAGE_SIZE = 100


def _is_admin(request) -> bool:
    return permissions.can(request.user, MANAGE_ALERTS)


@require(permissions.VIEW)
def rule_list(request):
    rules = (
        Rule.objects.filter(environment=request.environment)
        .prefetch_related("channels")
        .order_by("name")
    )
    context = {
        "rules": rules,
        "channels": Channel.objects.order_by("name"),
        "can_manage": _is_admin(request),
    }
    return render(request, "alerts/rules.html", context)


def _rule_form(request, rule: Rule | None):
    created = rule is None
    form = RuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save(commit=False)
            if created:
                saved.environment = request.environment
                changes.prepare_new_rule(saved)
            saved.save()
            form.save_m2m()
            changes.rule_saved(saved, created, form.changed_data, actor=actor_of(request))
        messages.success(request, f"Rule {saved.name} saved.")
        return redirect("alert-rules")
    status = 400 if request.method == "POST" else 200
    return render(request, "alerts/rule_form.html", {"form": form, "rule": rule}, status=status)


@require(MANAGE_ALERTS)
def rule_add(request):
    return _rule_form(request, None)


@require(MANAGE_ALERTS)
def rule_edit(request, pk):
    return _rule_form(request, get_object_or_404(Rule, pk=pk, environment=request.environment))


@require_POST
@require(MANAGE_ALERTS)
def rule_toggle(request, pk):
    rule = get_object_or_404(Rule, pk=pk, environment=request.environment)
    with transaction.atomic():
        rule.enabled = not rule.enabled
        rule.save(update_fields=["enabled", "updated_at"])
        changes.rule_saved(rule, False, ["enabled"], actor=actor_of(request))
    messages.success(request, f"Rule {rule.name} {'enabled' if rule.enabled else 'disabled'}.")
    return redirect("alert-rules")


def _channel_form(request, channel: Channel | None):
    created = channel is None
    form = ChannelForm(request.POST or None, instance=channel)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save()
            changes.channel_saved(saved, created, form.changed_data, actor=actor_of(request))
        messages.success(request, f"Channel {saved.name} saved.")
        return redirect("alert-rules")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "alerts/channel_form.html", {"form": form, "channel": channel}, status=status
    )


@require(MANAGE_ALERTS)
def channel_add(request):
    return _channel_form(request, None)


@require(MANAGE_ALERTS)
def channel_edit(request, pk):
    return _channel_form(request, get_object_or_404(Channel, pk=pk))


@require_POST
@require(MANAGE_ALERTS)
def channel_test(request, pk):
    channel = get_object_or_404(Channel, pk=pk)
    changes.send_test(channel, actor=actor_of(request))
    messages.success(
        request, f"Test notification to {channel.name} queued: see Deliveries for the result."
    )
    return redirect("alert-deliveries")


@require(permissions.VIEW)
def deliveries(request):
    """Every notification, newest first, by pages of ids (keyset): the list only grows."""
    rows = Notification.objects.for_list()
    status = request.GET.get("status", "")
    if status in Notification.Status.values:
        rows = rows.filter(status=status)
    before = request.GET.get("before", "")
    if (before_id := as_id(before)) is not None:
        rows = rows.filter(pk__lt=before_id)
    page = list(rows[: PAGE_SIZE + 1])
    context = {
        "notifications": page[:PAGE_SIZE],
        "next_before": page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None,
        "status": status,
        "statuses": Notification.Status.choices,
    }
    return render(request, "alerts/deliveries.html", context)
