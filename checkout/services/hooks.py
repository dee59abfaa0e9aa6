"""What happens after inventory changes commit. Services register these with on_commit.

Kept as plain calls so the path a request takes stays readable. Two kinds:

* checkout's own reactions (refresh the sold-out summary, push the seat map): called directly;
* reactions of the apps above checkout (the waitlist offers released seats, settles a bought
  offer, closes its line when an event is cancelled). Checkout may not import them, so they
  subscribe once, by name, in their ``AppConfig.ready()`` (``waitlist/apps.py``): the one
  place to look for who listens. A failing subscriber is logged, never raised into the
  change that already committed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from checkout.services import announce
from checkout.services.sold_out import event_availability_refresh, event_is_sold_out

logger = logging.getLogger(__name__)

SEATS_RELEASED = "seats_released"
OFFER_BOUGHT = "offer_bought"
EVENT_CANCELLED = "event_cancelled"
ADMISSION_FREED = "admission_freed"
EVENT_SOLD_OUT = "event_sold_out"
_subscribers: dict[str, list[Callable[..., Any]]] = {
    SEATS_RELEASED: [],
    OFFER_BOUGHT: [],
    EVENT_CANCELLED: [],
    ADMISSION_FREED: [],
    EVENT_SOLD_OUT: [],
}


def subscribe(topic: str, fn: Callable[..., Any]) -> None:
    """Register ``fn`` for ``topic`` (idempotent). Called from an ``AppConfig.ready()``."""
    if fn not in _subscribers[topic]:
        _subscribers[topic].append(fn)


def _notify(topic: str, **kwargs: Any) -> list[Any]:
    results = []
    for fn in _subscribers[topic]:
        try:
            results.append(fn(**kwargs))
        except Exception:
            logger.exception("%s subscriber %s failed", topic, getattr(fn, "__qualname__", fn))
    return results


def _sold_out_refresh(event_id: int) -> None:
    try:
        if event_availability_refresh(event_id=event_id) and event_is_sold_out(event_id=event_id):
            event_sold_out(event_id=event_id)
    except Exception:
        # The buyer's change is already committed; failing their request now would lie to
        # them. The next inventory change of this event refreshes the flag again.
        logger.exception("sold-out refresh failed for event %s", event_id)


def seats_changed(*, event_id: int, seat_ids: list[int], sold_out_may_change: bool = True) -> None:
    """Refresh the event's sold-out summary (unless the change cannot have moved it) and
    announce new seat statuses (after commit)."""
    if sold_out_may_change:
        _sold_out_refresh(event_id)
    announce.seats_changed(event_id=event_id, seat_ids=seat_ids)


def hold_times_changed(*, event_id: int) -> None:
    """A hold's expiry moved (an extension): the sold-out summary's "until" may move with it.

    No seat changed status, so nothing is pushed to the seat map.
    """
    _sold_out_refresh(event_id)


def event_sold_out(*, event_id: int) -> None:
    """The event's sold-out flag just turned on (after commit): whoever waits for a turn is
    told at once and pointed at the sold-out waitlist."""
    _notify(EVENT_SOLD_OUT, event_id=event_id)


def seats_released(*, event_id: int, seat_ids: list[int], reason: str) -> None:
    """Seats came back (expiry, release, cancellation, lapsed offer): the waitlist's turn.

    Runs after the releasing transaction committed; subscribers take their own locks.
    """
    _notify(SEATS_RELEASED, event_id=event_id, seat_ids=seat_ids, reason=reason)


def offer_bought(*, event_id: int, hold_id: int) -> None:
    """A waitlist offer hold was bought (after commit): its entry is settled as fulfilled.

    The sale is committed; if a subscriber fails, the next offer run of the event settles it.
    """
    _notify(OFFER_BOUGHT, event_id=event_id, hold_id=hold_id)


def event_cancelled(*, event_id: int, reason: str, now: dt.datetime) -> int:
    """An event was cancelled and its holds ended: subscribers close what waits for it.

    Returns the sum of what subscribers report (entries closed). Unlike the after-commit
    topics, errors (``Busy``) reach the caller: cancelling is re-run until it is complete.
    """
    return sum(fn(event_id=event_id, reason=reason, now=now) or 0 for fn in _subscribers[EVENT_CANCELLED])


def admission_freed(*, event_id: int, room_changed: bool = False) -> None:
    """A waiting-room turn ended, or (``room_changed``) the room's limit, pause or switch changed
    (after commit): the queue admits the next buyers at once. If a subscriber fails, the queue's
    sweep admits."""
    _notify(ADMISSION_FREED, event_id=event_id, room_changed=room_changed)
