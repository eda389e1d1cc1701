"""The requests that answered 5xx when tried as an attacker would, each a 4xx or a page now, on
SQLite and on PostgreSQL (which refuses NUL in text): `tests/postgres/run.sh pytest` runs them
there."""

import pytest
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db

NUL = "\x00"
ADMIN_FILTERS = [
    ("admin:invocations_invocation_changelist", "status"),
    ("admin:invocations_invocation_changelist", "environment__id__exact"),
    ("admin:invocations_executionrecord_changelist", "kind"),
    ("admin:invocations_executionrecord_changelist", "condition"),
    ("admin:invocations_watchedqueue_changelist", "enabled__exact"),
    ("admin:invocations_auditevent_changelist", "actor_name"),
    ("admin:invocations_auditevent_changelist", "target_type"),
    ("admin:invocations_auditevent_changelist", "action"),
    ("admin:alerts_notification_changelist", "status"),
    ("admin:alerts_notification_changelist", "channel__id__exact"),
]


@pytest.fixture
def record(db):
    return factories.failure_record()


@pytest.mark.parametrize(
    "url",
    [
        f"/?env=prod{NUL}",
        f"/records/?q=a{NUL}b",
        f"/requests/abc{NUL}/",
        f"/functions/orders{NUL}/",
        "/records/changes/?cursor=²",
        "/records/changes/?cursor=١٢",
        "/export/records.csv?records=²",
        f"/export/records.csv?records={2**64}",
        f"/export/records.csv?records={2**63}&records=1",
        "/records/?per_page=²",
        "/alerts/deliveries/?before=²",
        f"/alerts/deliveries/?before={2**70}",
        "/functions/orders/?template=²&from=١٢",
        f"/functions/orders/?from={2**64}",
    ],
)
def test_a_hostile_parameter_or_path_is_never_a_5xx(client, admin_user, record, url):
    client.force_login(admin_user)

    response = client.get(url)

    assert response.status_code < 500, url


@pytest.mark.parametrize(("name", "param"), ADMIN_FILTERS)
def test_a_nul_or_odd_digits_in_an_admin_list_filter_is_never_a_5xx(
    client, admin_user, record, name, param
):
    client.force_login(admin_user)

    for value in (f"x{NUL}", "²", str(2**64)):
        response = client.get(reverse(name), {param: value})

        assert response.status_code < 500, (name, param, value)


def test_a_nul_in_a_posted_field_is_a_400(client, alice, record):
    client.force_login(alice)

    response = client.post("/records/", {"q": f"a{NUL}"})

    assert response.status_code == 400
