"""One login throttle for every way in (/accounts/login/ and /admin/login/), counted so that
simultaneous wrong passwords cannot check more passwords than the limit allows."""

import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from django.contrib.auth.models import AbstractBaseUser

from invocations.models import AuditEvent

ACCOUNTS = "/accounts/login/"
ADMIN = "/admin/login/"


def _wrong(client, path, username="ada"):
    return client.post(path, {"username": username, "password": "wrong"})


@pytest.mark.django_db
def test_failures_on_the_admin_login_lock_the_account_on_both(client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for _ in range(5):
        _wrong(client, ADMIN)

    on_admin = client.post(ADMIN, {"username": "ada", "password": "pw"})
    on_accounts = client.post(ACCOUNTS, {"username": "ada", "password": "pw"})

    assert on_admin.status_code == 429
    assert on_accounts.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_failures_on_both_pages_add_up(client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 4
    _wrong(client, ADMIN)
    _wrong(client, ACCOUNTS)
    _wrong(client, ADMIN)
    _wrong(client, ACCOUNTS)

    response = client.post(ACCOUNTS, {"username": "ada", "password": "pw"})

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_lockout_is_a_clear_page_with_the_waiting_time(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    _wrong(client, ACCOUNTS, "alice")
    _wrong(client, ACCOUNTS, "alice")

    response = client.post(ACCOUNTS, {"username": "alice", "password": "pw"})

    body = response.content.decode()
    assert response.status_code == 429
    assert "Too many failed logins" in body
    assert "15 minutes" in body
    assert response["Content-Security-Policy"]
    locked = AuditEvent.objects.filter(action="login.failed").order_by("id").last()
    assert locked.details == {"username": "alice", "locked_out": True}


@pytest.mark.django_db
def test_a_successful_login_starts_the_count_again(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    _wrong(client, ACCOUNTS, "alice")
    _wrong(client, ACCOUNTS, "alice")
    client.post(ACCOUNTS, {"username": "alice", "password": "pw"})
    client.post("/accounts/logout/")

    _wrong(client, ACCOUNTS, "alice")
    _wrong(client, ACCOUNTS, "alice")
    client.post(ACCOUNTS, {"username": "alice", "password": "pw"})

    assert client.session["_auth_user_id"] == str(alice.pk)


class _PasswordChecks:
    """Counts the passwords really checked. Each check takes as long as a real hash would
    (the test settings use a fast hasher), so that simultaneous requests overlap."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        original = AbstractBaseUser.check_password

        def counting_check_password(user, raw_password):
            with self.lock:
                self.count += 1
            time.sleep(0.05)
            return original(user, raw_password)

        self.check_password = counting_check_password


def _login_page_session(base_url: str, path: str):
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base_url + path).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return opener, token


def _post_wrong_password(base_url: str, path: str, opener, token: str, statuses: list):
    data = urllib.parse.urlencode(
        {"username": "ada", "password": "wrong", "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(base_url + path, data=data, headers={"Referer": base_url})
    try:
        statuses.append(opener.open(request).status)
    except urllib.error.HTTPError as error:
        statuses.append(error.code)


@pytest.mark.django_db(transaction=True)
def test_thirty_simultaneous_wrong_logins_check_no_more_than_the_limit(
    live_server, admin_user, settings, monkeypatch
):
    settings.AXES_FAILURE_LIMIT = 5
    checks = _PasswordChecks()
    monkeypatch.setattr(AbstractBaseUser, "check_password", checks.check_password)
    sessions = [
        (path, *_login_page_session(live_server.url, path)) for path in [ACCOUNTS, ADMIN] * 15
    ]
    statuses: list[int] = []
    threads = [
        threading.Thread(
            target=_post_wrong_password, args=(live_server.url, path, opener, token, statuses)
        )
        for path, opener, token in sessions
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(statuses) == 30
    assert checks.count == 5, statuses
    assert statuses.count(429) >= 25
    assert 500 not in statuses
