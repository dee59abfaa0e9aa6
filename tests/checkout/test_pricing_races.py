"""Races on real PostgreSQL connections for caps and codes (checkout/services/pricing/): many
buyers at once never get more of a capped type, or more uses of a code, than there are."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from checkout import payments
from checkout.errors import CodeUsedUp
from checkout.models import Code, Order, SeatInventory, Ticket, TicketTypeCount
from checkout.services import pricing
from checkout.services.holds import hold_create
from checkout.services.orders import order_cancel, order_purchase
from tests.checkout.conftest import race, retry_busy, seat_ids
from tests.factories import UserFactory, make_code, make_event, make_ticket_type, make_venue

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]


def errors_of(results) -> Counter:
    return Counter(getattr(value, "code", type(value).__name__) for kind, value in results if kind == "error")


def oks(results) -> list:
    return [value for kind, value in results if kind == "ok"]


def _buy(hold):
    return order_purchase(
        user=hold.user,
        hold_id=hold.pk,
        buyer_name="B",
        buyer_email="b@example.com",
        card_number=payments.CARD_APPROVE,
        idempotency_key=f"buy-{hold.pk}",
    )


@pytest.fixture
def early_bird_event():
    """110 seats; an early bird (30.00) capped at 15 of which 5 are held: 10 left."""
    event = make_event(venue=make_venue(rows=11, seats_per_row=10))
    early = make_ticket_type(event, "Early bird", "30.00", quota=15)
    ids = seat_ids(event)
    hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[:5], ticket_type_id=early.id)
    return event, early, ids[5:]


def test_hundred_buyers_race_for_the_last_ten_early_birds(big_pool, early_bird_event):
    event, early, ids = early_bird_event
    users = [UserFactory() for _ in range(100)]
    results = race(
        [
            retry_busy(lambda u=u, s=s: hold_create(user=u, event_id=event.id, seat_ids=[s]))
            for u, s in zip(users, ids, strict=False)
        ]
    )
    assert len(oks(results)) == 100, errors_of(results)
    held = Counter(
        SeatInventory.objects.filter(
            event=event, status="held", hold_id__in=[h.pk for h in oks(results)]
        ).values_list("ticket_type_id", flat=True)
    )
    # Exactly the last ten as early birds; the default handed everyone else the next type.
    assert held == Counter({early.id: 10, None: 90})
    assert TicketTypeCount.objects.get(ticket_type=early).used == 15


def test_hundred_buyers_naming_the_early_bird_ten_get_it(big_pool, early_bird_event):
    event, early, ids = early_bird_event
    users = [UserFactory() for _ in range(100)]
    results = race(
        [
            retry_busy(
                lambda u=u, s=s: hold_create(user=u, event_id=event.id, seat_ids=[s], ticket_type_id=early.id)
            )
            for u, s in zip(users, ids, strict=False)
        ]
    )
    assert len(oks(results)) == 10
    assert errors_of(results) == Counter({"TYPE_SOLD_OUT": 90})
    assert SeatInventory.objects.filter(event=event, status="held", ticket_type=early).count() == 15
    assert TicketTypeCount.objects.get(ticket_type=early).used == 15


def test_fifty_buyers_race_a_twenty_use_promo_code(big_pool):
    event = make_event(venue=make_venue(rows=6, seats_per_row=10))
    make_code(event, "SAVE20", discount_kind="percent", discount_value=20, use_limit=20)
    ids = seat_ids(event)
    users = [UserFactory() for _ in range(50)]
    results = race(
        [
            retry_busy(
                lambda u=u, s=s: hold_create(user=u, event_id=event.id, seat_ids=[s], codes=["save20"])
            )
            for u, s in zip(users, ids, strict=False)
        ]
    )
    won = oks(results)
    assert len(won) == 20
    assert errors_of(results) == Counter({"CODE_USED_UP": 30})
    assert Code.objects.get(code="SAVE20").used == 20
    purchases = race([lambda h=h: _buy(h) for h in won])
    assert len(oks(purchases)) == 20, errors_of(purchases)
    discounted = Order.objects.filter(event=event, promo_code__code="SAVE20")
    assert discounted.count() == 20
    assert set(Ticket.objects.filter(order__in=discounted).values_list("discount", flat=True)) == {10}

    # A use released by cancelling an order can be used again, by exactly one of two racers.
    order_cancel(order_id=discounted.first().pk, actor=None)
    assert Code.objects.get(code="SAVE20").used == 19
    late = [UserFactory() for _ in range(2)]
    again = race(
        [
            retry_busy(
                lambda u=u, s=s: hold_create(user=u, event_id=event.id, seat_ids=[s], codes=["SAVE20"])
            )
            for u, s in zip(late, ids[50:52], strict=True)
        ]
    )
    assert len(oks(again)) == 1 and errors_of(again) == Counter({"CODE_USED_UP": 1})


def test_control_without_the_conditional_update_the_cap_is_oversold(monkeypatch, big_pool):
    """The same race with the counter read, then written (a barrier makes every buyer read before
    any writes): more early birds than the cap. This is what the conditional upsert prevents."""
    event = make_event()
    early = make_ticket_type(event, "Early bird", "30.00", quota=3)
    ids = seat_ids(event)
    hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[:1], ticket_type_id=early.id)
    buyers = 5
    everyone_read = threading.Barrier(buyers)

    def read_then_write(*, priced, catalog, taken, codes):
        for type_id, n in priced.capped.items():
            used = TicketTypeCount.objects.get(pk=type_id).used
            everyone_read.wait(timeout=30)
            if used + n > catalog.types[type_id].quota:
                return [type_id]
            TicketTypeCount.objects.filter(pk=type_id).update(used=used + n)
        return []

    monkeypatch.setattr(pricing.quotas, "quota_take", read_then_write)
    users = [UserFactory() for _ in range(buyers)]
    results = race(
        [
            lambda u=u, s=s: hold_create(user=u, event_id=event.id, seat_ids=[s], ticket_type_id=early.id)
            for u, s in zip(users, ids[1:], strict=False)
        ]
    )
    sold_as_early = SeatInventory.objects.filter(event=event, status="held", ticket_type=early).count()
    assert len(oks(results)) == buyers
    assert sold_as_early > early.quota  # the oversale the guard prevents


def test_control_without_the_conditional_update_a_code_is_overused(monkeypatch, big_pool):
    """The same for a promo code's uses: read, then write, and more buyers than its limit get it."""
    event = make_event()
    code = make_code(event, "TWICE", discount_value=10, use_limit=2)
    ids = seat_ids(event)
    buyers = 5
    everyone_read = threading.Barrier(buyers)

    def read_then_write(*, priced, catalog, taken, codes):
        for code_id in codes:
            found = Code.objects.get(pk=code_id)
            everyone_read.wait(timeout=30)
            if found.used >= found.use_limit:
                raise CodeUsedUp()
            Code.objects.filter(pk=code_id).update(used=found.used + 1)
        return []

    monkeypatch.setattr(pricing.quotas, "quota_take", read_then_write)
    users = [UserFactory() for _ in range(buyers)]
    results = race(
        [
            lambda u=u, s=s: hold_create(user=u, event_id=event.id, seat_ids=[s], codes=["twice"])
            for u, s in zip(users, ids, strict=False)
        ]
    )
    assert len(oks(results)) > code.use_limit  # the overuse the guard prevents
