"""Waitlist writes."""

from __future__ import annotations


def waitlist_seats_released(*, event_id: int, seat_ids: list[int], reason: str) -> None:
    """Offer released seats to waiting buyers, first come first served (waitlist issue)."""
    return None
