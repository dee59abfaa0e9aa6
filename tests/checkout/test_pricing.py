"""checkout/services/pricing/: types, caps, codes and fees fixed on the held seats, and what the
order, its cancellation and its refund make of them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from checkout import payments
from checkout.errors import (
    CodeInvalid,
    CodeUsedUp,
    EventNotOnSale,
    PerOrderMax,
    TypeNotOnSale,
    TypeSoldOut,
)
from checkout.models import Code, Payment, SeatInventory, Ticket, TicketTypeCount
from checkout.services import pricing
from checkout.services.holds import hold_create, hold_release, holds_expire_due
from checkout.services.orders import order_cancel, order_purchase
from events.services.venues import SectionSpec
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_code, make_event, make_ticket_type, make_venue, staff_user
from ticketing.core.errors import ValidationFailed
from ticketing.core.venue_time import venue_localize

pytestmark = pytest.mark.django_db


def buy(user, hold, key="k1"):
    return order_purchase(
        user=user,
        hold_id=hold.pk,
        buyer_name="Ada Buyer",
        buyer_email="ada@example.com",
        card_number=payments.CARD_APPROVE,
        idempotency_key=key,
    )


def lines(hold):
    return list(
        SeatInventory.objects.filter(hold=hold)
        .order_by("seat_id")
        .values_list("ticket_type__name", "price", "discount", "fee")
    )


# --- money ---------------------------------------------------------------------------------


def test_minor_units_round_half_up_and_back():
    assert pricing.to_minor(Decimal("12.345")) == 1235
    assert pricing.to_minor("0.005") == 1
    assert pricing.from_minor(1235) == Decimal("12.35")
    assert pricing.percent_of(3333, Decimal("15")) == 500  # 499.95 -> 500
    assert pricing.percent_of(3330, Decimal("15")) == 500  # 499.5 -> 500 (half up)
    assert pricing.percent_of(3329, Decimal("15")) == 499  # 499.35


@pytest.mark.parametrize(
    ("total", "weights"),
    [
        (1000, [3333, 3333, 3334]),
        (1, [100, 100, 100]),
        (999, [1, 2, 3, 4]),
        (500, [0, 700, 300]),
        (0, [5, 5]),
    ],
)
def test_allocate_sums_exactly_and_follows_the_weights(total, weights):
    parts = pricing.allocate(total, weights)
    assert sum(parts) == total
    assert all(p == 0 for p, w in zip(parts, weights, strict=True) if w == 0)
    for p, w in zip(parts, weights, strict=True):
        assert abs(p - total * w / sum(weights)) < 1


def test_codes_are_case_insensitive_and_checked_before_anything_is_written():
    assert pricing.code_normalise("  early-Bird ") == "EARLY-BIRD"
    with pytest.raises(ValidationFailed):
        pricing.choice_validate(codes=["bad code!"])
    with pytest.raises(ValidationFailed):
        pricing.choice_validate(codes=["A" * 41])
    with pytest.raises(ValidationFailed):
        pricing.choice_validate(codes=["A", "B", "C"])


# --- types at hold time ----------------------------------------------------------------------


@pytest.fixture
def event(db):
    """One section, rows A and B of 5 seats; standard price 50.00."""
    return make_event()


def test_standard_price_and_fees_are_fixed_on_the_held_seats(user):
    event = make_event(service_fee=Decimal("1.50"), order_fee=Decimal("2.00"))
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2])
    assert lines(hold) == [(None, Decimal("50.00"), 0, Decimal("1.50"))] * 2
    assert hold.order_fee == Decimal("2.00")
    order = buy(user, hold)
    assert order.total == Decimal("105.00") and order.order_fee == Decimal("2.00")
    assert {(t.price, t.discount, t.fee, t.ticket_type_id) for t in Ticket.objects.filter(order=order)} == {
        (Decimal("50.00"), 0, Decimal("1.50"), None)
    }
    assert Payment.objects.get(order=order, kind="charge").amount == Decimal("105.00")


def test_default_is_the_cheapest_type_on_sale_then_the_next_takes_over(event):
    early = make_ticket_type(event, "Early bird", "30.00", quota=3)
    make_ticket_type(event, "Premium", "80.00")
    ids = seat_ids(event)
    first = hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[:2])
    assert [name for name, *_ in lines(first)] == ["Early bird"] * 2
    # One early bird left: the second seat of this hold takes the next cheapest (standard).
    second = hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[2:4])
    assert sorted(str(name) for name, *_ in lines(second)) == ["Early bird", "None"]
    assert TicketTypeCount.objects.get(ticket_type=early).used == 3
    third = hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[4:5])
    assert lines(third) == [(None, Decimal("50.00"), 0, 0)]
    # Named explicitly, a sold-out type is refused, and nothing is written.
    with pytest.raises(TypeSoldOut):
        hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[5:6], ticket_type_id=early.id)
    assert SeatInventory.objects.filter(seat_id=ids[5], status="held").count() == 0
    # Released early birds return to the cap, and become the default again.
    hold_release(user=first.user, hold_id=first.pk)
    assert TicketTypeCount.objects.get(ticket_type=early).used == 1
    again = hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[5:6])
    assert [name for name, *_ in lines(again)] == ["Early bird"]


def test_early_bird_ends_at_its_date(event):
    now = timezone.now().replace(microsecond=0)
    ends = now + dt.timedelta(hours=1)
    early = make_ticket_type(event, "Early bird", "30.00", sales_end=ends)
    ids = seat_ids(event)
    before = hold_create(
        user=UserFactory(), event_id=event.id, seat_ids=ids[:1], now=ends - dt.timedelta(seconds=1)
    )
    assert lines(before)[0][0] == "Early bird"
    after = hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[1:2], now=ends)
    assert lines(after)[0][0] is None
    with pytest.raises(TypeNotOnSale):
        hold_create(
            user=UserFactory(), event_id=event.id, seat_ids=ids[2:3], now=ends, ticket_type_id=early.id
        )


def test_type_window_opens_on_the_second(event):
    now = timezone.now().replace(microsecond=0)
    starts = now + dt.timedelta(hours=1)
    late = make_ticket_type(event, "Late", "20.00", sales_start=starts)
    ids = seat_ids(event)
    with pytest.raises(TypeNotOnSale):
        hold_create(
            user=UserFactory(),
            event_id=event.id,
            seat_ids=ids[:1],
            ticket_type_id=late.id,
            now=starts - dt.timedelta(seconds=1),
        )
    hold = hold_create(
        user=UserFactory(), event_id=event.id, seat_ids=ids[:1], ticket_type_id=late.id, now=starts
    )
    assert lines(hold)[0][:2] == ("Late", Decimal("20.00"))


def test_a_type_cap_is_shared_across_sections(user):
    venue = make_venue(
        sections=[
            SectionSpec(name="Left", rows=[("A", 4)]),
            SectionSpec(
                name="Right", rows=[("A", 4)], geometry={"x": 600, "y": 0, "width": 300, "height": 200}
            ),
        ]
    )
    event = make_event(venue=venue)
    left, right = venue.sections.order_by("pk")
    child = make_ticket_type(event, "Child", prices={left.id: "20.00", right.id: "25.00"}, quota=3)
    hold_create(
        user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event, left.id)[:2], ticket_type_id=child.id
    )
    right_hold = hold_create(
        user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event, right.id)[:1], ticket_type_id=child.id
    )
    assert lines(right_hold)[0][:2] == ("Child", Decimal("25.00"))
    with pytest.raises(TypeSoldOut):
        hold_create(
            user=user, event_id=event.id, seat_ids=seat_ids(event, right.id)[1:2], ticket_type_id=child.id
        )
    assert TicketTypeCount.objects.get(ticket_type=child).used == 3


def test_per_order_maximum(event, user):
    vip = make_ticket_type(event, "VIP", "90.00", per_order_max=2)
    ids = seat_ids(event)
    with pytest.raises(PerOrderMax) as exc:
        hold_create(user=user, event_id=event.id, seat_ids=ids[:3], ticket_type_id=vip.id)
    assert exc.value.extra == {"ticket_type_id": vip.id, "max": 2}
    assert not SeatInventory.objects.filter(status="held").exists()
    hold = hold_create(
        user=user, event_id=event.id, seat_ids=ids[:3], ticket_types={ids[0]: vip.id, ids[1]: vip.id}
    )
    assert [name for name, *_ in lines(hold)] == ["VIP", "VIP", None]


def test_a_cheap_type_with_a_per_order_maximum_hands_the_rest_to_the_next(event, user):
    make_ticket_type(event, "Promo", "10.00", per_order_max=1)
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2])
    assert sorted(str(name) for name, *_ in lines(hold)) == ["None", "Promo"]


# --- event sales window ------------------------------------------------------------------------


def test_event_window_one_second_before_and_after_in_venue_time_across_dst(user):
    # Sales open at 03:00 Berlin on the night the clocks jump from 02:00 to 03:00 (CET -> CEST).
    # In UTC: arithmetic on a Berlin-aware datetime is wall-clock arithmetic, and 03:00 minus
    # one second would be 02:59:59, a time that does not exist that night (read as 01:59:59 UTC).
    opens = venue_localize(dt.datetime(2031, 3, 30, 3, 0), "Europe/Berlin").astimezone(dt.UTC)
    assert opens == dt.datetime(2031, 3, 30, 1, 0, tzinfo=dt.UTC)
    event = make_event(starts_at=dt.datetime(2031, 5, 1, 18, 0, tzinfo=dt.UTC), sales_open_at=opens)
    seat = seat_ids(event)[:1]
    with pytest.raises(EventNotOnSale) as exc:
        hold_create(user=user, event_id=event.id, seat_ids=seat, now=opens - dt.timedelta(seconds=1))
    assert exc.value.code == "EVENT_NOT_ON_SALE" and exc.value.status == 409
    assert "On sale from 2031-03-30 03:00 (+02:00 Europe/Berlin)" in str(exc.value.message)
    assert exc.value.extra["sales_open_at"] == opens.isoformat()
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat, now=opens)
    assert hold.pk


def test_event_window_closes_on_the_second_after_the_autumn_change(user):
    # 03:30 local on the night the clocks go back (after the repeated hour): CET, +01:00.
    closes = venue_localize(dt.datetime(2031, 10, 26, 3, 30), "Europe/Berlin").astimezone(dt.UTC)
    assert closes == dt.datetime(2031, 10, 26, 2, 30, tzinfo=dt.UTC)
    event = make_event(starts_at=dt.datetime(2031, 11, 1, 18, 0, tzinfo=dt.UTC), sales_close_at=closes)
    ids = seat_ids(event)
    hold_create(user=user, event_id=event.id, seat_ids=ids[:1], now=closes - dt.timedelta(seconds=1))
    with pytest.raises(Exception) as exc:
        hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[1:2], now=closes)
    assert exc.value.code == "SALES_CLOSED"


# --- presale codes -----------------------------------------------------------------------------


def test_presale_code_unlocks_a_hidden_type_case_insensitively(event, user):
    vip = make_ticket_type(event, "VIP", "120.00", visibility="presale")
    make_code(event, "VipFans", kind="presale", ticket_type_ids=[vip.id], use_limit=5)
    ids = seat_ids(event)
    with pytest.raises(TypeNotOnSale):
        hold_create(user=user, event_id=event.id, seat_ids=ids[:1], ticket_type_id=vip.id)
    # A hidden type is never the default of a buyer without the code.
    plain = hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[1:2])
    assert lines(plain)[0][0] is None
    hold = hold_create(
        user=user, event_id=event.id, seat_ids=ids[:1], ticket_type_id=vip.id, codes=[" vipfans"]
    )
    assert lines(hold)[0][:2] == ("VIP", Decimal("120.00"))
    assert hold.access_code.code == "VIPFANS" and Code.objects.get(code="VIPFANS").used == 1


def test_presale_code_buys_before_the_general_sale(user):
    now = timezone.now().replace(microsecond=0)
    event = make_event(sales_open_at=now + dt.timedelta(days=1))
    make_code(event, "EARLY", kind="presale", valid_from=now - dt.timedelta(hours=1))
    with pytest.raises(EventNotOnSale):
        hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1], now=now)
    with pytest.raises(CodeInvalid):
        hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1], now=now, codes=["NOPE"])
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1], now=now, codes=["early"])
    assert lines(hold)[0][0] is None


def test_codes_outside_their_window_are_invalid(event, user):
    now = timezone.now().replace(microsecond=0)
    make_code(event, "LATER", valid_from=now + dt.timedelta(seconds=1), discount_value=10)
    make_code(event, "GONE", valid_until=now, discount_value=10)
    for code in ("LATER", "GONE", "OTHER"):
        with pytest.raises(CodeInvalid):
            hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1], now=now, codes=[code])
    assert not SeatInventory.objects.filter(status="held").exists()
    assert not Code.objects.filter(used__gt=0).exists()


# --- promo codes, rounding, refunds ----------------------------------------------------------


def test_percent_per_ticket_rounds_half_up_per_ticket(user):
    event = make_event(price="33.33", service_fee=Decimal("0.99"))
    make_code(event, "TEN", discount_kind="percent", discount_scope="ticket", discount_value=15)
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:3], codes=["ten"])
    # 15 % of 33.33 is 4.9995: 5.00 off each ticket.
    assert lines(hold) == [(None, Decimal("33.33"), Decimal("5.00"), Decimal("0.99"))] * 3
    order = buy(user, hold)
    assert order.total == 3 * (Decimal("33.33") - Decimal("5.00") + Decimal("0.99"))
    assert order.promo_code.code == "TEN"


def test_fixed_per_order_discount_is_split_so_the_lines_sum_exactly(event, user):
    vip = make_ticket_type(event, "VIP", "70.00")
    make_code(event, "TENOFF", discount_kind="fixed", discount_scope="order", discount_value="10.00")
    ids = seat_ids(event)
    hold = hold_create(
        user=user, event_id=event.id, seat_ids=ids[:3], ticket_types={ids[0]: vip.id}, codes=["TENOFF"]
    )
    found = lines(hold)
    # 10.00 split over 70 + 50 + 50 = 170: 4.12 / 2.94 / 2.94 (largest remainder takes the cent).
    assert sum(d for *_, d, _ in found) == Decimal("10.00")
    assert {(n, d) for n, _, d, _ in found} == {("VIP", Decimal("4.12")), (None, Decimal("2.94"))}
    order = buy(user, hold)
    assert order.total == Decimal("160.00")
    assert sum(t.price - t.discount + t.fee for t in Ticket.objects.filter(order=order)) == order.total


def test_a_promo_code_limited_to_types_discounts_only_them(event, user):
    child = make_ticket_type(event, "Child", "20.00")
    make_code(event, "KIDS", discount_kind="percent", discount_value=50, ticket_type_ids=[child.id])
    ids = seat_ids(event)
    hold = hold_create(
        user=user,
        event_id=event.id,
        seat_ids=ids[:2],
        ticket_types={ids[0]: child.id, ids[1]: 0},
        codes=["kids"],
    )
    assert lines(hold) == [("Child", Decimal("20.00"), Decimal("10.00"), 0), (None, Decimal("50.00"), 0, 0)]


def test_fixed_discount_never_exceeds_the_price(event, user):
    make_code(event, "BIG", discount_kind="fixed", discount_value="80.00")
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1], codes=["BIG"])
    assert lines(hold) == [(None, Decimal("50.00"), Decimal("50.00"), 0)]


def test_refund_of_a_discounted_order_gives_back_what_was_paid(user):
    event = make_event(service_fee=Decimal("1.25"), order_fee=Decimal("3.00"))
    make_code(event, "HALF", discount_kind="percent", discount_value=50, use_limit=1)
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2], codes=["HALF"])
    order = buy(user, hold)
    assert order.total == 2 * (Decimal("25.00") + Decimal("1.25")) + Decimal("3.00")
    order_cancel(order_id=order.pk, actor=staff_user())
    refund = Payment.objects.get(kind="refund", charge__order=order)
    assert refund.amount == order.total == Decimal("55.50") and refund.status == "approved"
    # The code's one use came back with the cancellation: the next buyer can use it.
    assert Code.objects.get(code="HALF").used == 0
    again = hold_create(user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[:1], codes=["HALF"])
    assert again.promo_code_id is not None


def test_a_used_up_code_is_refused_and_comes_back_when_the_hold_lapses(event, user):
    make_code(event, "ONCE", discount_value=10, use_limit=1)
    ids = seat_ids(event)
    now = timezone.now()
    first = hold_create(user=user, event_id=event.id, seat_ids=ids[:1], codes=["ONCE"], now=now)
    with pytest.raises(CodeUsedUp):
        hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[1:2], codes=["ONCE"], now=now)
    holds_expire_due(now=first.expires_at + dt.timedelta(seconds=1))
    assert Code.objects.get(code="ONCE").used == 0
    later = first.expires_at + dt.timedelta(seconds=2)
    hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[1:2], codes=["ONCE"], now=later)


def test_cancelling_an_order_returns_its_types_to_the_cap(event, user):
    early = make_ticket_type(event, "Early bird", "30.00", quota=2)
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2])
    order = buy(user, hold)
    assert TicketTypeCount.objects.get(ticket_type=early).used == 2
    assert {t.ticket_type_id for t in Ticket.objects.filter(order=order)} == {early.id}
    order_cancel(order_id=order.pk, actor=user)
    assert TicketTypeCount.objects.get(ticket_type=early).used == 0


def test_a_cap_added_later_counts_seats_already_held(event, user):
    from events.services.ticket_types import ticket_type_update

    child = make_ticket_type(event, "Child", "20.00")
    hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2], ticket_type_id=child.id)
    ticket_type_update(ticket_type_id=child.id, quota=3)
    hold_create(user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[2:3], ticket_type_id=child.id)
    with pytest.raises(TypeSoldOut):
        hold_create(
            user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[3:4], ticket_type_id=child.id
        )
    assert TicketTypeCount.objects.get(ticket_type=child).used == 3


def test_an_expired_hold_stops_counting_against_a_code_before_the_sweeper_runs(event, user):
    make_code(event, "ONCE", discount_value=10, use_limit=1)
    ids = seat_ids(event)
    now = timezone.now()
    first = hold_create(user=user, event_id=event.id, seat_ids=ids[:1], codes=["ONCE"], now=now)
    later = first.expires_at + dt.timedelta(seconds=1)
    # No sweep: the next buyer's hold retires the lapsed one and takes its use.
    second = hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[1:2], codes=["ONCE"], now=later)
    assert second.promo_code_id == Code.objects.get(code="ONCE").pk
    assert Code.objects.get(code="ONCE").used == 1
    first.refresh_from_db()
    assert first.status == "expired"
    # A live hold is never retired for its use.
    with pytest.raises(CodeUsedUp):
        hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[2:3], codes=["ONCE"], now=later)
    assert Code.objects.get(code="ONCE").used == 1


def test_an_expired_hold_stops_counting_against_a_cap_before_the_sweeper_runs(event, user):
    early = make_ticket_type(event, "Early bird", "30.00", quota=1)
    ids = seat_ids(event)
    now = timezone.now()
    first = hold_create(user=user, event_id=event.id, seat_ids=ids[:1], ticket_type_id=early.id, now=now)
    with pytest.raises(TypeSoldOut):
        hold_create(
            user=UserFactory(), event_id=event.id, seat_ids=ids[1:2], ticket_type_id=early.id, now=now
        )
    later = first.expires_at + dt.timedelta(seconds=1)
    second = hold_create(
        user=UserFactory(), event_id=event.id, seat_ids=ids[1:2], ticket_type_id=early.id, now=later
    )
    assert lines(second)[0][0] == "Early bird"
    assert TicketTypeCount.objects.get(ticket_type=early).used == 1
    first.refresh_from_db()
    assert first.status == "expired"
    assert SeatInventory.objects.get(event=event, seat_id=ids[0]).status == "available"
