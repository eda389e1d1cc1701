"""Settings for the test suite: fast hashing, a throwaway database, no HTTPS redirects."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DJANGO_SECURE_HTTPS", "false")

from dashboard.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
THROTTLE_RETRY_BASE = 0.05
THROTTLE_RETRY_CAP = 0.2
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
