"""Settings of the processes the fault tests start (tests/processes.py): the test settings on the
test database (DATABASE_URL), and a broker visibility timeout the test chooses, so that a dead
worker's unacknowledged task comes back in seconds instead of an hour."""

import os

from dashboard.settings_test import *  # noqa: F403

if os.environ.get("BROKER_VISIBILITY_TIMEOUT"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
        "visibility_timeout": float(os.environ["BROKER_VISIBILITY_TIMEOUT"]),
        # Look for abandoned messages every second (kombu: interval × throttle).
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
