"""Logging in, through the login page and the admin's alike.

django-axes counts failed logins per account (one count, whichever page they came from) and
refuses a locked account before its password is checked. Axes reads that count before the
password is checked and adds to it afterwards, so simultaneous wrong passwords for one account
all read the same count and are all checked (30 at once checked 22 passwords against a limit
of 5). The login forms therefore check one password at a time per account: the count each
attempt reads already includes every attempt before it."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import connection, transaction


@contextmanager
def one_check_at_a_time(username: str) -> Iterator[None]:
    """Holds a lock for this account until the attempt's outcome is written."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # A lock on the account's name, released at commit: other accounts never wait.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                    [f"login:{username}"],
                )
        # SQLite: the IMMEDIATE transaction mode (settings) takes the database's write lock when
        # the transaction begins, which serialises the attempts just the same.
        yield


class _OneCheckAtATime(AuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")[:150]
        refused = None
        with one_check_at_a_time(username):
            try:
                return super().clean()
            except ValidationError as error:
                # Leave the block normally, so that the failure axes wrote is committed.
                refused = error
        raise refused


class LoginForm(_OneCheckAtATime):
    pass


class AdminLoginForm(_OneCheckAtATime, AdminAuthenticationForm):
    pass
