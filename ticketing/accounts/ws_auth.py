"""The websocket auth stack: ``AuthMiddlewareStack`` without a thread hop for anonymous visitors.

Channels resolves ``scope["user"]`` through ``database_sync_to_async`` before the consumer
runs. Outside an HTTP request those calls share one thread per process, so during an
on-sale thousands of anonymous handshakes queued behind each other (and behind that
thread's database work) until daphne dropped them. A visitor without a session cookie is
anonymous without asking the database; only a session cookie costs the lookup.
"""

from __future__ import annotations

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib.auth.models import AnonymousUser


class SessionAuthMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope: dict) -> None:
        if scope["session"].session_key is None:
            scope["user"]._wrapped = AnonymousUser()
            return
        await super().resolve_scope(scope)


# Named like channels' AuthMiddlewareStack, which it replaces.
def WebsocketAuthStack(inner):
    return CookieMiddleware(SessionMiddleware(SessionAuthMiddleware(inner)))
