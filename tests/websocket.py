"""Websocket test helpers: signed-in sockets on the real ASGI app and PostgreSQL channel layer."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from ticketing.config.asgi import application

WAIT = 30  # seconds: a deadline against hanging, not a timing assertion


def run(scenario) -> None:
    """Run an async scenario; the layer's listener is stopped on the scenario's own loop."""

    async def wrapper():
        try:
            await scenario()
        finally:
            await get_channel_layer().close()

    async_to_sync(wrapper)()


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def open_socket(event_id: int, *, user=None, origin: bytes = b"http://localhost", query: str = ""):
    headers = [(b"origin", origin)]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    socket = WebsocketCommunicator(application, f"/ws/events/{event_id}/{query}", headers=headers)
    connected, code = await socket.connect(timeout=WAIT)
    return socket, connected, code


async def listener_up() -> None:
    layer = get_channel_layer()
    for _ in range(WAIT * 20):
        if layer.status()["connected"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("channel layer listener did not connect")


async def receive(socket) -> dict:
    return await socket.receive_json_from(timeout=WAIT)


@database_sync_to_async
def after_commit(fn, *args, **kwargs):
    """Run a service in a worker thread; its on_commit pushes go out as in production."""
    return fn(*args, **kwargs)


def sorted_messages(*messages: dict) -> list[dict]:
    return sorted(messages, key=lambda m: json.dumps(m, sort_keys=True))


async def receive_many(socket, n: int) -> list[dict]:
    """``n`` messages, sorted: pushes of separate commits may arrive in either order."""
    return sorted_messages(*[await receive(socket) for _ in range(n)])


async def receive_type(socket, message_type: str) -> dict:
    """The next message of ``message_type``; seat-map pushes in between are skipped."""
    for _ in range(50):
        message = await receive(socket)
        if message["type"] == message_type:
            return message
    raise AssertionError(f"no {message_type} message among the next 50")
