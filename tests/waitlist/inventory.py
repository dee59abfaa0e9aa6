"""Inventory states for waitlist tests, made by checkout's own services.

Holds are taken with ``hold_create`` and ended with ``holds_end`` (what release, expiry and
the sweeper run), so the rows, versions and audit rows are exactly what production leaves.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from unittest import mock

from django.db import transaction
from django.utils import timezone

from checkout.models import Hold, HoldStatus, SeatInventory, SeatStatus
from checkout.services import hooks
from checkout.services.holds import hold_create, holds_end
from tests.factories import UserFactory


def rows(event, *labels: str) -> list[SeatInventory]:
    """Inventory rows by seat label ("A1", "B3"; row letter + seat label), in that order."""
    found = {
        f"{r.seat.row_label}{r.seat.label}": r
        for r in SeatInventory.objects.filter(event=event).select_related("seat")
    }
    return [found[label] for label in labels]


def hold_seats(event, seat_rows=None, *, user=None, expires_at=None) -> list[Hold]:
    """Hold seats through ``hold_create``: one hold of ``user`` on all ``seat_rows``, or (no
    user) one hold per seat for different buyers. Default rows: every free seat (sold out).

    ``expires_at`` in the past makes expired holds the sweeper has not reached yet.
    """
    now = timezone.now()
    duration = (expires_at or now + dt.timedelta(minutes=5)) - now
    if seat_rows is None:
        seat_rows = list(SeatInventory.objects.filter(event=event, status=SeatStatus.AVAILABLE))
    groups = [[r.seat_id for r in seat_rows]] if user else [[r.seat_id] for r in seat_rows]
    return [
        hold_create(user=user or UserFactory(), event_id=event.id, seat_ids=ids, duration=duration, now=now)
        for ids in groups
        if ids
    ]


def _end(hold_ids: set[int], *, status: str, reason: str, now: dt.datetime, offer_run: bool) -> None:
    # ``offer_run=False`` leaves the offer run to the test (it calls it itself, or races two).
    quiet = nullcontext() if offer_run else mock.patch.object(hooks, "seats_released", lambda **kw: None)
    with quiet, transaction.atomic():
        holds_end(hold_ids=hold_ids, status=status, now=now, reason=reason)


def free_seats(seat_rows, *, offer_run: bool = False) -> list[int]:
    """Release the holds of ``seat_rows`` (each must hold only seats among them) as the buyer
    would; returns the freed seat ids. After commit the seat map is told; the waitlist's
    offer run is left to the caller unless ``offer_run``."""
    hold_ids = {r.hold_id for r in seat_rows if r.hold_id}
    wanted = {r.pk for r in seat_rows}
    assert set(SeatInventory.objects.filter(hold_id__in=hold_ids).values_list("pk", flat=True)) <= wanted
    _end(hold_ids, status=HoldStatus.RELEASED, reason="released", now=timezone.now(), offer_run=offer_run)
    return sorted(r.seat_id for r in seat_rows)


def expire_hold(hold: Hold, *, offer_run: bool = False) -> list[int]:
    """What the sweeper does once ``hold`` is due: expire it and free its seats."""
    seat_ids = sorted(SeatInventory.objects.filter(hold=hold).values_list("seat_id", flat=True))
    hold.refresh_from_db()
    now = max(timezone.now(), hold.expires_at)
    _end({hold.pk}, status=HoldStatus.EXPIRED, reason="expired", now=now, offer_run=offer_run)
    return seat_ids
