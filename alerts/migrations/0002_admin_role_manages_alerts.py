"""The Admin role manages alert rules and channels (and sees their URLs); everyone else sees the
rules with channel URLs masked, through the view permission the pages already ask for."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen here on purpose: a migration must not change when the app's code does.
ADMIN_PERMISSIONS = [
    "manage_alerts",
    "add_channel",
    "change_channel",
    "delete_channel",
    "view_channel",
    "add_rule",
    "change_rule",
    "delete_rule",
    "view_rule",
    "view_notification",
]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("alerts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin, _ = Group.objects.get_or_create(name="Admin")
    admin.permissions.add(
        *Permission.objects.filter(content_type__app_label="alerts", codename__in=ADMIN_PERMISSIONS)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin = Group.objects.filter(name="Admin").first()
    if admin is not None:
        admin.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="alerts", codename__in=ADMIN_PERMISSIONS
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_alert_rules_channels_deliveries"),
        ("invocations", "0002_roles_and_audit_guard"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
