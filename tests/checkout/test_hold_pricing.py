"""checkout/services/hold_pricing.py: choosing types and codes on a live hold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from checkout.errors import CodeUsedUp, HoldExpired, TypeSoldOut
from checkout.models import Code, SeatInventory, TicketTypeCount
from checkout.services.hold_pricing import hold_reprice
from checkout.services.holds import hold_create
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_code, make_event, make_ticket_type

pytestmark = pytest.mark.django_db


def lines(hold):
    return list(
        SeatInventory.objects.filter(hold=hold)
        .order_by("seat_id")
        .values_list("ticket_type__name", "price", "discount")
    )


def test_reprice_switches_types_and_codes_and_moves_the_counts(user):
    event = make_event()
    vip = make_ticket_type(event, "VIP", "90.00", quota=1, visibility="presale")
    make_code(event, "FANS", kind="presale", ticket_type_ids=[vip.id], use_limit=1)
    make_code(event, "TEN", discount_kind="fixed", discount_value="10.00", use_limit=1)
    ids = seat_ids(event)[:2]
    hold = hold_create(user=user, event_id=event.id, seat_ids=ids)
    assert lines(hold) == [(None, Decimal("50.00"), 0)] * 2
    hold_reprice(user=user, hold_id=hold.pk, ticket_types={ids[0]: vip.id}, codes=["fans", "ten"])
    assert lines(hold) == [
        ("VIP", Decimal("90.00"), Decimal("10.00")),
        (None, Decimal("50.00"), Decimal("10.00")),
    ]
    assert TicketTypeCount.objects.get(ticket_type=vip).used == 1
    assert dict(Code.objects.values_list("code", "used")) == {"FANS": 1, "TEN": 1}
    # Choosing again gives back what the hold had first: the same codes and type fit again.
    hold_reprice(user=user, hold_id=hold.pk, ticket_types={ids[1]: vip.id}, codes=["FANS", "TEN"])
    assert [name for name, *_ in lines(hold)] == [None, "VIP"]
    assert TicketTypeCount.objects.get(ticket_type=vip).used == 1
    # Dropping the codes gives their uses back.
    hold_reprice(user=user, hold_id=hold.pk, codes=[])
    assert lines(hold) == [(None, Decimal("50.00"), 0)] * 2
    assert dict(Code.objects.values_list("code", "used")) == {"FANS": 0, "TEN": 0}
    assert TicketTypeCount.objects.get(ticket_type=vip).used == 0


def test_a_refused_reprice_changes_nothing(user):
    event = make_event()
    vip = make_ticket_type(event, "VIP", "90.00", quota=1)
    make_code(event, "ONCE", discount_value=10, use_limit=1)
    ids = seat_ids(event)
    hold_create(
        user=UserFactory(), event_id=event.id, seat_ids=ids[2:3], ticket_type_id=vip.id, codes=["ONCE"]
    )
    hold = hold_create(user=user, event_id=event.id, seat_ids=ids[:1])
    with pytest.raises(TypeSoldOut):
        hold_reprice(user=user, hold_id=hold.pk, ticket_types={ids[0]: vip.id})
    with pytest.raises(CodeUsedUp):
        hold_reprice(user=user, hold_id=hold.pk, codes=["once"])
    assert lines(hold) == [(None, Decimal("50.00"), 0)]
    assert TicketTypeCount.objects.get(ticket_type=vip).used == 1 and Code.objects.get().used == 1


def test_an_expired_hold_is_not_repriced(user):
    event = make_event()
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1])
    with pytest.raises(HoldExpired):
        hold_reprice(user=user, hold_id=hold.pk, now=hold.expires_at + dt.timedelta(seconds=1))
