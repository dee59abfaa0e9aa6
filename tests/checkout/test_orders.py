"""checkout/services/orders.py: purchase (idempotent, never under a lock) and cancellation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from checkout import payments
from checkout.errors import (
    HoldExpired,
    HoldNotFound,
    IdempotencyConflict,
    OrderNotCancellable,
    OrderNotFound,
    PaymentDeclined,
    PaymentFailed,
)
from checkout.models import AuditLog, Hold, HoldStatus, Order, Payment, SeatInventory, Ticket
from checkout.services import holds
from checkout.services.holds import hold_create
from checkout.services.orders import order_cancel, order_purchase
from checkout.tasks import order_confirmation_send
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, staff_user

pytestmark = pytest.mark.django_db

APPROVE, DECLINE, FAIL = payments.CARD_APPROVE, payments.CARD_DECLINE, payments.CARD_FAIL


def buy(user, hold, key="k1", card=APPROVE, **kwargs):
    return order_purchase(
        user=user,
        hold_id=hold.pk,
        buyer_name="Ada Buyer",
        buyer_email="ada@example.com",
        card_number=card,
        idempotency_key=key,
        **kwargs,
    )


@pytest.fixture
def hold(event, user):
    return hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2])


def test_purchase_sells_the_seats(hold, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        order = buy(user, hold)
    assert order.status == "paid" and order.total == 100 and order.currency == "EUR"
    tickets = list(Ticket.objects.filter(order=order))
    assert len(tickets) == 2 and {t.status for t in tickets} == {"valid"}
    assert all(len(t.code) >= 26 for t in tickets)
    rows = SeatInventory.objects.filter(order=order)
    assert {r.status for r in rows} == {"sold"} and {r.ticket_id for r in rows} == {t.pk for t in tickets}
    hold.refresh_from_db()
    assert hold.status == HoldStatus.CONVERTED
    charge = Payment.objects.get()
    assert (charge.kind, charge.status, charge.order_id, charge.amount) == (
        "charge",
        "approved",
        order.pk,
        100,
    )
    assert AuditLog.objects.filter(action="purchased", order_id_ref=order.pk).exists()
    assert len(callbacks) == 3  # seats_changed + confirmation task + metric


def test_confirmation_mail_lists_the_tickets(hold, user):
    order = buy(user, hold)
    assert order_confirmation_send(order.pk) is True
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    for ticket in order.tickets.all():
        assert ticket.code in message.body


def test_same_key_same_request_replays_the_order(hold, user):
    first = buy(user, hold)
    assert buy(user, hold).pk == first.pk
    assert Payment.objects.count() == 1


def test_same_key_other_request_is_a_conflict(hold, user, inventory_unchanged):
    buy(user, hold)
    with inventory_unchanged(), pytest.raises(IdempotencyConflict):
        buy(user, hold, card="5555555555554444")


def test_declined_card_keeps_the_hold(hold, user):
    with pytest.raises(PaymentDeclined):
        buy(user, hold, card=DECLINE)
    hold.refresh_from_db()
    assert hold.status == HoldStatus.ACTIVE
    assert SeatInventory.objects.filter(hold=hold, status="held").count() == 2
    assert Payment.objects.get().status == "declined"
    assert AuditLog.objects.filter(action="purchase_refused", reason="declined").exists()
    assert Order.objects.count() == 0
    assert buy(user, hold, key="k2").status == "paid"


def test_provider_outage_keeps_the_hold(hold, user):
    with pytest.raises(PaymentFailed):
        buy(user, hold, card=FAIL)
    hold.refresh_from_db()
    assert hold.status == HoldStatus.ACTIVE and Order.objects.count() == 0


def test_expired_or_foreign_hold_cannot_be_bought(hold, user, inventory_unchanged):
    stranger = UserFactory()
    with inventory_unchanged() as audit, pytest.raises(HoldExpired):
        buy(user, hold, now=hold.expires_at)
    assert audit == ["purchase_refused"]
    with inventory_unchanged(), pytest.raises(HoldNotFound):
        buy(stranger, hold)
    assert Payment.objects.count() == 0


class Spy(payments.TestProvider):
    """Records what the database says while the card is being charged."""

    seen: dict = {}

    def charge(self, **kwargs):
        held = Hold.objects.get()
        rows = SeatInventory.objects.filter(hold=held).values_list("hold_expires_at", flat=True)
        Spy.seen = {"status": held.status, "expires_at": held.expires_at, "rows": set(rows)}
        return super().charge(**kwargs)


def test_paying_stretches_a_nearly_expired_hold(hold, user, settings):
    settings.TICKETING_PAYMENT_PROVIDER = f"{__name__}.Spy"
    now = hold.expires_at - dt.timedelta(seconds=5)
    buy(user, hold, now=now)
    assert Spy.seen["status"] == "paying"
    assert Spy.seen["expires_at"] == now + dt.timedelta(seconds=60)
    assert Spy.seen["rows"] == {Spy.seen["expires_at"]}


class SeatsTakenDuringCharge(payments.TestProvider):
    """Charges, then (the payment window long past) the sweeper runs and another buyer takes the seats."""

    def charge(self, **kwargs):
        result = super().charge(**kwargs)
        later = timezone.now() + dt.timedelta(hours=1)
        holds.holds_expire_due(now=later)
        assert Hold.objects.get().status == HoldStatus.PAYING  # the sweeper leaves a pending payment alone
        event_id = Hold.objects.get().event_id
        hold_create(user=UserFactory(), event_id=event_id, seat_ids=seat_ids_of(event_id)[:2], now=later)
        return result


def seat_ids_of(event_id):
    return list(
        SeatInventory.objects.filter(event_id=event_id)
        .order_by("seat__row_rank", "seat__position")
        .values_list("seat_id", flat=True)
    )


def test_hold_lost_during_payment_is_refunded(hold, user, settings):
    settings.TICKETING_PAYMENT_PROVIDER = f"{__name__}.SeatsTakenDuringCharge"
    with pytest.raises(HoldExpired) as exc:
        buy(user, hold)
    assert exc.value.extra["refunded"] is True
    assert sorted(Payment.objects.values_list("kind", "status")) == [
        ("charge", "approved"),
        ("refund", "approved"),
    ]
    assert Order.objects.count() == 0
    hold.refresh_from_db()
    assert hold.status == HoldStatus.EXPIRED
    assert SeatInventory.objects.filter(status="held").exclude(hold=hold).count() == 2
    assert AuditLog.objects.filter(action="payment_refunded").count() == 1
    # The buyer's retry gets the same answer, and nothing is charged or refunded again.
    settings.TICKETING_PAYMENT_PROVIDER = "checkout.payments.TestProvider"
    with pytest.raises(HoldExpired) as again:
        buy(user, hold)
    assert again.value.extra["refunded"] is True
    assert Payment.objects.count() == 2


def test_purchase_query_budget(hold, user, django_assert_max_num_queries):
    with django_assert_max_num_queries(21):  # 32 before issue 17
        buy(user, hold)


# --- cancellation ---------------------------------------------------------------------


def test_cancel_frees_the_seats_for_the_next_buyer(event, hold, user, django_capture_on_commit_callbacks):
    order = buy(user, hold)
    with django_capture_on_commit_callbacks() as callbacks:
        cancelled = order_cancel(order_id=order.pk, actor=user)
    assert cancelled.status == "cancelled"
    assert set(Ticket.objects.filter(order=order).values_list("status", flat=True)) == {"void"}
    assert Payment.objects.filter(kind="refund", status="approved", order=order).count() == 1
    assert len(callbacks) == 2  # seats_changed + seats_released (waitlist)
    assert AuditLog.objects.filter(action="order_cancelled", order_id_ref=order.pk).exists()
    next_hold = hold_create(user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[:2])
    assert SeatInventory.objects.filter(hold=next_hold).count() == 2
    # Cancelling again changes nothing and refunds nothing more.
    order_cancel(order_id=order.pk, actor=user)
    assert Payment.objects.filter(kind="refund").count() == 1


def test_cancel_rules(event, hold, user, inventory_unchanged):
    order = buy(user, hold)
    stranger, staff = UserFactory(), staff_user()
    with inventory_unchanged(), pytest.raises(OrderNotFound):
        order_cancel(order_id=order.pk, actor=stranger)
    with inventory_unchanged(), pytest.raises(OrderNotCancellable):
        order_cancel(order_id=order.pk, actor=user, now=event.starts_at)
    assert order_cancel(order_id=order.pk, actor=staff, now=event.starts_at).status == "cancelled"
