"""Settings of the processes on the hosts (tests/hosts/cluster.py): production's, read from the
same environment variables, with two changes a test cannot do without. A worker cut off from
Redis comes back with its unacknowledged tasks after the broker's visibility timeout, an hour in
production (longer than the longest invoke); here BROKER_VISIBILITY_TIMEOUT seconds, so that a
scenario ends in minutes. Static files are collected into the run's folder, not the project's."""

import os

from dashboard.settings import *  # noqa: F403

CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "visibility_timeout": float(os.environ["BROKER_VISIBILITY_TIMEOUT"]),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    # A worker that lost Redis while it held the restore lock would block restores for its
    # default five minutes.
    "unacked_mutex_expire": 10,
}
STATIC_ROOT = os.environ["STATIC_ROOT"]
