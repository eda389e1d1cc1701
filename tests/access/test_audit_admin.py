import pytest

from invocations.failures import grouping
from invocations.models import AuditEvent, FailureGroup
from tests import factories

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/invocations/auditevent/"


@pytest.fixture
def events():
    first = AuditEvent.objects.create(
        action="function.invoke",
        actor_name="alice",
        target_type="invocation",
        target_id="7",
        summary="RequestResponse hello",
    )
    second = AuditEvent.objects.create(
        action="group.resolved",
        actor_name="bob",
        target_type="failuregroup",
        target_id="3",
        summary="resolved orders",
    )
    return first, second


def test_the_trail_is_read_only_even_for_a_superuser(client, admin_user, events):
    client.force_login(admin_user)

    assert client.get(CHANGELIST).status_code == 200
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    detail = client.get(f"{CHANGELIST}{events[0].pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert client.post(f"{CHANGELIST}{events[0].pk}/delete/").status_code == 403
    # (the fixtures giving people their roles write membership events of their own)
    assert AuditEvent.objects.exclude(action__in=["login", "user.groups"]).count() == 2


def test_it_filters_to_one_objects_history(client, admin_user, events):
    client.force_login(admin_user)

    body = client.get(f"{CHANGELIST}?target_type=failuregroup&target_id=3").content.decode()

    assert "resolved orders" in body
    assert "RequestResponse hello" not in body


def test_the_csv_export_is_itself_audited(client, admin_user, events):
    client.force_login(admin_user)

    response = client.post(
        CHANGELIST,
        {
            "action": "export_csv",
            "_selected_action": [e.pk for e in events],
        },
    )

    content = b"".join(response.streaming_content).decode()
    assert response["Content-Type"] == "text/csv"
    assert "RequestResponse hello" in content and "resolved orders" in content
    exported = AuditEvent.objects.get(action="audit.export")
    assert exported.actor_name == "ada"
    assert exported.details == {"count": 2}


def test_a_viewer_cannot_open_the_admin(client, bob):
    client.force_login(bob)

    response = client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_group_page_links_admins_to_its_audit_history(client, admin_user, bob):
    grouping.group_records([factories.failure_record()])
    group = FailureGroup.objects.get()

    client.force_login(admin_user)
    as_admin = client.get(f"/groups/{group.pk}/").content.decode()
    client.force_login(bob)
    as_viewer = client.get(f"/groups/{group.pk}/").content.decode()

    link = f"{CHANGELIST}?target_type=failuregroup&amp;target_id={group.pk}"
    assert link in as_admin
    assert link not in as_viewer
