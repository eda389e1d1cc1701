"""Groups for the four roles with their permissions, and, on PostgreSQL, a trigger that refuses
UPDATE and DELETE on the audit trail (the model refuses them too; this covers raw SQL)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen here on purpose: a migration must not change when the app's code does.
ROLES = {
    "Viewer": [
        "invocations.view_environment",
        "invocations.view_function",
        "invocations.view_invocation",
        "invocations.view_watchedqueue",
        "invocations.view_executionrecord",
        "invocations.view_payloadtemplate",
    ],
    "Operator": [
        "invocations.invoke_function",
        "invocations.add_payloadtemplate",
        "invocations.change_payloadtemplate",
        "invocations.delete_payloadtemplate",
    ],
    "Triager": ["invocations.triage_failures", "invocations.replay_record"],
    "Admin": [
        "invocations.manage_queues",
        "invocations.manage_environments",
        "invocations.view_raw_payload",
        "invocations.view_auditevent",
    ],
}

TRIGGER = """
CREATE OR REPLACE FUNCTION invocations_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER invocations_auditevent_append_only
    BEFORE UPDATE OR DELETE ON invocations_auditevent
    FOR EACH ROW EXECUTE FUNCTION invocations_audit_append_only();
"""
DROP_TRIGGER = """
DROP TRIGGER IF EXISTS invocations_auditevent_append_only ON invocations_auditevent;
DROP FUNCTION IF EXISTS invocations_audit_append_only();
"""


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    granted: list[str] = []
    # Each role includes the ones before it: an Operator is also a Viewer, and so on.
    for role, perms in ROLES.items():
        granted = granted + perms
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in granted:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("invocations", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, remove_roles),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
