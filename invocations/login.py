"""Login with throttling: after repeated failures for one username, refuse for a while.

The failures are counted from the audit trail, which already records each one, so the limit
holds across processes and machines without another store."""

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from invocations.models import AuditEvent


def recent_failures(username: str) -> int:
    since = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    return AuditEvent.objects.filter(
        action="login.failed", created_at__gte=since, details__username=username
    ).count()


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = (self.cleaned_data.get("username") or "")[:150]
        if username and recent_failures(username) >= settings.LOGIN_FAILURE_LIMIT:
            minutes = settings.LOGIN_FAILURE_WINDOW_SECONDS // 60
            raise forms.ValidationError(
                f"Too many failed attempts for this account. Try again in {minutes} minutes.",
                code="throttled",
            )
        return super().clean()
