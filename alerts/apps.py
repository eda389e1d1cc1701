from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # The core's /health/ knows nothing of alerts: alerts adds its own line.
        from alerts.health import check_deliveries
        from invocations.ops import health

        health.register(check_deliveries)
