"""What happens after inventory changes commit. Services register these with on_commit.

Kept as plain calls (no signals) so the path a request takes stays readable.
"""

from __future__ import annotations


def seats_changed(*, event_id: int, seat_ids: list[int]) -> None:
    """Announce new seat statuses to viewers of the event (after commit)."""
    from ticketing import realtime

    realtime.seats_changed(event_id=event_id, seat_ids=seat_ids)


def seats_released(*, event_id: int, seat_ids: list[int], reason: str) -> None:
    """Seats came back (expiry, release, cancellation, lapsed offer): offer them to the waitlist.

    Runs after the releasing transaction committed; the waitlist takes its own locks.
    """
    from waitlist import services as waitlist_services

    waitlist_services.waitlist_seats_released(event_id=event_id, seat_ids=seat_ids, reason=reason)
