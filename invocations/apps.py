from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "invocations"
    verbose_name = "Lambda Triage"

    def ready(self):
        from django.contrib import admin

        from invocations import admin_audit, admin_lists, signals
        from invocations.access import redaction
        from invocations.ops import checks  # noqa: F401 (importing it registers the checks)

        redaction.connect_copies()

        signals.connect_staff_sync()
        admin_audit.connect_relation_audit()
        # Every admin site is registered by now (the admin app starts first and discovers them).
        admin_audit.audit_every_model_admin(admin.site)
        admin_lists.guard_every_changelist(admin.site)
