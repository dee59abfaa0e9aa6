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


def _same_key_purchases(n: int, *, delay_ms: int, settings, record_first: bool = False):
    from checkout.models import IdempotencyRecord
    from checkout.services.orders import request_hash

    settings.TICKETING_TEST_PAYMENT_DELAY_MS = delay_ms
    event = make_event()
    user = UserFactory()
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2])
    if record_first:  # else the first insert makes the others wait, whatever the locks
        digest = request_hash(
            hold_id=hold.pk, buyer_name="B", buyer_email="b@example.com", card_number=payments.CARD_APPROVE
        )
        IdempotencyRecord.objects.create(user=user, key="double-click", request_hash=digest)

    def submit():
        return order_purchase(
            user=user,
            hold_id=hold.pk,
            buyer_name="B",
            buyer_email="b@example.com",
            card_number=payments.CARD_APPROVE,
            idempotency_key="double-click",
        )

    return race([submit] * n)


def _one_order_one_charge(results) -> list[str]:
    """What the same-key contract says, as a list of the broken parts (empty when it holds)."""
    broken = []
    answers = {(kind, value.pk if kind == "ok" else type(value).__name__) for kind, value in results}
    if len(answers) != 1 or next(iter(answers))[0] != "ok":
        broken.append(f"answers differ: {sorted(map(str, answers))}")
    if Order.objects.count() != 1:
        broken.append(f"{Order.objects.count()} orders")
    charges = Payment.objects.filter(kind="charge", status="approved").count()
    books = payments.payment_provider().transactions(
        since=timezone.now() - dt.timedelta(hours=1), until=timezone.now() + dt.timedelta(hours=1)
    )
    provider_charges = sum(1 for r in books if r.kind == "charge" and r.status == "approved")
    if charges != 1 or provider_charges != 1:
        broken.append(f"{charges} charges in our books, {provider_charges} at the provider")
    if Payment.objects.filter(kind="refund").exists() or any(r.kind == "refund" for r in books):
        broken.append("refunded")
    return broken


@pytest.mark.parametrize("delay_ms", [0, 50])
def test_same_key_purchases_at_once_make_one_order_and_one_charge(big_pool, settings, delay_ms):
    """Issue 15: begin locked record then hold, complete hold then record: they deadlocked,
    one answered 503 and was refunded. One lock order now (docs/payments.md)."""
    results = _same_key_purchases(12, delay_ms=delay_ms, settings=settings)
    assert _one_order_one_charge(results) == []


def test_control_same_key_purchases_without_the_locks_break_the_contract(big_pool, settings, monkeypatch):
    """The same race with the record and hold locks reduced to plain reads: every request sees
    the hold unpaid and starts its own payment, and the contract check above catches it."""
    from checkout.services import orders

    n = 4
    everyone_read = threading.Barrier(n)
    first_look = threading.local()

    def read_record(qs):
        return qs.order_by("pk").first()

    def read_hold(user, hold_id):
        hold = Hold.objects.get(pk=hold_id, user=user)
        if not getattr(first_look, "done", False):  # later looks (waiting for the outcome) go on
            first_look.done = True
            everyone_read.wait(timeout=30)
        return hold

    monkeypatch.setattr(orders, "lock_one", read_record)
    monkeypatch.setattr(orders, "hold_lock_own", read_hold)
    results = _same_key_purchases(n, delay_ms=0, settings=settings, record_first=True)
    broken = _one_order_one_charge(results)
    assert broken != []
