"""Settings for the test suite: fast hashing, a throwaway database, no HTTPS redirects."""

import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DJANGO_SECURE_HTTPS", "false")
# The tests run the sandbox (and its management commands).
os.environ.setdefault("SANDBOX_ENABLED", "true")

from dashboard.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
THROTTLE_RETRY_BASE = 0.05
LIVE_POLL_SECONDS = 1
THROTTLE_RETRY_CAP = 0.2
ALERT_RETRY_BASE = 0.05
ALERT_RETRY_CAP = 0.2
ALERT_WEBHOOK_TIMEOUT = 2.0
DASHBOARD_BASE_URL = "https://triage.example.com"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the fault tests run the poller and a Celery worker as subprocesses on
    # the test database (tests/processes.py gives them its path).
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"lambda-triage-test-{os.getpid()}.sqlite3")
    }

# The in-process Celery worker of the broker tests runs tasks in threads that end with the test:
# a connection kept between tasks (CONN_MAX_AGE, as production keeps it) would be left open
# there, and psycopg warns when it is collected. Tests close it after every task instead.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
