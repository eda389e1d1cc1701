import pytest

from invocations.models import AuditEvent


@pytest.mark.django_db
def test_it_audits_logins_failures_and_logouts(client, alice):
    client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    client.post("/accounts/login/", {"username": "alice", "password": "pw"})
    client.post("/accounts/logout/")

    logins = AuditEvent.objects.filter(action__startswith="log")
    actions = list(logins.order_by("id").values_list("action", "actor_name"))
    assert actions == [("login.failed", "system"), ("login", "alice"), ("logout", "alice")]
    failed = AuditEvent.objects.get(action="login.failed")
    assert failed.details == {"username": "alice"}
    assert failed.ip_address == "127.0.0.1"


@pytest.mark.django_db
def test_it_refuses_even_the_right_password_after_five_failures(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for _ in range(5):
        client.post("/accounts/login/", {"username": "alice", "password": "nope"})

    response = client.post("/accounts/login/", {"username": "alice", "password": "pw"})

    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_failures_for_another_account_do_not_lock_this_one(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(3):
        client.post("/accounts/login/", {"username": "mallory", "password": "nope"})

    client.post("/accounts/login/", {"username": "alice", "password": "pw"})

    assert client.session["_auth_user_id"] == str(alice.pk)


@pytest.mark.django_db
def test_giving_someone_the_admin_role_makes_them_staff(bob):
    from django.contrib.auth.models import Group

    bob.groups.add(Group.objects.get(name="Admin"))
    bob.refresh_from_db()
    assert bob.is_staff

    bob.groups.remove(Group.objects.get(name="Admin"))
    bob.refresh_from_db()
    assert not bob.is_staff
