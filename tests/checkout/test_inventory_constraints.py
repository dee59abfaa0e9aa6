"""The database itself refuses inconsistent inventory, even when the ORM is bypassed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from checkout.models import Hold, Order, SeatInventory, Ticket
from tests.factories import UserFactory, make_event


@pytest.fixture
def inventory_row(db):
    event = make_event()
    return SeatInventory.objects.filter(event=event).order_by("id").first()


def raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def make_hold(row: SeatInventory) -> Hold:
    return Hold.objects.create(
        event_id=row.event_id, user=UserFactory(), expires_at=timezone.now() + dt.timedelta(minutes=5)
    )


def make_sale(row: SeatInventory) -> tuple[Order, Ticket]:
    order = Order.objects.create(
        event_id=row.event_id,
        user=UserFactory(),
        buyer_name="B",
        buyer_email="b@example.com",
        total=1,
        currency="EUR",
    )
    ticket = Ticket.objects.create(
        order=order, event_id=row.event_id, seat_id=row.seat_id, section_id=row.section_id, price=1
    )
    return order, ticket


@pytest.mark.parametrize(
    "sql_set",
    [
        "status = 'held'",  # held without a hold or expiry
        "status = 'sold'",  # sold without order or ticket
        "status = 'held', hold_expires_at = now()",  # held with expiry but no hold
        "status = 'bogus'",
    ],
)
def test_raw_update_to_inconsistent_state_is_rejected(inventory_row, sql_set):
    with pytest.raises(IntegrityError):
        raw(f"UPDATE checkout_seatinventory SET {sql_set} WHERE id = %s", [inventory_row.id])
    inventory_row.refresh_from_db()
    assert inventory_row.status == "available"


def test_available_row_cannot_carry_a_hold(inventory_row):
    hold = make_hold(inventory_row)
    with pytest.raises(IntegrityError):
        raw("UPDATE checkout_seatinventory SET hold_id = %s WHERE id = %s", [hold.id, inventory_row.id])


def test_held_row_needs_its_expiry(inventory_row):
    hold = make_hold(inventory_row)
    with pytest.raises(IntegrityError):
        raw(
            "UPDATE checkout_seatinventory SET status = 'held', hold_id = %s WHERE id = %s",
            [hold.id, inventory_row.id],
        )


def test_sold_row_needs_ticket_and_no_hold(inventory_row):
    order, ticket = make_sale(inventory_row)
    hold = make_hold(inventory_row)
    with pytest.raises(IntegrityError):
        raw(
            "UPDATE checkout_seatinventory SET status = 'sold', order_id = %s WHERE id = %s",
            [order.id, inventory_row.id],
        )
    with pytest.raises(IntegrityError):
        raw(
            "UPDATE checkout_seatinventory SET status='sold', order_id=%s, ticket_id=%s, hold_id=%s,"
            " hold_expires_at=now() WHERE id = %s",
            [order.id, ticket.id, hold.id, inventory_row.id],
        )


def test_consistent_states_are_accepted(inventory_row):
    hold = make_hold(inventory_row)
    raw(
        "UPDATE checkout_seatinventory SET status='held', hold_id=%s, hold_expires_at=%s WHERE id=%s",
        [hold.id, hold.expires_at, inventory_row.id],
    )
    order, ticket = make_sale(inventory_row)
    raw(
        "UPDATE checkout_seatinventory SET status='sold', hold_id=NULL, hold_expires_at=NULL,"
        " order_id=%s, ticket_id=%s WHERE id=%s",
        [order.id, ticket.id, inventory_row.id],
    )
    inventory_row.refresh_from_db()
    assert inventory_row.status == "sold"


def test_second_live_ticket_for_a_seat_is_refused(inventory_row):
    make_sale(inventory_row)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_sale(inventory_row)


def test_void_ticket_does_not_block_a_resale(inventory_row):
    _, ticket = make_sale(inventory_row)
    Ticket.objects.filter(pk=ticket.pk).update(status="void")
    make_sale(inventory_row)
    assert Ticket.objects.filter(seat_id=inventory_row.seat_id, status="valid").count() == 1


def test_one_inventory_row_per_event_seat(inventory_row):
    with pytest.raises(IntegrityError):
        raw(
            "INSERT INTO checkout_seatinventory (event_id, seat_id, section_id, status, updated_at)"
            " VALUES (%s, %s, %s, 'available', now())",
            [inventory_row.event_id, inventory_row.seat_id, inventory_row.section_id],
        )


def test_ticket_codes_are_long_and_random(inventory_row):
    _, ticket = make_sale(inventory_row)
    assert len(ticket.code) >= 26  # 20 bytes of randomness, base64url
    codes = {Ticket(order_id=1).code for _ in range(1000)}
    assert len(codes) == 1000
