"""Reconciliation with the payment provider: the project's books against the provider's.

The inventory checks (``reconcile.py``) cannot see money that left a card without a row
here. This compares, for a period, what the provider booked with what we booked:

- ``provider_charge_unaccounted``: an approved charge at the provider with neither an order nor
  an approved refund in our books (a process died between the charge and the order);
- ``provider_refund_unknown``: a refund at the provider our books do not show approved;
- ``order_charge_unknown``: a paid order whose approved charge the provider does not know.

``fix=True`` completes or refunds each unaccounted charge (through the purchase's own steps:
a pending attempt is finished as recovery would), records each unknown refund, and writes a
``payment_reconciled`` audit row per fix. Orders the provider does not know are left for a
person: money may be missing, and only a person can ask the buyer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from checkout.models import AuditAction, Order, OrderStatus, Payment, PaymentKind, PaymentStatus
from checkout.payments import ProviderRecord, payment_provider
from checkout.services.common import audit_record
from checkout.services.payments import payment_refund
from checkout.services.recovery import payment_attempt_recover


@dataclass
class PaymentsReport:
    since: dt.datetime
    until: dt.datetime
    problems: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fixed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.problems.items()}


def payments_reconcile(
    *, since: dt.datetime, until: dt.datetime | None = None, fix: bool = False, now: dt.datetime | None = None
) -> PaymentsReport:
    """Compare the books for ``[since, until)``; with ``fix``, fix what can be fixed, then compare
    again (the report lists what remains). Attempts younger than the recovery timeout are
    left alone: their request may still be running."""
    now = now or timezone.now()
    until = until or now
    report = _compare(since=since, until=until, now=now)
    if fix and not report.ok:
        for row in report.problems["provider_refund_unknown"]:
            report.fixed.append(_refund_record(row, now=now))
        for row in report.problems["provider_charge_unaccounted"]:
            report.fixed.append(_charge_resolve(row, now=now))
        fixed = report.fixed
        report = _compare(since=since, until=until, now=now)
        report.fixed = fixed
    return report


def _compare(*, since: dt.datetime, until: dt.datetime, now: dt.datetime) -> PaymentsReport:
    books = payment_provider().transactions(since=since, until=until)
    young = now - dt.timedelta(seconds=settings.TICKETING_PAYMENT_RECOVERY_SECONDS)
    charges = [r for r in books if r.kind == "charge" and r.status == PaymentStatus.APPROVED]
    refunds = [r for r in books if r.kind == "refund" and r.status == PaymentStatus.APPROVED]
    ours = {
        (p.kind, p.idempotency_key): p
        for p in Payment.objects.filter(idempotency_key__in=[r.idempotency_key for r in books]).exclude(
            status=PaymentStatus.FAILED, kind=PaymentKind.REFUND
        )
    }
    refunded = set(
        Payment.objects.filter(
            kind=PaymentKind.REFUND,
            status=PaymentStatus.APPROVED,
            charge_id__in=[p.pk for (kind, _), p in ours.items() if kind == PaymentKind.CHARGE],
        ).values_list("charge_id", flat=True)
    )
    report = PaymentsReport(since=since, until=until)
    report.problems["provider_charge_unaccounted"] = [
        _row(r, ours.get(("charge", r.idempotency_key)))
        for r in charges
        if _unaccounted(ours.get(("charge", r.idempotency_key)), refunded, young)
    ]
    report.problems["provider_refund_unknown"] = [
        _row(r, ours.get(("refund", r.idempotency_key)))
        for r in refunds
        if _refund_unknown(ours.get(("refund", r.idempotency_key)), young)
    ]
    known = {r.idempotency_key for r in charges}
    report.problems["order_charge_unknown"] = _orders_unknown(since=since, until=until, known=known)
    return report


def _unaccounted(ours: Payment | None, refunded: set[int], young: dt.datetime) -> bool:
    if ours is None:
        return True
    if ours.status == PaymentStatus.PENDING and ours.created_at > young:
        return False  # its request may still be running
    return ours.order_id is None and ours.pk not in refunded


def _refund_unknown(ours: Payment | None, young: dt.datetime) -> bool:
    if ours is None:
        return True
    if ours.status == PaymentStatus.PENDING and ours.created_at > young:
        return False
    return ours.status != PaymentStatus.APPROVED


def _row(record: ProviderRecord, ours: Payment | None) -> dict[str, Any]:
    return {
        "key": record.idempotency_key,
        "reference": record.reference,
        "amount": str(record.amount),
        "currency": record.currency,
        "at": record.created_at.isoformat(),
        "charge_reference": record.charge_reference,
        "payment_id": ours.pk if ours else None,
        "our_status": ours.status if ours else None,
    }


def _orders_unknown(*, since: dt.datetime, until: dt.datetime, known: set[str]) -> list[dict[str, Any]]:
    provider = payment_provider()
    found = []
    paid = Order.objects.filter(status=OrderStatus.PAID, created_at__gte=since, created_at__lt=until)
    charges = {
        p.order_id: p
        for p in Payment.objects.filter(
            order__in=paid, kind=PaymentKind.CHARGE, status=PaymentStatus.APPROVED
        ).order_by("pk")
    }
    # Orders written without any charge row (data loaded by hand, fixtures) are not compared:
    # there is no key to ask the provider about.
    for order_id, charge in sorted(charges.items()):
        if charge.idempotency_key in known:
            continue
        at_provider = provider.charge_lookup(  # just outside the period?
            idempotency_key=charge.idempotency_key, intent_id=charge.intent_id
        )
        if at_provider is None or not at_provider.approved:
            found.append({"order_id": order_id, "payment_id": charge.pk, "key": charge.idempotency_key})
    return found


def _charge_resolve(row: dict[str, Any], *, now: dt.datetime) -> dict[str, Any]:
    """Complete or refund one unaccounted provider charge."""
    charge = Payment.objects.filter(pk=row["payment_id"]).first() if row["payment_id"] else None
    if charge is not None and charge.status == PaymentStatus.PENDING:
        outcome = payment_attempt_recover(attempt_id=charge.pk, now=now)
    else:
        with transaction.atomic():
            if charge is None:  # no row at all: record what the provider did
                charge = Payment.objects.create(
                    kind=PaymentKind.CHARGE,
                    idempotency_key=row["key"],
                    amount=row["amount"],
                    currency=row["currency"],
                    provider=payment_provider().name,
                    status=PaymentStatus.APPROVED,
                    created_at=now,
                )
            charge.status, charge.reference = PaymentStatus.APPROVED, row["reference"]
            charge.outcome, charge.resolved_at = charge.outcome or "RECONCILED", now
            charge.save(update_fields=["status", "reference", "outcome", "resolved_at"])
        refund = payment_refund(charge=charge, reason="reconcile", now=now)
        outcome = "refunded" if refund.status == PaymentStatus.APPROVED else "refund_failed"
    return _audited("provider_charge_unaccounted", row, outcome, now)


def _refund_record(row: dict[str, Any], *, now: dt.datetime) -> dict[str, Any]:
    """Write down a refund the provider made and our books missed."""
    charge = Payment.objects.filter(kind=PaymentKind.CHARGE, reference=row["charge_reference"]).first()
    with transaction.atomic():
        refund = Payment.objects.filter(kind=PaymentKind.REFUND, idempotency_key=row["key"]).first()
        if refund is None:
            refund = Payment(kind=PaymentKind.REFUND, idempotency_key=row["key"], created_at=now)
        refund.status, refund.reference, refund.resolved_at = PaymentStatus.APPROVED, row["reference"], now
        refund.amount, refund.currency = row["amount"], row["currency"]
        refund.provider = payment_provider().name
        refund.charge = charge
        refund.hold_id = charge.hold_id if charge else None
        refund.order_id = charge.order_id if charge else None
        refund.save()
        audit_record(
            action=AuditAction.PAYMENT_REFUNDED,
            at=now,
            hold_id=refund.hold_id,
            order_id=refund.order_id,
            reason="reconcile",
            data={"amount": row["amount"], "charge": row["charge_reference"], "key": row["key"]},
        )
    return _audited("provider_refund_unknown", row, "recorded", now)


def _audited(check: str, row: dict[str, Any], outcome: str, now: dt.datetime) -> dict[str, Any]:
    with transaction.atomic():
        audit_record(
            action=AuditAction.PAYMENT_RECONCILED,
            at=now,
            reason=check,
            data={**row, "outcome": outcome},
        )
    return {"check": check, "key": row["key"], "outcome": outcome}
