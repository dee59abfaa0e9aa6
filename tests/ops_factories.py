"""Consistent sold and held inventory built directly (the hold/purchase services land separately)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from checkout.models import Hold, HoldStatus, Order, SeatInventory, SeatStatus, Ticket
from tests.factories import UserFactory


def sell(rows: list[SeatInventory], *, user=None, price: str = "50.00", now=None) -> Order:
    """A paid order with one valid ticket per row; the rows become sold and point at them."""
    now = now or timezone.now()
    user = user or UserFactory()
    order = Order.objects.create(
        event_id=rows[0].event_id,
        user=user,
        buyer_name=user.name or "Buyer",
        buyer_email=user.email,
        total=Decimal(price) * len(rows),
        currency="EUR",
        created_at=now,
    )
    for row in rows:
        ticket = Ticket.objects.create(
            order=order,
            event_id=row.event_id,
            seat_id=row.seat_id,
            section_id=row.section_id,
            price=Decimal(price),
            created_at=now,
        )
        row.status, row.order, row.ticket = SeatStatus.SOLD, order, ticket
        row.save(update_fields=["status", "order", "ticket"])
    return order


def hold(rows: list[SeatInventory], *, user=None, expires_in=dt.timedelta(minutes=5), now=None) -> Hold:
    """A live hold on ``rows`` (status held, expiry copied onto the rows)."""
    now = now or timezone.now()
    h = Hold.objects.create(
        event_id=rows[0].event_id,
        user=user or UserFactory(),
        status=HoldStatus.ACTIVE,
        created_at=now,
        expires_at=now + expires_in,
    )
    for row in rows:
        row.status, row.hold, row.hold_expires_at = SeatStatus.HELD, h, h.expires_at
        row.save(update_fields=["status", "hold", "hold_expires_at"])
    return h


def raw(sql: str, params: list | None = None, *, bypass_constraints: bool = False) -> None:
    """Corrupt data on purpose. ``bypass_constraints`` disables FK triggers for this statement
    (``session_replication_role = replica``); CHECK and unique constraints still apply."""
    with transaction.atomic(), connection.cursor() as cursor:
        if bypass_constraints:
            # Fire the FK checks already queued (Django's FKs are deferred) while they still hold.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params or [])
        if bypass_constraints:
            cursor.execute("SET LOCAL session_replication_role = origin")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def inventory(event, n: int | None = None) -> list[SeatInventory]:
    rows = list(SeatInventory.objects.filter(event=event).order_by("id"))
    return rows if n is None else rows[:n]
