"""Every add, change and delete through the admin, and every change of group membership or
permissions, is in the audit trail: who, what, and the changed fields before → after (never a
password hash). People are deactivated rather than deleted, and deleting an account anyway
leaves the trail as it was written."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection

from invocations.models import AuditEvent, Environment, Function, PayloadTemplate
from tests import factories

pytestmark = pytest.mark.django_db


def _latest(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("id").last()


def test_making_someone_an_admin_in_the_admin_is_audited_with_who_and_what(client, admin_user, bob):
    client.force_login(admin_user)
    groups = Group.objects.filter(name__in=["Viewer", "Admin"])

    response = client.post(
        f"/admin/auth/user/{bob.pk}/change/",
        {
            "username": "bob",
            "is_active": "on",
            "groups": [g.pk for g in groups],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "first_name": "Robert",
        },
    )

    assert response.status_code == 302
    membership = _latest("user.groups")
    assert membership.actor_name == "ada"
    assert membership.target_repr == "bob"
    assert membership.details["added"] == ["Admin"]
    change = _latest("admin.change")
    assert change.details["changes"]["first_name"] == ["", "Robert"]
    assert "password" not in change.details["changes"]


def test_a_password_change_is_noted_without_the_hash(client, admin_user, bob):
    client.force_login(admin_user)

    client.post(
        f"/admin/auth/user/{bob.pk}/password/",
        {"password1": "a-new-long-password-9", "password2": "a-new-long-password-9"},
    )

    bob.refresh_from_db()
    events = AuditEvent.objects.filter(target_type="user", target_id=str(bob.pk))
    text = str(list(events.values_list("details", flat=True)))
    assert bob.password.split("$")[-1] not in text
    assert events.filter(action="admin.change", details__changes__password__1="[changed]").exists()


def test_adding_and_deleting_an_object_in_the_admin_is_audited(client, admin_user):
    client.force_login(admin_user)
    function = Function.objects.create(environment=Environment.objects.default(), name="hello")

    client.post(
        "/admin/invocations/payloadtemplate/add/",
        {
            "function": function.pk,
            "name": "login",
            "owner": admin_user.pk,
            "payload": '{"password": "hunter2"}',
        },
    )
    template = PayloadTemplate.objects.get()
    client.post(f"/admin/invocations/payloadtemplate/{template.pk}/delete/", {"post": "yes"})

    added, deleted = _latest("admin.add"), _latest("admin.delete")
    assert added.target_id == deleted.target_id == str(template.pk)
    assert added.details["model"] == "invocations.payloadtemplate"
    assert "hunter2" not in str(added.details)
    assert deleted.details["before"]["name"] == "login"


def test_deleting_records_in_bulk_from_the_admin_audits_each(client, admin_user):
    records = [factories.failure_record(), factories.failure_record()]
    client.force_login(admin_user)

    client.post(
        "/admin/invocations/executionrecord/",
        {"action": "delete_selected", "_selected_action": [r.pk for r in records], "post": "yes"},
    )

    deleted = AuditEvent.objects.filter(action="admin.delete", target_type="executionrecord")
    assert sorted(deleted.values_list("target_id", flat=True)) == sorted(str(r.pk) for r in records)


def test_group_and_permission_changes_outside_the_admin_are_audited_as_the_system(bob):
    viewer = Group.objects.get(name="Viewer")
    permission = Permission.objects.get(codename="view_raw_payload")

    viewer.permissions.add(permission)
    bob.user_permissions.add(permission)
    viewer.user_set.remove(bob)

    granted = _latest("group.permissions")
    assert granted.actor_name == "system"
    assert granted.details["added"] == ["invocations.view_raw_payload"]
    assert _latest("user.user_permissions").details["added"] == ["invocations.view_raw_payload"]
    removed = _latest("group.members")
    assert removed.details == {"relation": "members", "removed": ["bob"]}


def test_the_admin_offers_deactivation_not_deletion_of_people(client, admin_user, bob):
    client.force_login(admin_user)

    page = client.get(f"/admin/auth/user/{bob.pk}/change/").content.decode()
    refused = client.post(f"/admin/auth/user/{bob.pk}/delete/", {"post": "yes"})
    changelist = client.get("/admin/auth/user/").content.decode()

    assert "deactivate" in page.lower()
    assert refused.status_code == 403
    assert 'value="delete_selected"' not in changelist
    assert User.objects.filter(pk=bob.pk).exists()


def test_deleting_an_account_anyway_leaves_its_audit_events_as_written(client, bob, admin_user):
    client.force_login(bob)
    client.post("/accounts/logout/")
    before = list(
        AuditEvent.objects.filter(actor_name="bob").values_list("id", "actor_id", "actor_name")
    )

    bob.delete()

    after = list(
        AuditEvent.objects.filter(actor_name="bob").values_list("id", "actor_id", "actor_name")
    )
    assert before and after == before
    client.force_login(admin_user)
    page = client.get(f"/admin/invocations/auditevent/{before[0][0]}/change/")
    assert page.status_code == 200 and "bob" in page.content.decode()
    assert client.get("/admin/invocations/auditevent/?q=bob").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM invocations_auditevent WHERE actor_id IS NULL")
        assert cursor.fetchone()[0] == AuditEvent.objects.filter(actor_id=None).count()


def test_a_url_in_an_admin_change_is_kept_to_its_host(client, admin_user):
    env = Environment.objects.default()
    client.force_login(admin_user)

    client.post(
        f"/admin/invocations/environment/{env.pk}/change/",
        {
            "name": env.name,
            "region": "us-east-1",
            "endpoint_url": "https://aws.example/path?X-Amz-Security-Token=leak",
            "allowed_functions": "*",
            "is_default": "on",
        },
    )

    change = _latest("admin.change")
    assert change is not None, "the form was refused"
    assert change.details["changes"]["endpoint_url"][1] == "https://aws.example/…"
    assert "leak" not in str(change.details)
