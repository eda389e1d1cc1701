"""Who acts. Every use case that changes something takes an Actor instead of a web request, so
that a page, a command, a Celery task and a test call the same function the same way, and the
audit trail's "who, from where" is decided once, at the edge that knows it (the web edge builds
it from the request: invocations/middleware.py `actor_of`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


@dataclass(frozen=True)
class Actor:
    """A person (with the address and browser they acted from, when they acted through the
    web) or the system (beat, the worker, a command run without --user): `user` is None."""

    user: User | None = None
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def person(cls, user: User | AnonymousUser | None) -> Actor:
        """A person acting outside the web (a command's --user, the worker on their behalf).
        An anonymous or missing user is the system."""
        if user is None or not user.is_authenticated:
            return SYSTEM
        return cls(user=user)

    @property
    def name(self) -> str:
        return self.user.get_username() if self.user is not None else "system"

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None


SYSTEM = Actor()
