import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard.env import env_bool, env_float, env_int, env_list


def test_it_reads_booleans_strictly(monkeypatch):
    monkeypatch.setenv("FLAG", "True")
    assert env_bool("FLAG", False) is True
    monkeypatch.setenv("FLAG", "off")
    assert env_bool("FLAG", True) is False

    monkeypatch.setenv("FLAG", "ture")

    with pytest.raises(ImproperlyConfigured, match="FLAG='ture' is not a boolean"):
        env_bool("FLAG", False)


def test_it_uses_the_default_for_an_unset_or_empty_variable(monkeypatch):
    monkeypatch.delenv("FLAG", raising=False)
    monkeypatch.setenv("COUNT", "")

    assert env_bool("FLAG", True) is True
    assert env_int("COUNT", 7) == 7


def test_it_rejects_numbers_that_are_not_numbers_or_too_small(monkeypatch):
    monkeypatch.setenv("COUNT", "ten")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("COUNT", 1)

    monkeypatch.setenv("COUNT", "0")
    with pytest.raises(ImproperlyConfigured, match="below its minimum of 1"):
        env_int("COUNT", 5, minimum=1)

    monkeypatch.setenv("RATE", "fast")
    with pytest.raises(ImproperlyConfigured, match="not a number"):
        env_float("RATE", 1.0)


def test_it_splits_lists_on_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , ,b.example")

    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def _start_django(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update(env, DJANGO_SETTINGS_MODULE="dashboard.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_start_without_a_secret_key_outside_debug():
    result = _start_django()

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_it_starts_without_a_secret_key_in_debug():
    result = _start_django(DJANGO_DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_it_starts_with_a_secret_key_and_debug_off():
    result = _start_django(DJANGO_SECRET_KEY="x" * 50)

    assert result.returncode == 0, result.stderr


def test_it_rejects_a_misspelt_debug_flag():
    result = _start_django(DJANGO_DEBUG="yes please")

    assert result.returncode != 0
    assert "DJANGO_DEBUG='yes please' is not a boolean" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update(
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        DJANGO_SECRET_KEY="a-Long-production-Secret-0123456789-with-Variety-xyz!",
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _installed_apps(**env) -> list[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DJANGO_") and k != "SANDBOX_ENABLED"
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="dashboard.settings", DJANGO_DEBUG="true")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(' '.join(settings.INSTALLED_APPS))",
        ],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_production_settings_leave_the_sandbox_out():
    assert "sandbox" not in _installed_apps()
    assert "sandbox" in _installed_apps(SANDBOX_ENABLED="true")


def test_an_sqlite_without_returning_is_refused_at_start(monkeypatch):
    import sqlite3

    from invocations.ops import checks

    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    monkeypatch.setattr(checks, "uses_sqlite", lambda: True)  # the suite also runs on PostgreSQL

    errors = checks.sqlite_has_returning()

    assert [error.id for error in errors] == ["invocations.E001"]
    assert "3.31.1 is too old" in errors[0].msg
