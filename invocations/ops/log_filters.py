"""Filters for the log configuration (dashboard/settings.py LOGGING)."""

import logging

from django.core.exceptions import PermissionDenied


class ForbiddenInOneLine(logging.Filter):
    """A 403 is an expected answer (a person without the permission), not a fault: Django's
    "Forbidden (Permission denied): /path" is kept, its traceback dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
