"""Seat-map pushes: after a committed inventory change, viewers of the event learn which
seats changed and how many are left per section.

Pushes are gathered per event for ``TICKETING_REALTIME_COALESCE_MS`` in each process (a
burst of 200 holds is a handful of messages) and carry the seats' state read at send time,
so a late message is never staler than the data.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from checkout.selectors.availability import seat_states, section_availability
from ticketing.core import realtime

logger = logging.getLogger(__name__)


def seat_messages(*, event_id: int, seat_ids: list[int], now=None) -> list[dict[str, Any]]:
    """Messages describing the current state of ``seat_ids`` and every section of the event."""
    now = now or timezone.now()
    free, taken = seat_states(event_id=event_id, seat_ids=seat_ids, now=now)
    sections = section_availability(event_id=event_id, now=now)
    messages = []
    if free or taken:
        messages += realtime.split_message(
            {"type": "seats.update", "event_id": event_id, "free": free, "taken": taken}, ("free", "taken")
        )
    messages += realtime.split_message(
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
        realtime.push(realtime.event_group(event_id), message)


class Coalescer:
    """Gathers seat ids per event and flushes each event once per ``interval`` seconds.

    One daemon thread per process, started on first use (and again in a forked child).
    With ``interval`` 0 every call flushes at once in the caller's thread.
    """

    def __init__(self, flush: Callable[[int, set[int]], None], name: str = "seat-push-coalescer") -> None:
        self.flush = flush
        self.name = name
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
                self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
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
