"""Races on real PostgreSQL connections: many buyers at once never get one seat twice."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from django.utils import timezone

from checkout import payments
from checkout.errors import HoldExpired, PurchaseInProgress, SeatsUnavailable
from checkout.models import Hold, HoldStatus, Order, Payment, SeatInventory, Ticket
from checkout.services import holds
from checkout.services.holds import hold_create
from checkout.services.orders import order_purchase
from events.services.venues import SectionSpec
from tests.checkout.conftest import race, retry_busy, seat_ids
from tests.factories import UserFactory, make_event, make_venue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]


def errors_of(results) -> Counter:
    return Counter(type(value).__name__ for kind, value in results if kind == "error")


def oks(results) -> list:
    return [value for kind, value in results if kind == "ok"]


def test_ten_buyers_one_seat(big_pool):
    event = make_event()
    seat = seat_ids(event)[0]
    users = [UserFactory() for _ in range(10)]
    results = race([lambda u=u: hold_create(user=u, event_id=event.id, seat_ids=[seat]) for u in users])
    assert len(oks(results)) == 1
    assert errors_of(results) == Counter({"SeatsUnavailable": 9})
    assert all(v.extra["seat_ids"] == [seat] for k, v in results if k == "error")
    row = SeatInventory.objects.get(event=event, seat_id=seat)
    assert row.hold_id == oks(results)[0].pk
    assert Hold.objects.count() == 1


def test_control_without_row_locks_the_race_happens(monkeypatch, big_pool):
    """Same race with the lock helper reduced to a plain read: several buyers 'win' one seat.

    A barrier after the read makes every buyer read before any writes, so the lost update is
    certain, not left to timing: this is what the row lock in the real test prevents.
    """
    event = make_event()
    seat = seat_ids(event)[0]
    users = [UserFactory() for _ in range(5)]
    everyone_read = threading.Barrier(len(users))
    real_lock_rows = holds.lock_rows

    def no_lock(qs, **kwargs):
        if qs.model is not SeatInventory:
            return real_lock_rows(qs, **kwargs)
        rows = list(qs.order_by("pk"))
        everyone_read.wait(timeout=30)
        return rows

    monkeypatch.setattr(holds, "lock_rows", no_lock)
    results = race([lambda u=u: hold_create(user=u, event_id=event.id, seat_ids=[seat]) for u in users])
    winners = oks(results)
    assert len(winners) > 1  # the double sale that locking prevents
    row = SeatInventory.objects.get(event=event, seat_id=seat)
    assert sum(1 for h in winners if h.pk != row.hold_id) >= 1  # buyers told "held" who hold nothing


def test_hundred_buyers_fifty_seats_then_fifty_purchases(big_pool):
    venue = make_venue(sections=[SectionSpec(name="Block", rows=[(r, 10) for r in "ABCDE"])])
    event = make_event(venue=venue)
    section_id = venue.sections.get().id
    users = [UserFactory() for _ in range(100)]
    results = race(
        [
            retry_busy(lambda u=u: hold_create(user=u, event_id=event.id, section_id=section_id, quantity=1))
            for u in users
        ]
    )
    won = oks(results)
    assert len(won) == 50
    assert errors_of(results) == Counter({"SeatsUnavailable": 50})
    # Nobody heard "sold out" while seats were free: every refusal saw zero free seats.
    assert all(v.extra["available"] == 0 for k, v in results if k == "error")
    held = SeatInventory.objects.filter(event=event, status="held")
    assert held.count() == 50 and len({r.hold_id for r in held}) == 50

    purchases = race(
        [
            lambda h=h: order_purchase(
                user=h.user,
                hold_id=h.pk,
                buyer_name="B",
                buyer_email="b@example.com",
                card_number=payments.CARD_APPROVE,
                idempotency_key=f"buy-{h.pk}",
            )
            for h in won
        ]
    )
    assert len(oks(purchases)) == 50, errors_of(purchases)
    assert Order.objects.count() == 50
    tickets = Ticket.objects.filter(event=event, status="valid")
    assert tickets.count() == 50 and len(set(tickets.values_list("seat_id", flat=True))) == 50
    assert SeatInventory.objects.filter(event=event, status="sold").count() == 50


def test_overlapping_requests_in_opposite_orders(big_pool):
    event = make_event(venue=make_venue(rows=1, seats_per_row=8))
    ids = seat_ids(event)
    requests = []
    for i in range(16):
        block = ids[i % 5 : i % 5 + 4]
        requests.append(block if i % 2 else list(reversed(block)))
    users = [UserFactory() for _ in requests]
    results = race(
        [
            lambda u=u, r=r: hold_create(user=u, event_id=event.id, seat_ids=r)
            for u, r in zip(users, requests, strict=True)
        ]
    )
    # Only "unavailable" refusals: no deadlock, no lock timeout, no integrity error.
    assert set(errors_of(results)) <= {"SeatsUnavailable"}
    held = Counter(SeatInventory.objects.filter(event=event, status="held").values_list("hold_id", flat=True))
    for hold in oks(results):
        assert held[hold.pk] == 4  # all or nothing
    assert len(oks(results)) >= 1
    assert sum(held.values()) == 4 * len(oks(results))


def test_double_submitted_purchase_charges_once(big_pool, settings):
    settings.TICKETING_TEST_PAYMENT_DELAY_MS = 300  # both requests overlap the charge
    event = make_event()
    user = UserFactory()
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2])

    def submit():
        return order_purchase(
            user=user,
            hold_id=hold.pk,
            buyer_name="B",
            buyer_email="b@example.com",
            card_number=payments.CARD_APPROVE,
            idempotency_key="one-key",
        )

    results = race([submit, submit, submit])
    orders = {o.pk for o in oks(results)}
    assert len(orders) == 1 and set(errors_of(results)) <= {"PurchaseInProgress"}
    assert Order.objects.count() == 1
    assert Payment.objects.filter(kind="charge").count() == 1


@pytest.mark.parametrize("attempt", range(3))
def test_purchase_racing_the_sweeper_at_the_expiry_instant(big_pool, attempt):
    event = make_event()
    user = UserFactory()
    start = timezone.now()
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2], now=start)
    instant = hold.expires_at

    def purchase():
        return order_purchase(
            user=user,
            hold_id=hold.pk,
            buyer_name="B",
            buyer_email="b@example.com",
            card_number=payments.CARD_APPROVE,
            idempotency_key="k",
            now=instant - dt.timedelta(microseconds=1),
        )

    results = race([purchase, lambda: holds.holds_expire_due(now=instant)])
    hold.refresh_from_db()
    rows = list(SeatInventory.objects.filter(event=event).exclude(status="available"))
    sold = Order.objects.filter(hold=hold).exists()
    if sold:
        assert hold.status == HoldStatus.CONVERTED
        assert {r.status for r in rows} == {"sold"} and len(rows) == 2
    else:
        assert hold.status == HoldStatus.EXPIRED
        assert rows == []
        assert isinstance(results[0][1], HoldExpired | PurchaseInProgress | SeatsUnavailable)
        approved = Payment.objects.filter(status="approved")
        assert approved.filter(kind="charge").count() == approved.filter(kind="refund").count()
    assert Ticket.objects.filter(status="valid").count() == (2 if sold else 0)


def test_lock_wait_is_bounded_and_busy_changes_nothing(settings, inventory_unchanged):
    from django.db import connection, transaction

    from ticketing.core.errors import Busy
    from ticketing.core.locks import lock_rows

    settings.TICKETING_LOCK_TIMEOUT_MS = 100
    event = make_event()
    seat = seat_ids(event)[0]
    user = UserFactory()
    locked, done = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                lock_rows(SeatInventory.objects.filter(event=event, seat_id=seat))
                locked.set()
                done.wait(timeout=30)
        finally:
            connection.close()

    blocker = threading.Thread(target=hold_the_row)
    blocker.start()
    try:
        assert locked.wait(timeout=30)
        with inventory_unchanged(), pytest.raises(Busy) as exc:
            hold_create(user=user, event_id=event.id, seat_ids=[seat])
        assert exc.value.headers["Retry-After"] == "1"
    finally:
        done.set()
        blocker.join()
    assert hold_create(user=user, event_id=event.id, seat_ids=[seat])
