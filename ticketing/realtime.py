"""Pushes to websocket groups. Only services call this, and only after commit."""

from __future__ import annotations


def seats_changed(*, event_id: int, seat_ids: list[int]) -> None:
    """Tell viewers of ``event_id`` that these seats changed status (implemented with the waitlist issue)."""
    return None
