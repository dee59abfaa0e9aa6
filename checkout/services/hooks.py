"""What happens after inventory changes commit. Services register these with on_commit.

Kept as plain calls (no signals) so the path a request takes stays readable.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def _sold_out_refresh(event_id: int) -> None:
    from events.services import event_availability_refresh

    try:
        event_availability_refresh(event_id=event_id)
    except Exception:
        # The buyer's change is already committed; failing their request now would lie to
        # them. The next inventory change of this event refreshes the flag again.
        logger.exception("sold-out refresh failed for event %s", event_id)


def seats_changed(*, event_id: int, seat_ids: list[int]) -> None:
    """Refresh the event's sold-out summary and announce new seat statuses (after commit)."""
    from ticketing import realtime

    _sold_out_refresh(event_id)
    realtime.seats_changed(event_id=event_id, seat_ids=seat_ids)


def hold_times_changed(*, event_id: int) -> None:
    """A hold's expiry moved (an extension): the sold-out summary's "until" may move with it.

    No seat changed status, so nothing is pushed to the seat map.
    """
    _sold_out_refresh(event_id)


def seats_released(*, event_id: int, seat_ids: list[int], reason: str) -> None:
    """Seats came back (expiry, release, cancellation, lapsed offer): offer them to the waitlist.

    Runs after the releasing transaction committed; the waitlist takes its own locks.
    """
    from waitlist import services as waitlist_services

    waitlist_services.waitlist_seats_released(event_id=event_id, seat_ids=seat_ids, reason=reason)


def offer_bought(*, event_id: int, hold_id: int) -> None:
    """A waitlist offer hold was bought: settle its entry as fulfilled (after commit).

    The sale is committed; if this fails, the next offer run of the event settles the entry.
    """
    from waitlist import services as waitlist_services

    try:
        waitlist_services.waitlist_offers_settle(event_id=event_id)
    except Exception:
        logger.exception("settling the waitlist offer of hold %s failed", hold_id)
