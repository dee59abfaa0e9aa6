"""Purchase and cancellation.

Purchase never holds a lock while the payment provider is called::

    lock hold + seats -> check -> mark "paying", stretch expiry -> COMMIT
    charge (no transaction, no lock)
    lock hold + seats -> re-check -> order, tickets, seats sold, hold converted -> COMMIT
                      \\-> anything fails after an approved charge: refund, record, hold back

Idempotency: one ``IdempotencyRecord`` per (buyer, key) remembers the request's hash and,
once done, the order. While a hold is ``paying`` every other purchase of it waits (briefly)
for the outcome, so a double submit charges once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone

from checkout.errors import (
    HoldExpired,
    HoldNotActive,
    IdempotencyConflict,
    OrderNotCancellable,
    OrderNotFound,
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
    PaymentKind,
    PaymentStatus,
    SeatInventory,
    SeatStatus,
    Ticket,
    TicketStatus,
)
from checkout.payments import PaymentResult, payment_provider
from checkout.services import hooks
from checkout.services.common import announce_after_commit, audit_record, audit_refusal
from checkout.services.holds import hold_lock_own, holds_end
from checkout.services.versions import inventory_version_bump
from events.models import EventStatus, Price
from ticketing.core.errors import ApplicationError, Busy, ValidationFailed
from ticketing.core.locks import busy_on_lock_timeout, lock_one, lock_rows, set_lock_timeout
from ticketing.ops import metrics

logger = logging.getLogger(__name__)

# How long a second submit of the same purchase waits for the first one's outcome.
PURCHASE_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class _Started:
    hold_id: int
    event_id: int
    seat_ids: list[int]
    amount: Decimal
    currency: str
    provider_key: str


class _Lost(Exception):
    """The hold changed while the card was charged (expired by the sweeper, or its seats)."""


def request_hash(*, hold_id: int, buyer_name: str, buyer_email: str, card_number: str) -> str:
    body = {"hold_id": hold_id, "name": buyer_name, "email": buyer_email.lower(), "card": card_number}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _validate(
    buyer_name: str, buyer_email: str, card_number: str, idempotency_key: str
) -> tuple[str, str, str]:
    name = (buyer_name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed("Give the buyer's name (at most 200 characters).")
    email = (buyer_email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed("Give a valid e-mail address for the tickets.") from exc
    card = "".join(ch for ch in card_number or "" if not ch.isspace() and ch != "-")
    if not card.isdigit():
        raise ValidationFailed("The card number has digits only.")
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationFailed("An Idempotency-Key header (1-200 characters) is required.")
    return name, email, card


def order_purchase(
    *,
    user: Any,
    hold_id: int,
    buyer_name: str,
    buyer_email: str,
    card_number: str,
    idempotency_key: str,
    now: dt.datetime | None = None,
) -> Order:
    """Pay for a hold and turn it into an order with one ticket per seat.

    The same ``idempotency_key`` with the same request returns the same order and charges
    once, also when both arrive at once; with a different request it raises
    ``IdempotencyConflict``. Raises ``ValidationFailed``, ``HoldNotFound``, ``HoldExpired``,
    ``HoldNotActive``, ``SalesClosed``, ``PaymentDeclined`` / ``PaymentFailed`` (the hold stays
    and can be paid again), ``PurchaseInProgress`` (another request is still paying; retry)
    and ``Busy``. If the order cannot be written after an approved charge, the charge is
    refunded (and recorded) before the error is raised.
    """
    began = time.perf_counter()
    outcome = "failed"
    try:
        order = _purchase(
            user=user,
            hold_id=hold_id,
            buyer_name=buyer_name,
            buyer_email=buyer_email,
            card_number=card_number,
            idempotency_key=idempotency_key,
            now=now or timezone.now(),
        )
        outcome = "success"
        return order
    except PaymentDeclined:
        outcome = "declined"
        raise
    except PaymentFailed:
        outcome = "failed"
        raise
    except (Busy, PurchaseInProgress):
        outcome = "busy"
        raise
    except ApplicationError:
        outcome = "refused"
        raise
    finally:
        metrics.purchase_finished(outcome=outcome, seconds=time.perf_counter() - began)


def _purchase(
    *,
    user: Any,
    hold_id: int,
    buyer_name: str,
    buyer_email: str,
    card_number: str,
    idempotency_key: str,
    now: dt.datetime,
) -> Order:
    name, email, card = _validate(buyer_name, buyer_email, card_number, idempotency_key)
    digest = request_hash(hold_id=hold_id, buyer_name=name, buyer_email=email, card_number=card)
    deadline = time.monotonic() + PURCHASE_WAIT_SECONDS
    pause = 0.05
    while True:
        try:
            started = _purchase_begin(user=user, hold_id=hold_id, key=idempotency_key, digest=digest, now=now)
        except (HoldExpired, HoldNotActive, SalesClosed) as exc:
            audit_refusal(
                action=AuditAction.PURCHASE_REFUSED, at=now, actor=user, hold_id=hold_id, reason=exc.code
            )
            raise
        if isinstance(started, Order):
            return started
        if started is not None:
            break
        if time.monotonic() >= deadline:
            raise PurchaseInProgress(extra={"hold_id": hold_id})
        time.sleep(pause)
        pause = min(pause * 2, 0.5)

    provider = payment_provider()
    try:
        result = provider.charge(
            amount=started.amount,
            currency=started.currency,
            card_number=card,
            idempotency_key=started.provider_key,
            description=f"Tickets, hold {started.hold_id}",
        )
    except Exception as exc:  # a provider outage must leave the hold payable again
        logger.exception("payment provider failed on %s", started.provider_key)
        result = PaymentResult(PaymentStatus.FAILED, message=str(exc)[:300])

    charge = _payment_record(started=started, kind=PaymentKind.CHARGE, result=result, provider=provider.name)
    if not result.approved:
        _purchase_abandon(user=user, started=started, reason=result.status, now=now)
        if result.status == PaymentStatus.DECLINED:
            raise PaymentDeclined(extra={"hold_id": started.hold_id})
        raise PaymentFailed(extra={"hold_id": started.hold_id})

    try:
        return _purchase_complete(
            user=user,
            started=started,
            key=idempotency_key,
            charge=charge,
            buyer_name=name,
            buyer_email=email,
            now=now,
        )
    except Exception as exc:
        refund = _refund(charge=charge, provider=provider, key=f"refund-{started.provider_key}")
        _purchase_abandon(user=user, started=started, reason="completion_failed", now=now, refund=refund)
        if isinstance(exc, _Lost) and exc.args == ("cancelled",):
            raise SalesClosed(
                "The event was cancelled while the payment ran; the charge was refunded.",
                extra={"hold_id": started.hold_id, "event_status": "cancelled", "refunded": refund.approved},
            ) from exc
        if isinstance(exc, _Lost):
            raise HoldExpired(
                "The hold expired while the payment ran; the charge was refunded.",
                extra={"hold_id": started.hold_id, "refunded": refund.approved},
            ) from exc
        raise


def _purchase_begin(
    *, user: Any, hold_id: int, key: str, digest: str, now: dt.datetime
) -> Order | _Started | None:
    """Claim the hold for one payment. Returns the finished order (replay), the started
    payment, or ``None`` when another request is paying for the hold right now."""
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        IdempotencyRecord.objects.bulk_create(
            [IdempotencyRecord(user=user, key=key, request_hash=digest, created_at=now)],
            ignore_conflicts=True,
        )
        record = lock_one(IdempotencyRecord.objects.filter(user=user, key=key))
        if record.request_hash != digest:
            raise IdempotencyConflict(extra={"idempotency_key": key})
        if record.order_id:
            return Order.objects.get(pk=record.order_id)
        hold = hold_lock_own(user, hold_id)
        if hold.status == HoldStatus.PAYING:
            return None
        if hold.status == HoldStatus.EXPIRED or (hold.status == HoldStatus.ACTIVE and hold.expires_at <= now):
            raise HoldExpired(extra={"hold_id": hold.pk})
        if hold.status != HoldStatus.ACTIVE:
            raise HoldNotActive(extra={"hold_id": hold.pk, "status": hold.status})
        event = hold.event
        if event.status != EventStatus.ON_SALE or now >= event.starts_at:
            raise SalesClosed(extra={"event_status": event.status})
        rows = lock_rows(SeatInventory.objects.filter(hold=hold))
        prices = {p.section_id: p for p in Price.objects.filter(event_id=hold.event_id)}
        amount = sum((prices[r.section_id].amount for r in rows), Decimal("0"))
        currency = next(iter(prices.values())).currency
        # The buyer gets the full payment window even when the hold was about to expire; the
        # sweeper leaves a paying hold alone until this stretched expiry.
        window_end = max(
            hold.expires_at, now + dt.timedelta(seconds=settings.TICKETING_PAYMENT_WINDOW_SECONDS)
        )
        hold.status = HoldStatus.PAYING
        hold.expires_at = window_end
        hold.save(update_fields=["status", "expires_at"])
        SeatInventory.objects.filter(pk__in=[r.pk for r in rows]).update(
            hold_expires_at=window_end, updated_at=now
        )
        record.hold = hold
        record.save(update_fields=["hold"])
        attempt = Payment.objects.filter(hold=hold, kind=PaymentKind.CHARGE).count() + 1
        inventory_version_bump(event_id=hold.event_id)
        audit_record(
            action=AuditAction.PURCHASE_STARTED,
            at=now,
            actor=user,
            event_id=hold.event_id,
            hold_id=hold.pk,
            data={"amount": str(amount), "currency": currency, "attempt": attempt},
        )
        return _Started(
            hold_id=hold.pk,
            event_id=hold.event_id,
            seat_ids=sorted(r.seat_id for r in rows),
            amount=amount,
            currency=currency,
            provider_key=f"charge-hold-{hold.pk}-{attempt}",
        )


def _payment_record(
    *, started: _Started, kind: str, result: PaymentResult, provider: str, order: Order | None = None
) -> Payment:
    # Its own transaction: what the provider did is a fact, whatever happens to the order.
    with transaction.atomic():
        return Payment.objects.create(
            hold_id=started.hold_id,
            order=order,
            kind=kind,
            status=result.status,
            amount=started.amount,
            currency=started.currency,
            provider=provider,
            reference=result.reference,
            idempotency_key=started.provider_key,
            message=result.message[:300],
        )


def _purchase_complete(
    *,
    user: Any,
    started: _Started,
    key: str,
    charge: Payment,
    buyer_name: str,
    buyer_email: str,
    now: dt.datetime,
) -> Order:
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        # The event's status comes with the hold (no extra query). event_cancel commits the
        # status, then ends live holds waiting for this lock: either it ends this hold after
        # we commit (and refunds the order), or we see the cancellation here.
        hold = lock_one(Hold.objects.filter(pk=started.hold_id, user=user).select_related("event"))
        if hold is None:
            raise _Lost()
        if hold.event.status == EventStatus.CANCELLED:
            raise _Lost("cancelled")
        if hold.status != HoldStatus.PAYING:
            raise _Lost()
        rows = lock_rows(SeatInventory.objects.filter(hold=hold))
        if sorted(r.seat_id for r in rows) != started.seat_ids:
            raise _Lost()
        prices = {p.section_id: p.amount for p in Price.objects.filter(event_id=hold.event_id)}
        order = Order.objects.create(
            event_id=hold.event_id,
            user=user,
            hold=hold,
            status=OrderStatus.PAID,
            buyer_name=buyer_name,
            buyer_email=buyer_email,
            total=started.amount,
            currency=started.currency,
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
        IdempotencyRecord.objects.filter(user=user, key=key).update(order=order)
        Payment.objects.filter(pk=charge.pk).update(order=order)
        inventory_version_bump(event_id=hold.event_id)
        audit_record(
            action=AuditAction.PURCHASED,
            at=now,
            actor=user,
            event_id=hold.event_id,
            hold_id=hold.pk,
            order_id=order.pk,
            data={"seat_ids": started.seat_ids, "total": str(started.amount), "payment": charge.reference},
        )
        announce_after_commit(event_id=hold.event_id, seat_ids=started.seat_ids)
        if hold.kind == HoldKind.OFFER:
            transaction.on_commit(lambda: hooks.offer_bought(event_id=hold.event_id, hold_id=hold.pk))
        transaction.on_commit(lambda: _queue_confirmation(order.pk))
        transaction.on_commit(partial(metrics.hold_ended, how="converted"))
        if hold.kind == HoldKind.OFFER:
            # Counted here, when the offer is bought, rather than when the waitlist next
            # settles its offers (which waits for the next release of this event).
            transaction.on_commit(partial(metrics.waitlist_offer, outcome="taken"))
    return order


def _queue_confirmation(order_id: int) -> None:
    from django_q.tasks import async_task

    try:
        async_task("checkout.tasks.order_confirmation_send", order_id, task_name=f"confirm-order-{order_id}")
    except Exception:  # the sale stands; the mail can be re-sent from the admin
        logger.exception("could not queue the confirmation of order %s", order_id)


def _refund(*, charge: Payment, provider: Any, key: str) -> PaymentResult:
    try:
        result = provider.refund(
            reference=charge.reference, amount=charge.amount, currency=charge.currency, idempotency_key=key
        )
    except Exception as exc:
        logger.exception("refund %s failed", key)
        result = PaymentResult(PaymentStatus.FAILED, message=str(exc)[:300])
    with transaction.atomic():
        Payment.objects.create(
            hold_id=charge.hold_id,
            order_id=charge.order_id,
            kind=PaymentKind.REFUND,
            status=result.status,
            amount=charge.amount,
            currency=charge.currency,
            provider=charge.provider,
            reference=result.reference or charge.reference,
            idempotency_key=key,
            message=result.message[:300],
        )
        if result.approved:
            audit_record(
                action=AuditAction.PAYMENT_REFUNDED,
                at=timezone.now(),
                hold_id=charge.hold_id,
                order_id=charge.order_id,
                reason="refund",
                data={"amount": str(charge.amount), "charge": charge.reference},
            )
    if not result.approved:
        logger.error(
            "refund of %s NOT approved: %s; needs manual follow-up", charge.reference, result.message
        )
    return result


def _purchase_abandon(
    *, user: Any, started: _Started, reason: str, now: dt.datetime, refund: PaymentResult | None = None
) -> None:
    """Give the hold back to its buyer after a failed payment (or end it, if its time is up)."""
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        hold = lock_one(Hold.objects.filter(pk=started.hold_id))
        if hold is not None and hold.status == HoldStatus.PAYING:
            if hold.expires_at > now:
                Hold.objects.filter(pk=hold.pk).update(status=HoldStatus.ACTIVE)
            else:
                holds_end(hold_ids=[hold.pk], status=HoldStatus.EXPIRED, now=now, reason="expired")
        audit_record(
            action=AuditAction.PURCHASE_REFUSED,
            at=now,
            actor=user,
            event_id=started.event_id,
            hold_id=started.hold_id,
            reason=reason,
            data={"refunded": refund.approved} if refund else {},
        )


def order_cancel(*, order_id: int, actor: Any, now: dt.datetime | None = None, reason: str = "") -> Order:
    """Cancel a paid order: refund, void its tickets, free its seats for the next buyer.

    The buyer may cancel before the event starts; staff may cancel any time. Cancelling a
    cancelled order changes nothing. ``reason`` goes into the audit row (default ``buyer`` or
    ``staff``; event cancellation passes ``event_cancelled``). Raises ``OrderNotFound`` (also
    for other buyers' orders), ``OrderNotCancellable``, ``PaymentFailed`` (refund refused: nothing changed) or
    ``Busy``. The refund runs outside any lock, keyed per order so two concurrent cancels
    refund once.
    """
    now = now or timezone.now()
    is_staff = bool(getattr(actor, "is_staff", False))
    order = Order.objects.select_related("event").filter(pk=order_id).first()
    if order is None or (not is_staff and order.user_id != getattr(actor, "pk", None)):
        raise OrderNotFound(extra={"order_id": order_id})
    if order.status == OrderStatus.CANCELLED:
        return order
    if not is_staff:
        if now >= order.event.starts_at:
            raise OrderNotCancellable("The event has started; ask the organiser.")
        if order.tickets.filter(status=TicketStatus.USED).exists():
            raise OrderNotCancellable("A ticket of this order was already used.")
    charge = (
        Payment.objects.filter(order=order, kind=PaymentKind.CHARGE, status=PaymentStatus.APPROVED)
        .order_by("-id")
        .first()
    )
    refund_key = f"refund-order-{order.pk}"
    if (
        charge is not None
        and not Payment.objects.filter(
            idempotency_key=refund_key, kind=PaymentKind.REFUND, status=PaymentStatus.APPROVED
        ).exists()
    ):
        provider = payment_provider()
        try:
            result = provider.refund(
                reference=charge.reference,
                amount=charge.amount,
                currency=charge.currency,
                idempotency_key=refund_key,
            )
        except Exception as exc:
            logger.exception("refund of order %s failed", order.pk)
            result = PaymentResult(PaymentStatus.FAILED, message=str(exc)[:300])
        with transaction.atomic():
            Payment.objects.create(
                hold_id=charge.hold_id,
                order=order,
                kind=PaymentKind.REFUND,
                status=result.status,
                amount=charge.amount,
                currency=charge.currency,
                provider=charge.provider,
                reference=result.reference,
                idempotency_key=refund_key,
                message=result.message[:300],
            )
        if not result.approved:
            raise PaymentFailed("The refund could not be made; the order is unchanged. Please retry.")
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        order = lock_one(Order.objects.filter(pk=order_id))
        if order.status == OrderStatus.CANCELLED:
            return order
        rows = lock_rows(SeatInventory.objects.filter(order=order))
        seat_ids = sorted(r.seat_id for r in rows)
        SeatInventory.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=SeatStatus.AVAILABLE, order=None, ticket=None, updated_at=now
        )
        voided = order.tickets.exclude(status=TicketStatus.VOID).update(status=TicketStatus.VOID)
        order.status, order.cancelled_at = OrderStatus.CANCELLED, now
        order.save(update_fields=["status", "cancelled_at"])
        inventory_version_bump(event_id=order.event_id)
        audit_record(
            action=AuditAction.ORDER_CANCELLED,
            at=now,
            actor=actor,
            event_id=order.event_id,
            order_id=order.pk,
            reason=reason
            or ("staff" if is_staff and order.user_id != getattr(actor, "pk", None) else "buyer"),
            data={"seat_ids": seat_ids, "tickets_voided": voided, "refunded": charge is not None},
        )
        announce_after_commit(event_id=order.event_id, seat_ids=seat_ids, released_reason="cancelled")
    return order
