"""Inventory changes for tests of readers, made by the checkout services themselves.

Tests of the browse cache and of availability reads need holds, sales, releases, expiries
and cancellations in given states ("held until t"). These helpers make them through the real
services (row locks, the version bump, the audit row), then run the after-commit callbacks
the services registered (seat-map pushes, the sold-out flag), which a test inside a
rolled-back transaction would otherwise never see.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.test import TestCase
from django.utils import timezone

from checkout.models import Hold, Order, SeatInventory, SeatStatus
from checkout.payments import CARD_APPROVE
from checkout.services.holds import hold_create, hold_extend, hold_release, holds_expire_due
from checkout.services.orders import order_cancel, order_purchase
from events.models import Event

# A hold that starts already expired is made this long before its expiry.
PAST_HOLD = dt.timedelta(minutes=5)


def _committed():
    """Run the on-commit callbacks registered inside the block when it ends."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def seat_ids(event: Event, n: int | None = None, *, section_id: int | None = None) -> list[int]:
    qs = SeatInventory.objects.filter(event=event, status=SeatStatus.AVAILABLE)
    if section_id:
        qs = qs.filter(section_id=section_id)
    ids = list(qs.order_by("seat_id").values_list("seat_id", flat=True))
    return ids if n is None else ids[:n]


def hold(event: Event, seats: list[int], *, user, expires_at: dt.datetime | None = None) -> Hold:
    """Hold ``seats`` for ``user`` until ``expires_at`` (default: the configured hold time).

    An ``expires_at`` in the past makes a hold that expired and was not swept: it is created
    at a moment when it was still running.
    """
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        now = expires_at - PAST_HOLD
    duration = expires_at - now if expires_at is not None else None
    with _committed():
        return hold_create(user=user, event_id=event.pk, seat_ids=seats, duration=duration, now=now)


def extend(h: Hold) -> Hold:
    """The buyer asks for more time (``TICKETING_HOLD_EXTENSION_SECONDS``)."""
    with _committed():
        return hold_extend(user=h.user, hold_id=h.pk)


def release(h: Hold) -> None:
    """The buyer lets the seats go."""
    with _committed():
        hold_release(user=h.user, hold_id=h.pk)


def sweep(h: Hold, *, now: dt.datetime) -> None:
    """The sweeper retires holds that expired by ``now`` (their seats counted as free already)."""
    assert h.expires_at <= now
    with _committed():
        holds_expire_due(now=now)


def purchase(h: Hold) -> Order:
    """The buyer pays for the hold with the test provider's approving card."""
    with _committed():
        return order_purchase(
            user=h.user,
            hold_id=h.pk,
            buyer_name="Buyer",
            buyer_email="buyer@example.com",
            card_number=CARD_APPROVE,
            idempotency_key=str(uuid.uuid4()),
        )


def cancel(order: Order) -> None:
    """The buyer cancels: tickets void, refund, seats back on sale."""
    with _committed():
        order_cancel(order_id=order.pk, actor=order.user)
