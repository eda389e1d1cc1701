from django import forms
from django.contrib import admin

from alerts import changes
from alerts.forms import check_channel_url
from alerts.models import Channel, Notification, Rule
from invocations.admin import AuditHistoryLinkMixin
from invocations.middleware import actor_of


class ChannelAdminForm(forms.ModelForm):
    def clean_url(self):
        return check_channel_url(self.cleaned_data["url"])


@admin.register(Channel)
class ChannelAdmin(AuditHistoryLinkMixin, admin.ModelAdmin):
    form = ChannelAdminForm
    audits_its_own_changes = True  # alerts.changes writes them, the URL masked
    list_display = ["name", "kind", "masked_url", "digest_after", "enabled"]
    readonly_fields = ["audit_history"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changes.channel_saved(obj, not change, form.changed_data, actor=actor_of(request))

    def delete_model(self, request, obj):
        changes.channel_deleted(obj, actor=actor_of(request))
        super().delete_model(request, obj)


@admin.register(Rule)
class RuleAdmin(AuditHistoryLinkMixin, admin.ModelAdmin):
    list_display = ["name", "environment", "describe", "enabled"]
    list_filter = ["environment", "enabled"]
    filter_horizontal = ["channels"]
    audits_its_own_changes = True  # alerts.changes writes them, with the channels
    exclude = ["created_at", "first_group_id"]
    readonly_fields = ["audit_history"]

    def save_model(self, request, obj, form, change):
        if not change:
            changes.prepare_new_rule(obj)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        # Audited once the channels are saved too, so that the event lists them.
        super().save_related(request, form, formsets, change)
        changes.rule_saved(form.instance, not change, form.changed_data, actor=actor_of(request))

    def delete_model(self, request, obj):
        changes.rule_deleted(obj, actor=actor_of(request))
        super().delete_model(request, obj)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "event",
        "title",
        "channel",
        "status",
        "attempts",
        "response_code",
    ]
    list_filter = ["status", "event", "channel"]
    readonly_fields = [f.name for f in Notification._meta.fields] + ["groups"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
