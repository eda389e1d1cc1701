"""Logging filters for settings.LOGGING."""

import logging


class ForbiddenInOneLine(logging.Filter):
    """A 403 is a person without a permission, not a fault: Django logs it with the traceback of
    the PermissionDenied it caught, which buries real errors in the log. Keep the one line
    ("Forbidden (Permission denied): /groups/bulk/") and drop the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
