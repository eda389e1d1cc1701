import csv

from django.contrib import admin
from django.db import models
from django.http import StreamingHttpResponse
from django.utils.html import format_html

from invocations import admin_people  # noqa: F401  (importing it registers the User page)
from invocations.access import audit
from invocations.ingest import queues
from invocations.middleware import actor_of
from invocations.models import (
    AuditEvent,
    Environment,
    ExecutionRecord,
    Function,
    Invocation,
    PayloadTemplate,
    WatchedQueue,
)


class AuditHistoryLinkMixin:
    """Adds "audit history" to the admin's object pages."""

    @admin.display(description="Audit history")
    def audit_history(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return format_html('<a href="{}">Audit events for this object</a>', audit.history_url(obj))


@admin.register(Environment)
class EnvironmentAdmin(AuditHistoryLinkMixin, admin.ModelAdmin):
    """Environments hold the AWS credentials' scope: superusers alone add, change and delete
    them, whatever model permissions a group is given; Admins see them."""

    list_display = ["name", "region", "endpoint_url", "protected", "is_default"]
    readonly_fields = ["audit_history"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


@admin.register(Function)
class FunctionAdmin(AuditHistoryLinkMixin, admin.ModelAdmin):
    list_display = ["name", "environment", "runtime", "memory_size", "timeout", "synced_at"]
    list_filter = ["environment", "runtime"]
    search_fields = ["name"]
    readonly_fields = ["audit_history"]


@admin.register(PayloadTemplate)
class PayloadTemplateAdmin(AuditHistoryLinkMixin, admin.ModelAdmin):
    list_display = ["name", "function", "owner", "shared", "updated_at"]
    list_filter = ["shared"]
    readonly_fields = ["audit_history"]


@admin.register(Invocation)
class InvocationAdmin(AuditHistoryLinkMixin, admin.ModelAdmin):
    # The tables have no default order (lists order where they are built): newest first.
    ordering = ["-id"]
    list_display = [
        "id",
        "function_name",
        "invocation_type",
        "status",
        "requested_by",
        "created_at",
    ]
    list_filter = ["status", "invocation_type", "environment"]
    search_fields = ["request_id", "function_name"]
    readonly_fields = ["audit_history"]
    raw_id_fields = ["rerun_of", "replay_of", "function", "requested_by"]


@admin.register(WatchedQueue)
class WatchedQueueAdmin(AuditHistoryLinkMixin, admin.ModelAdmin):
    list_display = ["url", "kind", "function_name", "enabled", "last_polled_at", "records_stored"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    audits_its_own_changes = True  # queues.py writes the watch, change and unwatch events
    list_filter = ["kind", "enabled", "environment"]
    readonly_fields = [
        "audit_history",
        "last_polled_at",
        "last_error",
        "last_error_at",
        "records_stored",
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        queues.saved_in_admin(
            obj, actor=actor_of(request), created=not change, changed=form.changed_data
        )

    def delete_model(self, request, obj):
        queues.unwatch(obj, actor=actor_of(request))


@admin.register(ExecutionRecord)
class ExecutionRecordAdmin(AuditHistoryLinkMixin, admin.ModelAdmin):
    # The tables have no default order (lists order where they are built): newest first.
    ordering = ["-id"]
    list_display = ["id", "kind", "condition", "function_name", "request_id", "received_at"]
    list_filter = ["kind", "condition"]
    search_fields = ["request_id", "message_id"]
    readonly_fields = ["audit_history"]
    raw_id_fields = ["queue", "invocation"]


class _Echo:
    def write(self, value):
        return value


# A spreadsheet runs a cell that starts with one of these as a formula; the trail holds text
# that anyone can choose (a failed login's User-Agent, a template's name).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    # The tables have no default order (lists order where they are built): newest first.
    ordering = ["-id"]
    """Read-only for everyone, superusers included: the trail is append-only."""

    list_display = [
        "created_at",
        "actor_name",
        "action",
        "target_type",
        "target_repr",
        "summary",
        "ip_address",
    ]
    list_filter = ["action", "target_type", "actor_name", "created_at"]
    search_fields = ["summary", "target_repr", "actor_name", "target_id"]
    date_hierarchy = "created_at"
    actions = ["export_csv"]
    list_select_related = ["actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_list_filter(self, request):
        return self.list_filter

    def lookup_allowed(self, lookup, value, request=None):
        # The per-object links filter on target_type and target_id.
        if lookup in {"target_type", "target_id"}:
            return True
        return super().lookup_allowed(lookup, value, request)

    @admin.action(description="Export selected events as CSV")
    def export_csv(self, request, queryset):
        count = queryset.count()
        audit.record(
            "audit.export",
            actor=actor_of(request),
            summary=f"exported {count} audit events as CSV",
            details={"count": count},
        )
        writer = csv.writer(_Echo())
        header = [
            "time",
            "actor",
            "action",
            "target_type",
            "target_id",
            "target",
            "summary",
            "ip_address",
            "user_agent",
        ]

        def rows():
            yield writer.writerow(header)
            for event in queryset.order_by("id").iterator():
                yield writer.writerow(
                    _csv_cell(cell)
                    for cell in [
                        event.created_at.isoformat(),
                        event.actor_name,
                        event.action,
                        event.target_type,
                        event.target_id,
                        event.target_repr,
                        event.summary,
                        event.ip_address or "",
                        event.user_agent,
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
        return response
