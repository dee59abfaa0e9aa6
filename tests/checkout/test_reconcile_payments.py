"""checkout/services/reconcile_payments.py and ``manage.py reconcile``: our books against the provider's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from checkout import payments
from checkout.models import AuditLog, Order, Payment
from checkout.services.holds import hold_create
from checkout.services.orders import order_cancel, order_purchase
from checkout.services.reconcile_payments import payments_reconcile
from tests.checkout.conftest import seat_ids
from tests.checkout.test_recovery import cut_off

pytestmark = pytest.mark.django_db


def since():
    return timezone.now() - dt.timedelta(days=1)


def buy(user, hold, key="k"):
    return order_purchase(
        user=user,
        hold_id=hold.pk,
        buyer_name="Ada",
        buyer_email="ada@example.com",
        card_number=payments.CARD_APPROVE,
        idempotency_key=key,
    )


def test_books_that_agree_are_ok(event, user):
    order = buy(user, hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2]))
    other = UserOf(event)
    cancelled = buy(other, hold_create(user=other, event_id=event.id, seat_ids=seat_ids(event)[2:3]))
    order_cancel(order_id=cancelled.pk, actor=other)
    report = payments_reconcile(since=since())
    assert report.ok, report.problems
    assert order.status == "paid"
    call_command("reconcile")  # exit status 0


def UserOf(event):
    from tests.factories import UserFactory

    return UserFactory()


def test_a_planted_provider_only_charge_is_reported_and_refunded_by_fix(event, user, capsys):
    provider = payments.payment_provider()
    planted = provider.plant_charge(
        amount=Decimal("50.00"), currency="EUR", idempotency_key="lost-in-a-crash"
    )
    report = payments_reconcile(since=since())
    (row,) = report.problems["provider_charge_unaccounted"]
    assert (row["key"], row["reference"], row["payment_id"]) == ("lost-in-a-crash", planted.reference, None)
    with pytest.raises(CommandError):
        call_command("reconcile")
    assert "VIOLATION provider_charge_unaccounted: 1" in capsys.readouterr().out

    call_command("reconcile", "--fix")  # fixed, then nothing remains: exit status 0
    out = capsys.readouterr().out
    assert "FIXED provider_charge_unaccounted" in out and "OK: no violations." in out
    charge = Payment.objects.get(kind="charge", idempotency_key="lost-in-a-crash")
    refund = Payment.objects.get(kind="refund", charge=charge)
    assert (charge.status, charge.reference, refund.status) == ("approved", planted.reference, "approved")
    refunds = [r for r in provider.transactions(since=since(), until=timezone.now()) if r.kind == "refund"]
    assert [r.charge_reference for r in refunds] == [planted.reference]
    assert (
        AuditLog.objects.filter(action="payment_reconciled", reason="provider_charge_unaccounted").count()
        == 1
    )
    assert AuditLog.objects.filter(action="payment_refunded", reason="reconcile").count() == 1
    call_command("reconcile")


def test_fix_completes_a_cut_off_purchase_whose_seats_are_still_held(settings, event, user):
    t0 = timezone.now() - dt.timedelta(minutes=5)
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2], now=t0)
    cut_off(settings, user, hold, t0)
    report = payments_reconcile(since=since())
    assert len(report.problems["provider_charge_unaccounted"]) == 1
    fixed = payments_reconcile(since=since(), fix=True)
    assert fixed.ok and [f["outcome"] for f in fixed.fixed] == ["completed"]
    assert Order.objects.get().status == "paid"


def test_a_refund_our_books_missed_is_recorded(event, user):
    order = buy(user, hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1]))
    charge = Payment.objects.get(kind="charge")
    # The provider refunded (say, from its dashboard) and we never heard of it.
    payments.payment_provider().refund(
        reference=charge.reference, amount=charge.amount, currency="EUR", idempotency_key="dashboard-1"
    )
    report = payments_reconcile(since=since())
    assert [r["key"] for r in report.problems["provider_refund_unknown"]] == ["dashboard-1"]
    fixed = payments_reconcile(since=since(), fix=True)
    assert fixed.ok, fixed.problems
    refund = Payment.objects.get(kind="refund")
    assert (refund.status, refund.charge_id, refund.order_id) == ("approved", charge.pk, order.pk)


def test_an_order_the_provider_does_not_know_is_reported(event, user):
    buy(user, hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1]))
    Payment.objects.filter(kind="charge").update(idempotency_key="never-sent")
    report = payments_reconcile(since=since(), fix=True)
    assert [r["order_id"] for r in report.problems["order_charge_unknown"]] == [Order.objects.get().pk]
    assert not report.ok
