"""Pushes to websocket groups. Only services call this, and only after commit.

Groups (message types are documented in docs/realtime.md):
- ``event-<id>``: everyone viewing an event: seat status changes and section availability.
- ``user-<id>``: one signed-in user, every tab: waitlist joins, offers, lapses.
- ``waitlist-<event id>``: consumers of users waiting for that event: who left the line,
  so each consumer works out its own new position without a query.

Pushes are best effort: the change they announce has committed, so a failed push is
logged, never raised into the request that made the change. Seat-map pushes are gathered
per event for ``TICKETING_REALTIME_COALESCE_MS`` in each process (a burst of 200 holds is
a handful of messages) and carry the seats' state read at send time, so a late message
is never staler than the data.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)

# Leave room under NOTIFY's 8000 bytes for the layer's envelope and the group name.
MESSAGE_BUDGET_BYTES = 7000


def event_group(event_id: int) -> str:
    return f"event-{event_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def waitlist_group(event_id: int) -> str:
    return f"waitlist-{event_id}"


def push(group: str, message: dict[str, Any]) -> None:
    """Send one message to a group from sync code; logs instead of raising."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
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


def seat_messages(*, event_id: int, seat_ids: list[int], now=None) -> list[dict[str, Any]]:
    """Messages describing the current state of ``seat_ids`` and every section of the event."""
    from waitlist.selectors import seat_states, section_availability

    now = now or timezone.now()
    free, taken = seat_states(event_id=event_id, seat_ids=seat_ids, now=now)
    sections = section_availability(event_id=event_id, now=now)
    messages = []
    if free or taken:
        messages += split_message(
            {"type": "seats.update", "event_id": event_id, "free": free, "taken": taken}, ("free", "taken")
        )
    messages += split_message(
        {
            "type": "sections.update",
            "event_id": event_id,
            "sections": [[sid, s["free"], s["total"]] for sid, s in sections.items()],
        },
        ("sections",),
    )
    return messages


def seats_flush(event_id: int, seat_ids: set[int]) -> None:
    for message in seat_messages(event_id=event_id, seat_ids=sorted(seat_ids)):
        push(event_group(event_id), message)


class Coalescer:
    """Gathers seat ids per event and flushes each event once per ``interval`` seconds.

    One daemon thread per process, started on first use (and again in a forked child).
    With ``interval`` 0 every call flushes at once in the caller's thread.
    """

    def __init__(self, flush: Callable[[int, set[int]], None]) -> None:
        self.flush = flush
        self.pending: dict[int, set[int]] = {}
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    @property
    def interval(self) -> float:
        return settings.TICKETING_REALTIME_COALESCE_MS / 1000

    def add(self, event_id: int, seat_ids: list[int]) -> None:
        if self.interval <= 0:
            self.flush(event_id, set(seat_ids))
            return
        with self.cond:
            self.pending.setdefault(event_id, set()).update(seat_ids)
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, name="seat-push-coalescer", daemon=True)
                self.thread.start()
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.pending:
                    self.cond.wait()
            # Let the burst gather, then send what came in.
            time.sleep(self.interval)
            with self.cond:
                batch, self.pending = self.pending, {}
            for event_id, seat_ids in batch.items():
                try:
                    self.flush(event_id, seat_ids)
                except Exception:
                    logger.exception("Seat push for event %s failed.", event_id)
            # Hand this thread's connection back to the pool between bursts.
            connection.close()


_coalescer = Coalescer(lambda event_id, seat_ids: seats_flush(event_id, seat_ids))


def seats_changed(*, event_id: int, seat_ids: list[int]) -> None:
    """Tell viewers of ``event_id`` that these seats (``events.Seat`` ids) changed status.

    Called after commit. Returns at once; the message follows within the coalescing window.
    """
    if seat_ids:
        _coalescer.add(event_id, list(seat_ids))


def user_notify(*, user_id: int, message: dict[str, Any]) -> None:
    """Send ``message`` to every websocket of one user, at once (no coalescing)."""
    push(user_group(user_id), message)


def waitlist_moved(*, event_id: int, left_entry_ids: list[int]) -> None:
    """Entries left the line (offered, left): consumers behind them move up."""
    if left_entry_ids:
        for message in split_message(
            {"type": "waitlist.moved", "event_id": event_id, "left": sorted(left_entry_ids)}, ("left",)
        ):
            push(waitlist_group(event_id), message)
