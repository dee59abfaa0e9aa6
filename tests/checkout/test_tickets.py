"""checkout/services/tickets.py: the buyer's resend of the confirmation e-mail."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from checkout import payments
from checkout.errors import OrderNotFound, OrderNotPaid, ResendLimited
from checkout.models import OutboxMessage
from checkout.services.holds import hold_create
from checkout.services.orders import order_cancel, order_purchase
from checkout.services.tickets import RESEND_INTERVAL, RESENDS_PER_DAY, order_resend
from tests.checkout.conftest import seat_ids

pytestmark = pytest.mark.django_db


def _order(event, user):
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1])
    return order_purchase(
        user=user,
        hold_id=hold.pk,
        buyer_name="Ada",
        buyer_email="ada@example.com",
        card_number=payments.CARD_APPROVE,
        idempotency_key=f"t-{hold.pk}",
    )


def test_resends_are_spaced_and_capped_per_day(event, user):
    order = _order(event, user)
    start = timezone.now()
    at = start
    for _ in range(RESENDS_PER_DAY):
        order_resend(order_id=order.pk, now=at)
        with pytest.raises(ResendLimited) as too_soon:
            order_resend(order_id=order.pk, now=at + RESEND_INTERVAL - dt.timedelta(seconds=1))
        assert 0 < too_soon.value.extra["retry_after"] <= RESEND_INTERVAL.total_seconds()
        at += RESEND_INTERVAL
    with pytest.raises(ResendLimited):
        order_resend(order_id=order.pk, now=at)
    assert OutboxMessage.objects.filter(order=order, kind="order_resend").count() == RESENDS_PER_DAY
    order_resend(order_id=order.pk, now=start + dt.timedelta(days=1, seconds=1))  # a day later
    # The first confirmation is still one row.
    assert OutboxMessage.objects.filter(order=order, kind="order_confirmation").count() == 1


def test_no_resend_for_a_cancelled_or_missing_order(event, user):
    order = _order(event, user)
    order_cancel(order_id=order.pk, actor=user)
    with pytest.raises(OrderNotPaid):
        order_resend(order_id=order.pk)
    with pytest.raises(OrderNotFound):
        order_resend(order_id=order.pk + 1000)
    assert not OutboxMessage.objects.filter(kind="order_resend").exists()
