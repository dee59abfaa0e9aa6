"""Pushes to websocket groups, shared by every app. Only services call this, after commit.

Groups (message types are documented in docs/realtime.md):
- ``event-<id>``: everyone viewing an event: seat status changes and section availability.
- ``user-<id>``: one signed-in user, every tab: waitlist joins, offers, lapses.
- ``queue-<event id>``: the waiting room's pages of that event (no seat map): "now serving"
  and the queue closing.
- ``waitlist-<event id>``: consumers of users waiting for that event: who left the line,
  so each consumer works out its own new position without a query.

Pushes are best effort: the change they announce has committed, so a failed push is
logged, never raised into the request that made the change. What goes into the seat-map
messages is checkout's (``checkout.services.announce``); the waitlist's own messages are
the waitlist's.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# Leave room under NOTIFY's 8000 bytes for the layer's envelope and the group name.
MESSAGE_BUDGET_BYTES = 7000


def event_group(event_id: int) -> str:
    return f"event-{event_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def queue_group(event_id: int) -> str:
    return f"queue-{event_id}"


def waitlist_group(event_id: int) -> str:
    return f"waitlist-{event_id}"


def push(group: str, message: dict[str, Any]) -> None:
    """Send one message to a group from sync code; logs instead of raising."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        blocking = getattr(layer, "group_send_blocking", None)  # this project's layer
        if blocking is not None:
            blocking(group, message)
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("Push to %s failed (type %s).", group, message.get("type"))


def _size(message: dict[str, Any]) -> int:
    return len(json.dumps(message, separators=(",", ":")).encode())


def split_message(message: dict[str, Any], list_keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Split the lists under ``list_keys`` across as many messages as needed to fit the budget."""
    if _size(message) <= MESSAGE_BUDGET_BYTES:
        return [message]
    key = max(list_keys, key=lambda k: len(message.get(k) or []))
    items = message[key]
    if len(items) <= 1:
        raise ValueError(f"{message['type']} cannot be split to fit a notification.")
    half = len(items) // 2
    first = {**message, key: items[:half]}
    second = {**message, key: items[half:]}
    for other in list_keys:
        if other != key:
            # Each other list goes with exactly one half, so nothing is sent twice.
            second[other] = []
    return split_message(first, list_keys) + split_message(second, list_keys)


def user_notify(*, user_id: int, message: dict[str, Any]) -> None:
    """Send ``message`` to every websocket of one user, at once (no coalescing)."""
    push(user_group(user_id), message)
