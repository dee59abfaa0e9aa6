"""Event cancellation racing purchases, on real concurrent connections."""

from __future__ import annotations

import time

import pytest
from django.db.models import Count, Q

from checkout import payments
from checkout.errors import HoldExpired, HoldNotActive, SalesClosed
from checkout.models import LIVE_HOLD_STATUSES, Hold, Order, Payment, SeatInventory
from checkout.services.holds import hold_create
from checkout.services.orders import order_purchase
from checkout.services.sales import event_cancel
from tests.checkout.conftest import (
    big_pool,  # noqa: F401  (fixture)
    race,
    retry_busy,
    seat_ids,
)
from tests.factories import UserFactory, make_event, staff_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.usefixtures("big_pool")
@pytest.mark.parametrize("cancel_after", [0.0, 0.05, 0.15, 0.4])
def test_cancel_racing_ten_purchases_leaves_nobody_charged(settings, cancel_after):
    """Whatever the interleaving, once the one cancellation run returns and the purchases have
    answered, no order is still paid and every approved charge has an approved refund."""
    settings.TICKETING_TEST_PAYMENT_DELAY_MS = 20  # purchases are mid-charge while the cancel runs
    event = make_event()
    buyers = [UserFactory() for _ in range(10)]
    holds = [
        hold_create(user=u, event_id=event.id, seat_ids=[sid])
        for u, sid in zip(buyers, seat_ids(event), strict=True)
    ]
    staff = staff_user()

    def purchase(user, hold):
        return lambda: order_purchase(
            user=user,
            hold_id=hold.pk,
            buyer_name="Racer",
            buyer_email=user.email,
            card_number=payments.CARD_APPROVE,
            idempotency_key=f"race-{hold.pk}",
        )

    calls = [retry_busy(purchase(u, h)) for u, h in zip(buyers, holds, strict=True)]

    def cancel():
        # Staggered so the runs cover a cancel before, during and after the charges and
        # completions (which of them a run hits depends on the machine; every one must hold).
        time.sleep(cancel_after)
        return event_cancel(event_id=event.id, actor=staff, refund_inline=True)

    calls.insert(5, retry_busy(cancel))
    results = race(calls)

    kind, cancellation = results[5]
    assert kind == "ok", cancellation
    for kind, value in results[:5] + results[6:]:
        assert kind == "ok" or isinstance(value, SalesClosed | HoldNotActive | HoldExpired), value
    assert not Order.objects.filter(status="paid").exists()
    assert not Hold.objects.filter(event=event, status__in=LIVE_HOLD_STATUSES).exists()
    assert set(SeatInventory.objects.filter(event=event).values_list("status", flat=True)) == {"available"}
    money = Payment.objects.values("hold_id").annotate(
        charged=Count("id", filter=Q(kind="charge", status="approved")),
        refunded=Count("id", filter=Q(kind="refund", status="approved")),
    )
    assert all(row["charged"] == row["refunded"] for row in money), list(money)
