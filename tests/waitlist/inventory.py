"""Inventory states for waitlist tests, written as checkout writes them (consistent rows).

Checkout's services are not on this branch yet; these put rows in the states its holds,
sweeper and cancellations leave behind.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from checkout.models import Hold, HoldStatus, SeatInventory, SeatStatus
from tests.factories import UserFactory


def rows(event, *labels: str) -> list[SeatInventory]:
    """Inventory rows by seat label ("A1", "B3"; row letter + seat label), in that order."""
    found = {
        f"{r.seat.row_label}{r.seat.label}": r
        for r in SeatInventory.objects.filter(event=event).select_related("seat")
    }
    return [found[label] for label in labels]


def hold_seats(event, seat_rows=None, *, user=None, expires_at=None) -> Hold:
    """A live regular hold on ``seat_rows`` (default: every seat, i.e. sold out)."""
    expires_at = expires_at or timezone.now() + dt.timedelta(minutes=5)
    hold = Hold.objects.create(event=event, user=user or UserFactory(), expires_at=expires_at)
    qs = SeatInventory.objects.filter(event=event)
    if seat_rows is not None:
        qs = qs.filter(pk__in=[r.pk for r in seat_rows])
    qs.update(status=SeatStatus.HELD, hold=hold, hold_expires_at=expires_at)
    return hold


def free_seats(seat_rows, *, hold_status: str = HoldStatus.RELEASED) -> list[int]:
    """Make rows available again as a release/expiry/cancellation would; returns their seat ids."""
    now = timezone.now()
    hold_ids = {r.hold_id for r in seat_rows if r.hold_id}
    SeatInventory.objects.filter(pk__in=[r.pk for r in seat_rows]).update(
        status=SeatStatus.AVAILABLE, hold=None, hold_expires_at=None, updated_at=now
    )
    for hold in Hold.objects.filter(pk__in=hold_ids):
        if not SeatInventory.objects.filter(hold=hold).exists():
            hold.status, hold.ended_at = hold_status, now
            hold.save()
    return sorted(r.seat_id for r in seat_rows)


def expire_hold(hold: Hold) -> list[int]:
    """What the sweeper does to an expired hold: its seats come back, the hold is expired."""
    return free_seats(list(SeatInventory.objects.filter(hold=hold)), hold_status=HoldStatus.EXPIRED)
