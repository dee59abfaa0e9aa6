"""API authentication: bearer tokens for scripts, the session (with CSRF) for browsers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from ticketing.errors import Forbidden
from ticketing.models import ApiToken


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        row = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=ApiToken.hash_key(token), user__is_active=True)
            .first()
        )
        if row is None:
            return None
        # Downstream code reads request.user whichever way the caller signed in.
        request.user = row.user
        return row.user


# Order matters: a request with a token never needs a CSRF check.
api_auth = [BearerToken(), SessionAuth()]


class OptionalAuth:
    """For public endpoints that behave a little differently for signed-in users."""

    def __call__(self, request: HttpRequest) -> Any:
        for backend in api_auth:
            try:
                user = backend(request)
            except Exception:  # a failed CSRF check on a GET just means "anonymous"
                user = None
            if user:
                return user
        request.user = getattr(request, "user", None) or AnonymousUser()
        return AnonymousUser()


def require_staff(request: HttpRequest) -> None:
    """Raise ``Forbidden`` unless the authenticated caller is staff."""
    user = getattr(request, "auth", None) or getattr(request, "user", None)
    if not (user and user.is_authenticated and user.is_staff):
        raise Forbidden("Staff only.")
