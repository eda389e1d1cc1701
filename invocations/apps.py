from django.apps import AppConfig


class InvocationsConfig(AppConfig):
    name = "invocations"
    verbose_name = "Lambda Triage"

    def ready(self):
        from invocations import signals

        signals.connect_staff_sync()
