"""Inventory changes made the way the checkout services make them, for tests of readers.

Each helper changes ``SeatInventory``/``Hold``/``Order`` rows into a state the CHECK
constraints accept, bumps the event's inventory version in the same transaction, and then
runs the after-commit hook (``seats_changed``) as the services register it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from checkout.models import (
    Hold,
    HoldStatus,
    Order,
    OrderStatus,
    SeatInventory,
    SeatStatus,
    Ticket,
    TicketStatus,
)
from checkout.services import hooks
from checkout.services.versions import inventory_version_bump
from events.models import Event


def _after_commit(event_id: int, seat_ids: list[int]) -> None:
    hooks.seats_changed(event_id=event_id, seat_ids=seat_ids)


def seat_ids(event: Event, n: int | None = None, *, section_id: int | None = None) -> list[int]:
    qs = SeatInventory.objects.filter(event=event, status=SeatStatus.AVAILABLE)
    if section_id:
        qs = qs.filter(section_id=section_id)
    ids = list(qs.order_by("seat_id").values_list("seat_id", flat=True))
    return ids if n is None else ids[:n]


def hold(event: Event, seats: list[int], *, user, expires_at: dt.datetime | None = None) -> Hold:
    expires_at = expires_at or timezone.now() + dt.timedelta(minutes=5)
    with transaction.atomic():
        h = Hold.objects.create(event=event, user=user, expires_at=expires_at)
        n = SeatInventory.objects.filter(event=event, seat_id__in=seats, status=SeatStatus.AVAILABLE).update(
            status=SeatStatus.HELD, hold=h, hold_expires_at=expires_at
        )
        assert n == len(seats), "seats were not available"
        inventory_version_bump(event_id=event.pk)
    _after_commit(event.pk, seats)
    return h


def extend(h: Hold, *, expires_at: dt.datetime) -> None:
    with transaction.atomic():
        Hold.objects.filter(pk=h.pk).update(expires_at=expires_at)
        SeatInventory.objects.filter(hold=h).update(hold_expires_at=expires_at)
        inventory_version_bump(event_id=h.event_id)
    _after_commit(h.event_id, list(SeatInventory.objects.filter(hold=h).values_list("seat_id", flat=True)))


def _end_hold(h: Hold, status: str, now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    with transaction.atomic():
        seats = list(SeatInventory.objects.filter(hold=h).values_list("seat_id", flat=True))
        SeatInventory.objects.filter(hold=h).update(
            status=SeatStatus.AVAILABLE, hold=None, hold_expires_at=None, updated_at=now
        )
        Hold.objects.filter(pk=h.pk).update(status=status, ended_at=now)
        inventory_version_bump(event_id=h.event_id)
    _after_commit(h.event_id, seats)
    return seats


def release(h: Hold) -> list[int]:
    """The buyer lets the seats go."""
    return _end_hold(h, HoldStatus.RELEASED)


def sweep(h: Hold, *, now: dt.datetime) -> list[int]:
    """The sweeper retires a hold that expired (before this, its seats already count as free)."""
    assert h.expires_at <= now
    return _end_hold(h, HoldStatus.EXPIRED, now)


def purchase(h: Hold) -> Order:
    """Turn a hold into an order with one ticket per seat."""
    with transaction.atomic():
        rows = list(SeatInventory.objects.filter(hold=h).select_related("event"))
        order = Order.objects.create(
            event_id=h.event_id,
            user=h.user,
            hold=h,
            buyer_name="Buyer",
            buyer_email="buyer@example.com",
            total=Decimal("0"),
            currency="EUR",
        )
        for row in rows:
            ticket = Ticket.objects.create(
                order=order, event_id=h.event_id, seat_id=row.seat_id, section_id=row.section_id, price=0
            )
            SeatInventory.objects.filter(pk=row.pk).update(
                status=SeatStatus.SOLD, hold=None, hold_expires_at=None, order=order, ticket=ticket
            )
        Hold.objects.filter(pk=h.pk).update(status=HoldStatus.CONVERTED, ended_at=timezone.now())
        inventory_version_bump(event_id=h.event_id)
    _after_commit(h.event_id, [r.seat_id for r in rows])
    return order


def cancel(order: Order) -> list[int]:
    """Cancel an order: its tickets are void and its seats go back on sale."""
    with transaction.atomic():
        seats = list(SeatInventory.objects.filter(order=order).values_list("seat_id", flat=True))
        SeatInventory.objects.filter(order=order).update(status=SeatStatus.AVAILABLE, order=None, ticket=None)
        Ticket.objects.filter(order=order).update(status=TicketStatus.VOID)
        Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLED, cancelled_at=timezone.now())
        inventory_version_bump(event_id=order.event_id)
    _after_commit(order.event_id, seats)
    return seats
