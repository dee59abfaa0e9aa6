"""Payment recovery: every way a purchase can be cut off after its attempt was written, and what
a same-key retry and the recovery task make of it (checkout/services/recovery.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from checkout import payments
from checkout.errors import HoldExpired, PaymentFailed
from checkout.models import AuditLog, Hold, HoldStatus, Order, OutboxMessage, Payment, SeatInventory
from checkout.services import holds
from checkout.services.holds import hold_create
from checkout.services.orders import order_purchase
from checkout.services.recovery import payments_recover
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

APPROVE, DECLINE = payments.CARD_APPROVE, payments.CARD_DECLINE


class Killed(BaseException):
    """What kill -9 does to a request, as far as the database can tell: it just stops."""


class DiesAfterCharge(payments.TestProvider):
    def charge(self, **kwargs):
        super().charge(**kwargs)
        raise Killed()


class DiesBeforeCharge(payments.TestProvider):
    def charge(self, **kwargs):
        raise Killed()


PROVIDER = "checkout.payments.TestProvider"


def buy(user, hold, *, now, key="k1", card=APPROVE):
    return order_purchase(
        user=user,
        hold_id=hold.pk,
        buyer_name="Ada Buyer",
        buyer_email="ada@example.com",
        card_number=card,
        idempotency_key=key,
        now=now,
    )


@pytest.fixture
def t0():
    return timezone.now()


@pytest.fixture
def hold(event, user, t0):
    return hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2], now=t0)


def cut_off(settings, user, hold, t0, provider="DiesAfterCharge", card=APPROVE) -> Payment:
    """Start a purchase and kill it at the provider; returns the pending attempt it left."""
    settings.TICKETING_PAYMENT_PROVIDER = f"{__name__}.{provider}"
    with pytest.raises(Killed):
        buy(user, hold, now=t0, card=card)
    settings.TICKETING_PAYMENT_PROVIDER = PROVIDER
    attempt = Payment.objects.get(kind="charge")
    assert attempt.status == "pending" and attempt.buyer_email == "ada@example.com"
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.PAYING
    return attempt


def charges_at_provider() -> list:
    books = payments.payment_provider().transactions(
        since=timezone.now() - dt.timedelta(hours=1), until=timezone.now() + dt.timedelta(hours=1)
    )
    return [r for r in books if r.kind == "charge" and r.status == "approved"]


def recovered(reason: str) -> bool:
    return AuditLog.objects.filter(action="payment_recovered", reason=reason).exists()


def later(t0, seconds=31):
    return t0 + dt.timedelta(seconds=seconds)


def test_recovery_charged_and_seats_held_completes_the_order(settings, user, hold, t0):
    attempt = cut_off(settings, user, hold, t0)
    assert payments_recover(now=later(t0, 5)) == {}  # not stale yet: the request may be running
    assert payments_recover(now=later(t0)) == {"completed": 1}
    order = Order.objects.get()
    attempt.refresh_from_db()
    assert (attempt.status, attempt.order_id, attempt.buyer_email) == ("approved", order.pk, "")
    assert order.buyer_email == "ada@example.com" and order.tickets.count() == 2
    assert OutboxMessage.objects.filter(order=order).count() == 1
    assert recovered("completed") and not Payment.objects.filter(kind="refund").exists()
    # The buyer's retry gets the same answer as a first success, and nothing is charged again.
    assert buy(user, hold, now=later(t0, 40)).pk == order.pk
    assert len(charges_at_provider()) == 1


def test_recovery_charged_but_seats_gone_refunds(settings, user, hold, event, t0):
    attempt = cut_off(settings, user, hold, t0)
    hours_later = t0 + dt.timedelta(hours=1)
    holds.holds_expire_due(now=hours_later)
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.PAYING  # left to recovery
    other = hold_create(user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[:2], now=hours_later)
    assert payments_recover(now=hours_later) == {"refunded": 1}
    attempt.refresh_from_db()
    assert (attempt.status, attempt.outcome, attempt.order_id) == ("approved", "HOLD_EXPIRED", None)
    refund = Payment.objects.get(kind="refund")
    assert (refund.status, refund.charge_id) == ("approved", attempt.pk)
    assert AuditLog.objects.filter(action="payment_refunded").count() == 1
    assert SeatInventory.objects.filter(hold=other).count() == 2 and Order.objects.count() == 0
    with pytest.raises(HoldExpired) as exc:  # the retry hears what happened, with a stable code
        buy(user, hold, now=hours_later)
    assert exc.value.code == "HOLD_EXPIRED" and exc.value.extra["refunded"] is True
    assert Payment.objects.count() == 2


def test_recovery_never_charged_gives_the_hold_back(settings, user, hold, t0):
    attempt = cut_off(settings, user, hold, t0, provider="DiesBeforeCharge")
    assert charges_at_provider() == []
    assert payments_recover(now=later(t0)) == {"not_charged": 1}
    attempt.refresh_from_db()
    assert attempt.status == "failed" and recovered("not_charged")
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.ACTIVE
    # The buyer pays again (a new attempt, a new key): one charge in all.
    order = buy(user, hold, now=later(t0, 32), key="k2")
    assert order.status == "paid" and len(charges_at_provider()) == 1


def test_recovery_declined_gives_the_hold_back(settings, user, hold, t0):
    attempt = cut_off(settings, user, hold, t0, card=DECLINE)
    assert payments_recover(now=later(t0)) == {"declined": 1}
    attempt.refresh_from_db()
    assert attempt.status == "declined" and recovered("declined")
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.ACTIVE
    assert Order.objects.count() == 0 and not Payment.objects.filter(kind="refund").exists()


def test_same_key_retry_completes_a_charged_attempt(settings, user, hold, t0):
    cut_off(settings, user, hold, t0)
    order = buy(user, hold, now=later(t0, 11))
    assert order.status == "paid" and Order.objects.count() == 1
    assert Payment.objects.get(kind="charge").order_id == order.pk
    assert len(charges_at_provider()) == 1
    assert buy(user, hold, now=later(t0, 12)).pk == order.pk
    assert payments_recover(now=later(t0, 60)) == {}


def test_same_key_retry_of_a_never_charged_attempt_goes_on_as_new(settings, user, hold, t0):
    attempt = cut_off(settings, user, hold, t0, provider="DiesBeforeCharge")
    order = buy(user, hold, now=later(t0, 11))
    attempt.refresh_from_db()
    assert (attempt.status, attempt.order_id) == ("approved", order.pk)  # charged under the attempt's key
    assert [c.idempotency_key for c in charges_at_provider()] == [attempt.idempotency_key]


def test_same_key_retry_charged_but_seats_gone_is_refunded(settings, user, hold, event, t0):
    cut_off(settings, user, hold, t0)
    hours_later = t0 + dt.timedelta(hours=1)
    hold_create(user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[:1], now=hours_later)
    with pytest.raises(HoldExpired) as exc:
        buy(user, hold, now=hours_later)
    assert exc.value.extra["refunded"] is True
    with pytest.raises(HoldExpired) as again:
        buy(user, hold, now=hours_later)
    assert again.value.extra == exc.value.extra
    assert Payment.objects.filter(kind="refund", status="approved").count() == 1


class RefundRefused(payments.TestProvider):
    def refund(self, **kwargs):
        raise ConnectionError("provider away")


def test_a_refund_that_failed_is_made_by_recovery(settings, user, hold, event, t0):
    attempt = cut_off(settings, user, hold, t0)
    hours_later = t0 + dt.timedelta(hours=1)
    hold_create(user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[:2], now=hours_later)
    settings.TICKETING_PAYMENT_PROVIDER = f"{__name__}.RefundRefused"
    assert payments_recover(now=hours_later) == {"refunded": 1}  # the answer is settled ...
    assert Payment.objects.get(kind="refund").status == "failed"  # ... the refund is not
    settings.TICKETING_PAYMENT_PROVIDER = PROVIDER
    assert payments_recover(now=hours_later + dt.timedelta(minutes=1)) == {"refunded": 1}
    refunds = Payment.objects.filter(kind="refund", charge=attempt)
    assert sorted(refunds.values_list("status", flat=True)) == ["approved", "failed"]
    assert payments_recover(now=hours_later + dt.timedelta(minutes=2)) == {}


class RecoveryRunsFirst(payments.TestProvider):
    """The provider is so slow that recovery gives the attempt up before the charge is made."""

    def charge(self, **kwargs):
        assert payments_recover(now=timezone.now() + dt.timedelta(seconds=40)) == {"not_charged": 1}
        return super().charge(**kwargs)


def test_a_charge_that_lands_after_recovery_gave_up_is_refunded(settings, user, hold, t0):
    settings.TICKETING_PAYMENT_PROVIDER = f"{__name__}.RecoveryRunsFirst"
    with pytest.raises(PaymentFailed) as exc:
        buy(user, hold, now=t0)
    assert exc.value.extra["refunded"] is True
    charge = Payment.objects.get(kind="charge")
    assert (charge.status, charge.outcome, charge.order_id) == ("approved", "PAYMENT_FAILED", None)
    assert Payment.objects.get(kind="refund", charge=charge).status == "approved"
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.ACTIVE  # given back by recovery: pay again
    settings.TICKETING_PAYMENT_PROVIDER = PROVIDER
    assert buy(user, hold, now=t0, key="k2").status == "paid"
