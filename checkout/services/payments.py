"""Payments: the project's side of every provider call, written down before the call is made.

A charge is a ``Payment`` row committed ``pending`` (with the provider idempotency key it will
use) before the provider is called; a refund likewise. The call's answer settles the row.
If the process dies in between, the row stays ``pending`` and recovery asks the provider what
happened (``checkout/services/recovery.py``). See docs/payments.md for the state machine.

``payment_refund`` is the one way money goes back, from every path (a hold lost while paying,
an order cancelled, an event cancelled, recovery, reconcile).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from checkout.models import (
    AuditAction,
    Hold,
    IdempotencyRecord,
    Payment,
    PaymentKind,
    PaymentStatus,
)
from checkout.payments import PaymentResult, payment_provider, uses_intents
from checkout.services.common import audit_record
from ticketing.core import sql

logger = logging.getLogger(__name__)


_ATTEMPT_INSERT_FIELDS = [f for f in Payment._meta.concrete_fields if not f.primary_key]
# The pending charge (``payment_attempt_params``); also carried by the statement that moves the
# hold to paying (``orders._hold_to_paying``), so the attempt commits with it in one round trip.
PAYMENT_ATTEMPT_INSERT_SQL = (
    f"INSERT INTO checkout_payment ({', '.join(f.column for f in _ATTEMPT_INSERT_FIELDS)})"
    f" VALUES ({', '.join(f'%(attempt_{f.attname})s' for f in _ATTEMPT_INSERT_FIELDS)}) RETURNING id"
)


def payment_attempt_params(
    *,
    hold: Hold,
    record: IdempotencyRecord,
    amount: Decimal,
    currency: str,
    seat_count: int,
    buyer_name: str,
    buyer_email: str,
    now: dt.datetime,
) -> tuple[Payment, dict[str, Any]]:
    """The pending charge of ``hold`` (without its id yet) and ``PAYMENT_ATTEMPT_INSERT_SQL``'s
    parameters. The caller runs the statement inside the transaction that moves the locked hold
    to paying, and sets the attempt's ``pk`` from its ``RETURNING id``.

    The key is random so that no two databases (or a restored one) ever reuse a key the
    provider already knows.
    """
    attempt = Payment(
        hold_id=hold.pk,
        idempotency_id=record.pk,
        kind=PaymentKind.CHARGE,
        status=PaymentStatus.PENDING,
        amount=amount,
        currency=currency,
        provider=payment_provider().name,
        idempotency_key=f"charge-hold-{hold.pk}-{secrets.token_hex(6)}",
        buyer_name=buyer_name,
        buyer_email=buyer_email,
        seat_count=seat_count,
        created_at=now,
    )
    return attempt, {f"attempt_{f.attname}": getattr(attempt, f.attname) for f in _ATTEMPT_INSERT_FIELDS}


def payment_charge(*, attempt: Payment, card_number: str) -> PaymentResult:
    """Call the provider for a pending attempt (no transaction, no lock). ``card_number`` is a
    PaymentMethod id from Stripe.js for a provider that uses intents.

    An exception from the provider is ambiguous (the charge may have been made and the answer
    lost), so the provider's books are asked once; if they cannot be asked either, the
    answer is ``pending``: the attempt stays pending for a retry or recovery to resolve.
    """
    provider = payment_provider()
    try:
        if uses_intents(provider):
            intent_id = payment_intent_bind(attempt=attempt, payment_method=card_number)
            return provider.intent_confirm(intent_id=intent_id)
        return provider.charge(
            amount=attempt.amount,
            currency=attempt.currency,
            card_number=card_number,
            idempotency_key=attempt.idempotency_key,
            description=f"Tickets, hold {attempt.hold_id}",
        )
    except Exception as exc:
        logger.exception("payment provider failed on %s", attempt.idempotency_key)
        message = str(exc)[:300]
    try:
        found = provider.charge_lookup(idempotency_key=attempt.idempotency_key, intent_id=attempt.intent_id)
    except Exception:
        logger.exception("payment provider lookup failed on %s", attempt.idempotency_key)
        return PaymentResult(PaymentStatus.PENDING, message=message)
    return found or PaymentResult(PaymentStatus.FAILED, message=message)


def payment_intent_bind(*, attempt: Payment, payment_method: str) -> str:
    """The attempt's intent: created at the provider, its id committed on the attempt before
    anyone confirms it. Precondition: no transaction open.

    Stripe's Idempotency-Key (derived from the attempt's key) makes a retried create return
    the same intent; the attempt's unique ``intent_id`` is the project's own guard: when two
    requests for one attempt both created one (a same-key retry racing a slow first request,
    or a provider that ignores the header), the loser cancels its intent and uses the
    winner's. Raises ``RuntimeError`` when the attempt was resolved meanwhile.
    """
    if attempt.intent_id:
        return attempt.intent_id
    provider = payment_provider()
    intent_id = provider.intent_create(
        amount=attempt.amount,
        currency=attempt.currency,
        payment_method=payment_method,
        idempotency_key=attempt.idempotency_key,
        metadata={
            "attempt": attempt.idempotency_key,
            "hold": attempt.hold_id,
            "event": Hold.objects.values_list("event_id", flat=True).get(pk=attempt.hold_id),
            "buyer": attempt.buyer_email,
        },
    )
    bound = Payment.objects.filter(pk=attempt.pk, intent_id="", status=PaymentStatus.PENDING).update(
        intent_id=intent_id
    )
    if not bound:
        provider.intent_cancel(intent_id=intent_id)
        intent_id = Payment.objects.values_list("intent_id", flat=True).get(pk=attempt.pk)
        if not intent_id:
            raise RuntimeError(f"payment attempt {attempt.pk} was resolved before its intent was bound")
    attempt.intent_id = intent_id
    return intent_id


def payment_resume(*, attempt: Payment, card_number: str) -> PaymentResult:
    """A same-key retry of a purchase whose attempt is still pending: what the provider booked
    under the attempt's key, or (never charged) a charge under that same key, so that a first
    request still in flight and this one make one charge between them."""
    provider = payment_provider()
    try:
        found = provider.charge_lookup(idempotency_key=attempt.idempotency_key, intent_id=attempt.intent_id)
        unconfirmed = found is not None and found.message == "requires_confirmation"
        if unconfirmed and found.status == PaymentStatus.PENDING:
            # The first request died between binding the intent and confirming it.
            return provider.intent_confirm(intent_id=found.reference)
    except Exception:
        logger.exception("payment provider lookup failed on %s", attempt.idempotency_key)
        return PaymentResult(PaymentStatus.PENDING, message="The payment provider could not be asked.")
    if found is not None:
        return found
    return payment_charge(attempt=attempt, card_number=card_number)


# The provider's answer on a charge attempt; ``payment_settled_params`` fills it. Also carried as
# a CTE by the purchase's completion, with the order it pays for (one round trip).
PAYMENT_SETTLE_SQL = """
    UPDATE checkout_payment
       SET status = %(settle_status)s, reference = %(settle_reference)s, message = %(settle_message)s,
           order_id = %(settle_order)s, outcome = %(settle_outcome)s, resolved_at = %(settle_at)s,
           buyer_name = '', buyer_email = ''
     WHERE id = %(settle_attempt)s
"""


def payment_settled_params(
    *,
    attempt: Payment,
    result: PaymentResult,
    now: dt.datetime,
    order_id: int | None = None,
    outcome: str = "",
) -> dict[str, Any]:
    """Write the provider's answer on ``attempt`` in memory; returns ``PAYMENT_SETTLE_SQL``'s
    parameters. The caller runs the statement (``payment_settle``, or the completion's own)."""
    attempt.status = result.status
    attempt.reference = result.reference or attempt.reference
    attempt.message = result.message[:300]
    attempt.order_id = order_id or attempt.order_id
    attempt.outcome = outcome
    attempt.resolved_at = now
    attempt.buyer_name = attempt.buyer_email = ""  # kept only while the order may still be written
    return {
        "settle_status": attempt.status,
        "settle_reference": attempt.reference,
        "settle_message": attempt.message,
        "settle_order": attempt.order_id,
        "settle_outcome": attempt.outcome,
        "settle_at": attempt.resolved_at,
        "settle_attempt": attempt.pk,
    }


def payment_settle(
    *,
    attempt: Payment,
    result: PaymentResult,
    now: dt.datetime,
    order_id: int | None = None,
    outcome: str = "",
) -> None:
    """Write the provider's answer on a charge attempt. Precondition: inside the transaction
    that acts on it, with the attempt locked (after its hold: see docs/payments.md)."""
    params = payment_settled_params(
        attempt=attempt, result=result, now=now, order_id=order_id, outcome=outcome
    )
    sql.execute(PAYMENT_SETTLE_SQL, params)


def payment_refund(
    *,
    charge: Payment,
    reason: str,
    now: dt.datetime | None = None,
    actor: Any = None,
    key: str | None = None,
) -> Payment:
    """Give an approved charge back; returns the refund row (``status`` says whether it worked).

    The one refund path of the project. The refund row is committed ``pending`` before the
    provider is called (a crash leaves it for recovery, which asks again under the same key);
    the answer settles it, and an approved refund writes the ``payment_refunded`` audit row in
    the same transaction. Idempotent: the same ``key`` (default: one per charge) refunds once.
    Precondition: no transaction open (the provider is called outside every lock).
    """
    now = now or timezone.now()
    key = key or f"refund-{charge.idempotency_key}"
    refund = _refund_row(charge=charge, key=key, now=now)
    if refund.status == PaymentStatus.APPROVED:
        return refund
    try:
        result = payment_provider().refund(
            reference=charge.reference, amount=charge.amount, currency=charge.currency, idempotency_key=key
        )
    except Exception as exc:
        logger.exception("refund %s failed", key)
        result = PaymentResult(PaymentStatus.FAILED, message=str(exc)[:300])
    with transaction.atomic():
        Payment.objects.filter(pk=refund.pk).update(
            status=result.status,
            reference=result.reference or charge.reference,
            message=result.message[:300],
            resolved_at=now,
        )
        if result.approved:
            audit_record(
                action=AuditAction.PAYMENT_REFUNDED,
                at=now,
                actor=actor,
                hold_id=charge.hold_id,
                order_id=charge.order_id,
                reason=reason,
                data={"amount": str(charge.amount), "charge": charge.reference, "key": key},
            )
    if not result.approved:
        logger.error("refund of %s NOT approved: %s; recovery will retry", charge.reference, result.message)
    refund.refresh_from_db()
    return refund


def payment_refund_record(
    *, charge: Payment, key: str, reference: str, reason: str, now: dt.datetime | None = None
) -> Payment:
    """Write down a refund the provider already made without us (Stripe's dashboard): an
    approved refund row under ``key`` and the ``payment_refunded`` audit row, once. A later
    ``payment_refund`` under the same key then finds it and calls nobody."""
    now = now or timezone.now()
    with transaction.atomic():
        existing = (
            Payment.objects.select_for_update()
            .filter(kind=PaymentKind.REFUND, idempotency_key=key)
            .exclude(status=PaymentStatus.FAILED)
            .first()
        )
        if existing is not None and existing.status == PaymentStatus.APPROVED:
            return existing
        refund = existing or Payment(kind=PaymentKind.REFUND, idempotency_key=key, created_at=now)
        refund.hold_id, refund.order_id, refund.charge = charge.hold_id, charge.order_id, charge
        refund.amount, refund.currency, refund.provider = charge.amount, charge.currency, charge.provider
        refund.status, refund.reference, refund.resolved_at = PaymentStatus.APPROVED, reference, now
        refund.save()
        audit_record(
            action=AuditAction.PAYMENT_REFUNDED,
            at=now,
            hold_id=charge.hold_id,
            order_id=charge.order_id,
            reason=reason,
            data={"amount": str(charge.amount), "charge": charge.reference, "key": key, "refund": reference},
        )
    return refund


def _refund_row(*, charge: Payment, key: str, now: dt.datetime) -> Payment:
    """The refund row for ``key``, committed pending. A failed earlier try stays on the books
    as it was; the new try gets its own row (under the same provider key)."""
    fields = {
        "hold_id": charge.hold_id,
        "order_id": charge.order_id,
        "charge": charge,
        "amount": charge.amount,
        "currency": charge.currency,
        "provider": charge.provider,
        "reference": charge.reference,
    }
    for _ in range(2):
        existing = (
            Payment.objects.filter(kind=PaymentKind.REFUND, idempotency_key=key)
            .exclude(status=PaymentStatus.FAILED)
            .first()
        )
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                return Payment.objects.create(
                    kind=PaymentKind.REFUND,
                    status=PaymentStatus.PENDING,
                    idempotency_key=key,
                    created_at=now,
                    **fields,
                )
        except IntegrityError:  # a concurrent refund of the same charge wrote it first
            continue
    raise RuntimeError(f"refund row {key} could not be written")
