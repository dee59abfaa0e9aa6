"""The websocket auth stack: ``AuthMiddlewareStack`` without a thread hop for anonymous visitors.

Channels resolves ``scope["user"]`` through ``database_sync_to_async`` before the consumer
runs. Outside an HTTP request those calls share one thread per process, so during an
on-sale thousands of anonymous handshakes queued behind each other (and behind that
thread's database work) until daphne dropped them. A visitor without a session cookie is
anonymous without asking the database; only a session cookie costs the lookup.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from channels import auth as channels_auth
from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib.auth.models import AnonymousUser
from django.db import connection


# Channels' ``get_user`` runs on the one thread per process that ``database_sync_to_async``
# shares: 2,000 buyers opening their sockets at an on-sale's opening waited for it one after
# the other (two queries each), and the handshakes that waited past daphne's connect timeout
# were dropped. Each lookup is independent (its own session, its own user): run them on the
# loop's thread pool instead, side by side.
def _user_of(scope: dict):
    try:
        return channels_auth.get_user.func(scope)
    finally:
        # Back to the pool: these threads serve whatever the loop hands them next.
        connection.close()


# Four at a time: each holds a pooled connection while it runs, and the pool is shared with the
# request threads (``TICKETING_MAX_CONCURRENT_REQUESTS``, below ``DB_POOL_MAX`` by this margin).
_get_user = database_sync_to_async(
    _user_of, thread_sensitive=False, executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="ws-auth")
)


class SessionAuthMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope: dict) -> None:
        if scope["session"].session_key is None:
            scope["user"]._wrapped = AnonymousUser()
            return
        scope["user"]._wrapped = await _get_user(scope)


# Named like channels' AuthMiddlewareStack, which it replaces.
def WebsocketAuthStack(inner):
    return CookieMiddleware(SessionMiddleware(SessionAuthMiddleware(inner)))
