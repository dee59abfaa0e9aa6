"""Pushes: message splitting and user pushes (ticketing/core/realtime.py), seat-map messages and
their coalescing (checkout/services/announce.py)."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.utils import timezone

from checkout.services import announce
from tests.factories import make_event
from tests.waitlist.inventory import hold_seats, rows
from ticketing.core import realtime


def test_small_messages_are_not_split():
    message = {"type": "seats.update", "free": [1, 2], "taken": [3]}
    assert realtime.split_message(message, ("free", "taken")) == [message]


def test_big_seat_deltas_are_split_into_messages_that_fit_a_notification():
    message = {"type": "seats.update", "event_id": 1, "free": list(range(100000, 103000)), "taken": [7, 8]}

    parts = realtime.split_message(message, ("free", "taken"))

    assert len(parts) > 1
    assert all(len(json.dumps(p).encode()) <= realtime.MESSAGE_BUDGET_BYTES for p in parts)
    assert sorted(i for p in parts for i in p["free"]) == message["free"]
    assert sorted(i for p in parts for i in p["taken"]) == [7, 8]
    assert {p["event_id"] for p in parts} == {1}


@pytest.mark.django_db
def test_seat_messages_carry_current_state_and_section_availability(django_assert_max_num_queries):
    event = make_event()
    now = timezone.now()
    a1, a2, a3 = rows(event, "A1", "A2", "A3")
    hold_seats(event, [a1], expires_at=now + dt.timedelta(minutes=1))
    hold_seats(event, [a2], expires_at=now - dt.timedelta(seconds=1))  # expired: free
    section_id = event.venue.sections.get().id

    # Each process counts an event's seats per section once (fixed once on sale); every push
    # after that reads the changed seats and the taken rows per section.
    announce.seat_messages(event_id=event.id, seat_ids=[a3.seat_id], now=now)
    with django_assert_max_num_queries(2):
        messages = announce.seat_messages(
            event_id=event.id, seat_ids=[a1.seat_id, a2.seat_id, a3.seat_id], now=now
        )

    assert messages == [
        {
            "type": "seats.update",
            "event_id": event.id,
            "free": [a2.seat_id, a3.seat_id],
            "taken": [a1.seat_id],
        },
        {"type": "sections.update", "event_id": event.id, "sections": [[section_id, 9, 10]]},
    ]


def test_coalescer_turns_a_burst_into_one_flush_per_event(settings):
    settings.TICKETING_REALTIME_COALESCE_MS = 50
    flushed: list[tuple[int, set[int]]] = []
    done = threading.Event()

    def flush(event_id, seat_ids):
        flushed.append((event_id, seat_ids))
        if len(flushed) == 2:
            done.set()

    coalescer = announce.Coalescer(flush)
    # Holding the (re-entrant) lock keeps the flusher out until the whole burst is in,
    # however slow this machine is.
    with coalescer.cond:
        for seat_id in range(100):
            coalescer.add(1, [seat_id])
        coalescer.add(2, [5])

    assert done.wait(30)
    assert sorted(flushed, key=lambda f: f[0]) == [(1, set(range(100))), (2, {5})]


def test_coalescer_flushes_inline_when_disabled(settings):
    settings.TICKETING_REALTIME_COALESCE_MS = 0
    flushed = []
    announce.Coalescer(lambda e, s: flushed.append((e, s))).add(3, [1, 2])
    assert flushed == [(3, {1, 2})]


def test_a_failed_push_is_logged_not_raised(monkeypatch, caplog):
    class Broken:
        async def group_send(self, group, message):
            raise ConnectionError("database down")

    monkeypatch.setattr(realtime, "get_channel_layer", lambda: Broken())
    realtime.user_notify(user_id=1, message={"type": "waitlist.offer"})
    assert "Push to user-1 failed" in caplog.text
