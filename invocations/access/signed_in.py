"""The type of a request that reached a view: the login middleware sends anonymous users to the
login page first, so its user is always a signed-in User."""

from django.contrib.auth.models import User
from django.http import HttpRequest


class SignedInRequest(HttpRequest):
    """For annotations only: views still receive Django's own request objects."""

    user: User
