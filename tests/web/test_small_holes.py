"""Small holes closed: redirects through `next`, the CSRF token in a URL, formulas in the audit
CSV, the headers of a 400 for a bad Host, and who may manage environments."""

import csv
import io

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from invocations.failures import grouping
from invocations.models import AuditEvent, Environment, FailureGroup
from tests import factories
from tests.conftest import _user

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(db):
    grouping.group_records([factories.failure_record()])
    return FailureGroup.objects.get()


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_bulk_actions_do_not_redirect_to_another_site(client, alice, group, target):
    client.force_login(alice)

    response = client.post(
        reverse("groups-bulk"), {"groups": [group.pk], "action": "acknowledge", "next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("triage")


def test_bulk_actions_go_back_to_a_page_of_this_site(client, alice, group):
    client.force_login(alice)

    response = client.post(
        reverse("groups-bulk"),
        {"groups": [group.pk], "action": "acknowledge", "next": "/?status=open"},
    )

    assert response["Location"] == "/?status=open"


def test_a_refused_replay_does_not_put_the_csrf_token_in_the_url(alice, group):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    env = Environment.objects.default()
    env.protected = True
    env.save()
    client.get("/")
    token = client.cookies["csrftoken"].value

    response = client.post(
        reverse("replay-start"),
        {"group": group.pk, "confirm_name": "wrong", "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    assert "csrfmiddlewaretoken" not in response["Location"]
    assert token not in response["Location"]
    assert f"group={group.pk}" in response["Location"]


def test_the_audit_csv_cannot_carry_a_spreadsheet_formula(client, admin_user):
    hostile = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    for value in hostile:
        AuditEvent.objects.create(action="login.failed", summary=value, user_agent=value)
    client.force_login(admin_user)

    response = client.post(
        "/admin/invocations/auditevent/",
        {
            "action": "export_csv",
            "_selected_action": list(
                AuditEvent.objects.filter(action="login.failed").values_list("pk", flat=True)
            ),
        },
    )

    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    cells = [row["summary"] for row in rows] + [row["user_agent"] for row in rows]
    assert len(cells) == 2 * len(hostile)
    assert all(cell.startswith("'") for cell in cells)
    assert sorted(cell[1:] for cell in cells) == sorted(hostile * 2)


def test_a_bad_host_header_answers_400_with_the_security_headers(client):
    response = client.get("/health/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_only_superusers_manage_environments_even_with_the_model_permissions(
    client, django_user_model, admin_user
):
    manager = _user(
        django_user_model, "morgan", ["Viewer", "Operator", "Triager", "Admin"], is_staff=True
    )
    manager.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["add_environment", "change_environment", "delete_environment"]
        )
    )
    env = Environment.objects.default()

    client.force_login(manager)
    as_admin_role = [
        client.get("/admin/invocations/environment/add/").status_code,
        client.post(
            f"/admin/invocations/environment/{env.pk}/delete/", {"post": "yes"}
        ).status_code,
    ]
    client.force_login(admin_user)
    as_superuser = client.get("/admin/invocations/environment/add/").status_code

    assert as_admin_role == [403, 403]
    assert as_superuser == 200
    assert Group.objects.get(name="Admin").user_set.filter(pk=manager.pk).exists()
