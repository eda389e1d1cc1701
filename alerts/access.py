"""Who may manage alerts: the Admin role (the 0002 migration of this app grants it)."""

MANAGE_ALERTS = "alerts.manage_alerts"
