"""API authentication: bearer tokens for scripts, the session (with CSRF) for browsers."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.translation import gettext
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from ticketing.core import sql
from ticketing.core.errors import Forbidden
from ticketing.models import ApiToken, User

# Every API call with a token runs this. Written out because compiling the equivalent ORM
# query (join, filter across it, ordering) cost more CPU than PostgreSQL spent running it,
# and was the largest single item in a checkout request's profile (docs/performance.md).
# Through ``ticketing.core.sql`` (a prepared statement), the user built straight from the row.
_USER_FIELDS = [f.attname for f in User._meta.concrete_fields]
TOKEN_USER_SQL = f"""
    SELECT {", ".join(f"u.{f.column}" for f in User._meta.concrete_fields)} FROM {User._meta.db_table} u
      JOIN {ApiToken._meta.db_table} t ON t.user_id = u.id
     WHERE t.key_hash = %s AND u.is_active
"""

# The same rule for many tokens at once (the event loop's batched waiting-room joins):
# ``(key_hash, user_id)`` of each token that signs in.
TOKEN_USERS_SQL = f"""
    SELECT t.key_hash, u.id FROM {User._meta.db_table} u JOIN {ApiToken._meta.db_table} t ON t.user_id = u.id
     WHERE t.key_hash = ANY(%(hashes)s) AND u.is_active
"""


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, as ``HttpBearer`` reads it."""
    if not header:
        return None
    parts = header.split(" ")
    if parts[0].lower() != "bearer":
        return None
    return " ".join(parts[1:])


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = sql.row(TOKEN_USER_SQL, [ApiToken.hash_key(token)])
        if found is None:
            return None
        user = User.from_db("default", _USER_FIELDS, found)
        # Downstream code reads request.user whichever way the caller signed in.
        request.user = user
        return user


class CookieSession(SessionAuth):
    """The browser's session; CSRF is checked only for a signed-in session.

    An anonymous caller, or one that offered a token, gets 401 UNAUTHENTICATED rather than a
    CSRF refusal: there is no session a forged request could ride on."""

    def __call__(self, request: HttpRequest) -> Any:
        if request.headers.get("Authorization"):
            return None
        user = getattr(request, "user", None)
        if not (user and user.is_authenticated):
            return None
        return super().__call__(request)

    def _get_key(self, request: HttpRequest) -> Any:
        try:
            return super()._get_key(request)
        except HttpError as exc:
            raise Forbidden(
                gettext("CSRF check failed; send the X-CSRFToken header."), code="CSRF_FAILED"
            ) from exc


# Order matters: a request with a token never needs a CSRF check.
api_auth = [BearerToken(), CookieSession()]


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
        raise Forbidden(gettext("Staff only."))
