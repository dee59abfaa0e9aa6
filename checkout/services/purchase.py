"""Finishing a purchase once the provider has answered a pending charge attempt.

Shared by the buyer's request, a same-key retry that resumes an attempt, the recovery task and
``reconcile --fix``, so all of them give the same answer for one attempt:

- approved, seats still held -> the order (and the tickets, and the confirmation outbox row);
- approved, seats gone (hold expired and its seats taken, event cancelled) -> refunded, and
  ``HoldExpired`` / ``SalesClosed`` / ``PaymentFailed`` with ``extra["refunded"]``;
- declined / failed -> the hold goes back to its buyer, ``PaymentDeclined`` / ``PaymentFailed``.

Lock order (docs/payments.md): idempotency record -> hold -> payment attempt -> inventory rows
(primary-key order). Every path that takes these rows takes them in this order.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Case, Value, When

from checkout.errors import (
    HoldExpired,
    PaymentActionRequired,
    PaymentDeclined,
    PaymentFailed,
    PurchaseInProgress,
    SalesClosed,
)
from checkout.models import (
    AuditAction,
    Hold,
    HoldKind,
    HoldStatus,
    IdempotencyRecord,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    SeatInventory,
    SeatStatus,
    Ticket,
)
from checkout.payments import PaymentResult
from checkout.services import hooks
from checkout.services.common import audit_record, inventory_changed
from checkout.services.holds import holds_end
from checkout.services.outbox import outbox_add
from checkout.services.payments import payment_refund, payment_settle
from events.models import EventStatus, Price
from ticketing.core.locks import busy_on_lock_timeout, lock_one, lock_rows, set_lock_timeout
from ticketing.ops import metrics

logger = logging.getLogger(__name__)


class _Lost(Exception):
    """An approved charge cannot become an order; ``code`` is the answer the buyer gets."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def purchase_finish(*, attempt: Payment, result: PaymentResult, now: dt.datetime) -> Order:
    """Act on the provider's answer for charge ``attempt`` (as read before the call); returns the order.

    Precondition: no transaction open. Raises ``PaymentActionRequired`` (the buyer must
    confirm in Stripe.js; the attempt stays pending), ``PaymentDeclined``, ``PaymentFailed``,
    ``HoldExpired`` / ``SalesClosed`` (the charge was refunded: ``extra["refunded"]``),
    ``PurchaseInProgress`` (the provider could not be asked: the attempt stays pending, a
    same-key retry or recovery resolves it) and ``Busy``. A database error leaves the attempt
    pending too (the answer is 503; the retry finds it).
    """
    if result.status == PaymentStatus.PENDING and result.client_secret:
        # 3-D Secure: the attempt stays pending while the buyer confirms in Stripe.js; the
        # browser's return, the webhook or recovery resolves it.
        raise PaymentActionRequired(
            extra={
                "hold_id": attempt.hold_id,
                "client_secret": result.client_secret,
                "intent_id": result.reference,
            }
        )
    if result.status == PaymentStatus.PENDING:
        raise PurchaseInProgress(
            "The payment provider did not answer; retry with the same Idempotency-Key for the outcome."
        )
    attempt_id, hold_id = attempt.pk, attempt.hold_id
    if not result.approved:
        purchase_abandon(attempt_id=attempt_id, result=result, now=now)
        if result.status == PaymentStatus.DECLINED:
            raise PaymentDeclined(extra={"hold_id": hold_id})
        raise PaymentFailed(extra={"hold_id": hold_id})
    try:
        return _complete(attempt=attempt, result=result, now=now)
    except _Lost as lost:
        code = lost.code
        failure: Exception | None = None
    except DatabaseError:
        raise
    except Exception as exc:  # a bug must not keep the money: refund, then let it surface
        logger.exception("completing payment attempt %s failed", attempt_id)
        code, failure = "COMPLETION_FAILED", exc
    refunded = purchase_refund_lost(attempt_id=attempt_id, result=result, code=code, now=now)
    if failure is not None:
        raise failure
    raise refused_answer(code=code, hold_id=hold_id, refunded=refunded)


def _hold_of(attempt_id: int) -> int | None:
    return Payment.objects.values_list("hold_id", flat=True).get(pk=attempt_id)


def refused_answer(*, code: str, hold_id: int | None, refunded: bool) -> Exception:
    """The error for an approved charge that was refunded instead of becoming an order; the
    same for the first request and every same-key retry."""
    extra = {"hold_id": hold_id, "refunded": refunded}
    if code == SalesClosed.code:
        return SalesClosed(
            "The event was cancelled while the payment ran; the charge was refunded.",
            extra={**extra, "event_status": "cancelled"},
        )
    if code == PaymentFailed.code:
        return PaymentFailed(
            "The payment was given up and its charge refunded; please pay again.", extra=extra
        )
    return HoldExpired("The hold expired while the payment ran; the charge was refunded.", extra=extra)


def _complete(*, attempt: Payment, result: PaymentResult, now: dt.datetime) -> Order:
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        record = lock_one(IdempotencyRecord.objects.filter(pk=attempt.idempotency_id))
        # The event's status comes with the hold. event_cancel commits the status, then ends
        # live holds waiting for this lock: either it ends this hold after we commit (and
        # refunds the order), or we see the cancellation here.
        hold = lock_one(Hold.objects.filter(pk=attempt.hold_id).select_related("event", "user"))
        attempt = lock_one(Payment.objects.filter(pk=attempt.pk))
        if attempt.order_id:  # a same-key retry or recovery finished it first: the same answer
            return Order.objects.get(pk=attempt.order_id)
        if attempt.status != PaymentStatus.PENDING:
            # Refunded by another path, or given up as never charged while this charge ran.
            raise _Lost(attempt.outcome or PaymentFailed.code)
        if hold is not None and hold.event.status == EventStatus.CANCELLED:
            raise _Lost(SalesClosed.code)
        if hold is None or hold.status != HoldStatus.PAYING:
            raise _Lost(HoldExpired.code)
        rows = lock_rows(SeatInventory.objects.filter(hold=hold))
        if not rows or len(rows) != attempt.seat_count:
            raise _Lost(HoldExpired.code)  # some seats were taken after the hold expired
        order = _order_write(hold=hold, attempt=attempt, rows=rows, now=now)
        if record is not None:
            IdempotencyRecord.objects.filter(pk=record.pk).update(order=order)
        payment_settle(attempt=attempt, result=result, now=now, order_id=order.pk)
        outbox_add(kind="order_confirmation", order=order)
        seat_ids = sorted(r.seat_id for r in rows)
        inventory_changed(
            event_id=hold.event_id,
            action=AuditAction.PURCHASED,
            at=now,
            seat_ids=seat_ids,
            actor=hold.user,
            hold_id=hold.pk,
            order_id=order.pk,
            data={"seat_ids": seat_ids, "total": str(attempt.amount), "payment": result.reference},
        )
        if hold.kind == HoldKind.OFFER:
            transaction.on_commit(lambda: hooks.offer_bought(event_id=hold.event_id, hold_id=hold.pk))
            # Counted here, when the offer is bought, rather than when the waitlist next
            # settles its offers (which waits for the next release of this event).
            transaction.on_commit(partial(metrics.waitlist_offer, outcome="taken"))
        transaction.on_commit(partial(metrics.hold_ended, how="converted"))
    return order


def _order_write(*, hold: Hold, attempt: Payment, rows: list[SeatInventory], now: dt.datetime) -> Order:
    """The order, its tickets, the seats sold, the hold converted. Caller holds the locks."""
    prices = {p.section_id: p.amount for p in Price.objects.filter(event_id=hold.event_id)}
    order = Order.objects.create(
        event_id=hold.event_id,
        user_id=hold.user_id,
        hold=hold,
        status=OrderStatus.PAID,
        buyer_name=attempt.buyer_name,
        buyer_email=attempt.buyer_email,
        total=attempt.amount,
        currency=attempt.currency,
        created_at=now,
    )
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                order=order,
                event_id=hold.event_id,
                seat_id=r.seat_id,
                section_id=r.section_id,
                price=prices[r.section_id],
                created_at=now,
            )
            for r in rows
        ]
    )
    ticket_of = {t.seat_id: t.pk for t in tickets}
    # One UPDATE with only the ticket differing per row: bulk_update's CASE for every
    # field cost more CPU to build than the rest of the purchase's queries.
    SeatInventory.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=SeatStatus.SOLD,
        hold=None,
        hold_expires_at=None,
        order=order,
        updated_at=now,
        ticket_id=Case(*(When(pk=r.pk, then=Value(ticket_of[r.seat_id])) for r in rows)),
    )
    Hold.objects.filter(pk=hold.pk).update(status=HoldStatus.CONVERTED, ended_at=now)
    return order


def purchase_abandon(
    *, attempt_id: int, result: PaymentResult, now: dt.datetime, outcome: str = "", actor: Any = None
) -> bool:
    """Settle a charge attempt that did not become an order, and give the hold back to its buyer
    (or end it, if its time is up). Returns False when another path settled it first (then
    nothing changes). An approved ``result`` comes with ``outcome`` (the buyer's answer): the
    charge is owed back, and ``purchase_refund_lost`` refunds it next.
    """
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        hold_id = _hold_of(attempt_id)
        hold = lock_one(Hold.objects.filter(pk=hold_id))
        attempt = lock_one(Payment.objects.filter(pk=attempt_id))
        late = result.approved and attempt.status in (PaymentStatus.FAILED, PaymentStatus.DECLINED)
        if attempt.order_id or (attempt.status != PaymentStatus.PENDING and not late):
            return False
        payment_settle(attempt=attempt, result=result, now=now, outcome=outcome)
        # A late answer's hold was already given back (and may be paying again for a new attempt).
        if hold is not None and hold.status == HoldStatus.PAYING and not late:
            if hold.expires_at > now and not outcome:
                Hold.objects.filter(pk=hold.pk).update(status=HoldStatus.ACTIVE)
            else:
                holds_end(hold_ids=[hold.pk], status=HoldStatus.EXPIRED, now=now, reason="expired")
        audit_record(
            action=AuditAction.PURCHASE_REFUSED,
            at=now,
            actor=actor or (hold.user if hold else None),
            event_id=hold.event_id if hold else None,
            hold_id=hold_id,
            reason=(outcome or result.status).lower(),
            data={"payment": attempt.idempotency_key},
        )
    return True


def purchase_refund_lost(*, attempt_id: int, result: PaymentResult, code: str, now: dt.datetime) -> bool:
    """An approved charge that cannot become an order: record it as owed back, then refund it.
    Returns whether the refund was approved (if not, recovery tries again)."""
    purchase_abandon(attempt_id=attempt_id, result=result, now=now, outcome=code)
    attempt = Payment.objects.get(pk=attempt_id)
    if attempt.order_id:  # another path made the order after all: nothing is owed
        return False
    refund = payment_refund(charge=attempt, reason=code.lower(), now=now)
    return refund.status == PaymentStatus.APPROVED
