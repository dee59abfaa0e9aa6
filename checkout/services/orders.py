"""Purchase and cancellation.

Purchase never holds a lock while the payment provider is called::

    lock record + hold + seats -> check -> "paying", stretch expiry, pending attempt -> COMMIT
    charge under the attempt's key (no transaction, no lock)
    lock record + hold + attempt + seats -> re-check -> order, tickets, seats sold -> COMMIT
                      \\-> the seats are gone after an approved charge: refund, record, answer

The pending attempt is what makes a crash recoverable: whatever dies, a row says which
charge may have been made (docs/payments.md). The steps after the provider answered live in
``checkout/services/purchase.py``, shared with the recovery task.

Idempotency: one ``IdempotencyRecord`` per (buyer, key) remembers the request's hash and,
once done, the order. While a hold is ``paying`` every other purchase of it waits (briefly)
for the outcome; a same-key retry that finds its attempt still pending after that wait (the
first request died, or lost the database) resumes it under the same provider key, so a double
submit charges once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

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
    HoldStatus,
    IdempotencyRecord,
    Order,
    OrderStatus,
    Payment,
    PaymentKind,
    PaymentStatus,
    SeatInventory,
    SeatStatus,
    TicketStatus,
)
from checkout.payments import payment_provider, uses_intents
from checkout.services import pricing
from checkout.services.common import audit_refusal, inventory_change_ctes, inventory_changed, params_merged
from checkout.services.holds import hold_lock_own
from checkout.services.payments import (
    PAYMENT_ATTEMPT_INSERT_SQL,
    payment_attempt_params,
    payment_charge,
    payment_refund,
    payment_resume,
)
from checkout.services.purchase import purchase_finish, refused_answer
from events.models import EventStatus, Price
from ticketing.core import sql
from ticketing.core.errors import ApplicationError, Busy, ValidationFailed
from ticketing.core.locks import (
    LOCK_TIMEOUT_SQL,
    busy_on_lock_timeout,
    lock_one,
    lock_rows,
    lock_rows_sql,
    lock_timeout_value,
    set_lock_timeout,
)
from ticketing.ops import metrics

logger = logging.getLogger(__name__)

_PAYMENT_METHOD = re.compile(r"(pm|card)_[A-Za-z0-9]{1,36}")

# How long a second submit of the same purchase waits for the first one's outcome; a same-key
# retry whose attempt is older than this resumes it instead of waiting.
PURCHASE_WAIT_SECONDS = 10.0


def request_hash(*, hold_id: int, buyer_name: str, buyer_email: str, card_number: str) -> str:
    body = {"hold_id": hold_id, "name": buyer_name, "email": buyer_email.lower(), "card": card_number}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _validate(
    buyer_name: str, buyer_email: str, card_number: str, idempotency_key: str
) -> tuple[str, str, str]:
    name = (buyer_name or "").strip()
    if not name or len(name) > 200:
        raise ValidationFailed(gettext("Give the buyer's name (at most 200 characters)."))
    email = (buyer_email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationFailed(gettext("Give a valid e-mail address for the tickets.")) from exc
    card = "".join(ch for ch in card_number or "" if not ch.isspace() and ch != "-")
    if uses_intents(payment_provider()):
        # The card itself never reaches this server: Stripe.js sends its PaymentMethod id.
        if not _PAYMENT_METHOD.fullmatch(card):
            raise ValidationFailed(gettext("Pay with the card form (a payment method id is expected)."))
    elif not card.isdigit():
        raise ValidationFailed(gettext("The card number has digits only."))
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationFailed(gettext("An Idempotency-Key header (1-200 characters) is required."))
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
    began = time.monotonic()
    pause = 0.05
    while True:
        waited = time.monotonic() - began
        final = waited >= PURCHASE_WAIT_SECONDS
        try:
            started = _purchase_begin(
                user=user,
                hold_id=hold_id,
                key=idempotency_key,
                digest=digest,
                buyer=(name, email),
                now=now,
                clock=now + dt.timedelta(seconds=waited),
                final=final,
            )
        except (HoldExpired, HoldNotActive, SalesClosed) as exc:
            audit_refusal(
                action=AuditAction.PURCHASE_REFUSED, at=now, actor=user, hold_id=hold_id, reason=exc.code
            )
            raise
        if isinstance(started, Order):
            return started
        if started is not None:
            break
        if final:
            raise PurchaseInProgress(extra={"hold_id": hold_id})
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
    attempt, resumed = started
    if resumed:
        result = payment_resume(attempt=attempt, card_number=card)
    else:
        result = payment_charge(attempt=attempt, card_number=card)
    return purchase_finish(attempt=attempt, result=result, now=now)


def _purchase_begin(
    *,
    user: Any,
    hold_id: int,
    key: str,
    digest: str,
    buyer: tuple[str, str],
    now: dt.datetime,
    clock: dt.datetime,
    final: bool,
) -> Order | tuple[Payment, bool] | None:
    """Claim the hold for one payment. Returns the finished order (replay), ``(attempt,
    resumed)`` to charge, or ``None`` when another request is paying for the hold right now.

    Locks the idempotency record, then the hold, then its seats: the order every purchase
    path uses (docs/payments.md), so concurrent same-key submits cannot deadlock.
    """
    with busy_on_lock_timeout(), transaction.atomic():
        record = _record_claim(user=user, key=key, digest=digest, now=now)
        if record.request_hash != digest:
            raise IdempotencyConflict(extra={"idempotency_key": key})
        if record.order_id:
            return Order.objects.get(pk=record.order_id)
        hold = hold_lock_own(user, hold_id)
        if hold.status == HoldStatus.PAYING:
            return _paying_attempt(hold_id=hold.pk, record=record, clock=clock, final=final)
        if hold.status != HoldStatus.ACTIVE:
            # Ended (its seats taken after it expired, or its event cancelled) while this
            # request's charge was pending: resume it now, to complete or refund it.
            pending = _paying_attempt(hold_id=hold.pk, record=record, clock=clock, final=True)
            if pending is not None:
                return pending
            _replay_refund(record=record, hold_id=hold.pk)
        if hold.status == HoldStatus.EXPIRED or (hold.status == HoldStatus.ACTIVE and hold.expires_at <= now):
            raise HoldExpired(extra={"hold_id": hold.pk})
        if hold.status != HoldStatus.ACTIVE:
            raise HoldNotActive(extra={"hold_id": hold.pk, "status": hold.status})
        event = hold.event  # read with the hold's lock
        if event.status != EventStatus.ON_SALE or now >= event.starts_at:
            raise SalesClosed(extra={"event_status": event.status})
        return _hold_to_paying(user=user, hold=hold, record=record, buyer=buyer, now=now), False


_RECORD_INSERT_SQL = f"""
    INSERT INTO checkout_idempotencyrecord (user_id, key, request_hash, created_at)
    SELECT %s, %s, %s, %s FROM (SELECT {LOCK_TIMEOUT_SQL}) AS lock_timeout
    ON CONFLICT DO NOTHING
    RETURNING id
"""


def _record_claim(*, user: Any, key: str, digest: str, now: dt.datetime) -> IdempotencyRecord:
    """Insert or lock the buyer's idempotency record for ``key``: the first lock of a purchase.

    The insert also sets the transaction's lock timeout (before it can wait on a concurrent
    same-key insert). A new row is this transaction's until it commits, so only a key seen
    before needs the row lock (``lock_one``).
    """
    inserted = sql.row(_RECORD_INSERT_SQL, [user.pk, key, digest, now, lock_timeout_value()])
    if inserted is not None:
        return IdempotencyRecord(
            id=inserted[0], user_id=user.pk, key=key, request_hash=digest, created_at=now
        )
    return lock_one(IdempotencyRecord.objects.filter(user=user, key=key))


# The hold paying, its seats' expiry stretched, the record pointing at the hold, the pending
# attempt written (its owner's insert) and the change counted and audited (``{inventory}``, the
# owner's CTEs): one round trip.
_TO_PAYING_SQL = f"""
    WITH hold AS (
        UPDATE checkout_hold SET status = %(paying)s, expires_at = %(until)s WHERE id = %(hold)s
    ), seats AS (
        UPDATE checkout_seatinventory SET hold_expires_at = %(until)s, updated_at = %(now)s
         WHERE id = ANY(%(rows)s)
    ), record AS (
        UPDATE checkout_idempotencyrecord SET hold_id = %(hold)s WHERE id = %(record)s
    ), {{inventory}}
    {PAYMENT_ATTEMPT_INSERT_SQL}
"""


def _hold_to_paying(
    *, user: Any, hold: Hold, record: IdempotencyRecord, buyer: tuple[str, str], now: dt.datetime
) -> Payment:
    """Lock the hold's seats, stretch its expiry, mark it paying and write the pending attempt.
    Precondition: inside begin's transaction, record and hold locked (in that order)."""
    # A seat's line was fixed when it was held (services/pricing); seats held before that existed have
    # only the standard price.
    rows = lock_rows_sql(
        table="checkout_seatinventory",
        columns="checkout_seatinventory.id,"
        " COALESCE(checkout_seatinventory.price, p.amount) - COALESCE(checkout_seatinventory.discount, 0)"
        " + COALESCE(checkout_seatinventory.fee, 0), p.currency",
        joins="LEFT JOIN events_price p ON p.event_id = checkout_seatinventory.event_id"
        " AND p.section_id = checkout_seatinventory.section_id",
        where="checkout_seatinventory.hold_id = %s",
        params=[hold.pk],
    )
    if any(amount is None for _, amount, _ in rows):
        raise RuntimeError(f"hold {hold.pk} has a seat without a price")
    amount = sum((amount for _, amount, _ in rows), Decimal("0")) + (hold.order_fee if rows else 0)
    currency = (
        rows[0][2]
        if rows
        else Price.objects.filter(event_id=hold.event_id).values_list("currency", flat=True)[0]
    )
    # The buyer gets the full payment window even when the hold was about to expire; the
    # sweeper leaves a paying hold alone while its attempt is pending.
    window_end = max(hold.expires_at, now + dt.timedelta(seconds=settings.TICKETING_PAYMENT_WINDOW_SECONDS))
    hold.status = HoldStatus.PAYING
    hold.expires_at = window_end
    record.hold_id = hold.pk
    attempt, attempt_params = payment_attempt_params(
        hold=hold,
        record=record,
        amount=amount,
        currency=currency,
        seat_count=len(rows),
        buyer_name=buyer[0],
        buyer_email=buyer[1],
        now=now,
    )
    inventory, inventory_params = inventory_change_ctes(
        event_id=hold.event_id,
        action=AuditAction.PURCHASE_STARTED,
        at=now,
        actor=user,
        hold_id=hold.pk,
        data={"amount": str(amount), "currency": currency, "payment": attempt.idempotency_key},
    )
    params = params_merged(
        {
            "paying": HoldStatus.PAYING,
            "until": window_end,
            "hold": hold.pk,
            "now": now,
            "rows": [r[0] for r in rows],
            "record": record.pk,
        },
        attempt_params,
        inventory_params,
    )
    attempt.pk = sql.row(_TO_PAYING_SQL.format(inventory=inventory), params)[0]
    return attempt


def _paying_attempt(
    *, hold_id: int, record: IdempotencyRecord, clock: dt.datetime, final: bool
) -> tuple[Payment, bool] | None:
    """The hold is being paid for: resume its pending attempt when it is this request's own
    and has waited long enough (its first request died or lost the database), else wait."""
    attempt = Payment.objects.filter(
        hold_id=hold_id, kind=PaymentKind.CHARGE, status=PaymentStatus.PENDING
    ).first()
    if attempt is None or attempt.idempotency_id != record.pk:
        return None
    stale = clock - attempt.created_at >= dt.timedelta(seconds=PURCHASE_WAIT_SECONDS)
    return (attempt, True) if stale or final else None


def _replay_refund(*, record: IdempotencyRecord, hold_id: int) -> None:
    """A retry of a purchase whose charge was refunded gets the first answer again."""
    attempt = (
        Payment.objects.filter(idempotency=record, kind=PaymentKind.CHARGE, status=PaymentStatus.APPROVED)
        .exclude(outcome="")
        .order_by("-pk")
        .first()
    )
    if attempt is not None:
        refunded = attempt.refunds.filter(status=PaymentStatus.APPROVED).exists()
        raise refused_answer(code=attempt.outcome, hold_id=hold_id, refunded=refunded)


def order_cancel(*, order_id: int, actor: Any, now: dt.datetime | None = None, reason: str = "") -> Order:
    """Cancel a paid order: refund, void its tickets, free its seats for the next buyer.

    The buyer may cancel before the event starts; staff may cancel any time, and so may the
    system (``actor=None``: the provider refunded the order from its dashboard). Cancelling a
    cancelled order changes nothing. ``reason`` goes into the audit row (default ``buyer`` or
    ``staff``; event cancellation passes ``event_cancelled``). Raises ``OrderNotFound`` (also
    for other buyers' orders), ``OrderNotCancellable``, ``PaymentFailed`` (refund refused: nothing changed) or
    ``Busy``. The refund (``payment_refund``) runs outside any lock, keyed per order so two
    concurrent cancels refund once.
    """
    now = now or timezone.now()
    is_staff = actor is None or bool(getattr(actor, "is_staff", False))
    order = Order.objects.select_related("event").filter(pk=order_id).first()
    if order is None or (not is_staff and order.user_id != getattr(actor, "pk", None)):
        raise OrderNotFound(extra={"order_id": order_id})
    if order.status == OrderStatus.CANCELLED:
        return order
    if not is_staff:
        if now >= order.event.starts_at:
            raise OrderNotCancellable(gettext("The event has started; ask the organiser."))
        if order.tickets.filter(status=TicketStatus.USED).exists():
            raise OrderNotCancellable(gettext("A ticket of this order was already used."))
        # A ticket given away belongs to its new holder: the buyer cannot refund it from under them.
        if order.tickets.filter(transferred_at__isnull=False).exists():
            raise OrderNotCancellable(gettext("A ticket of this order was given to someone else."))
    who = reason or ("staff" if is_staff and order.user_id != getattr(actor, "pk", None) else "buyer")
    charge = (
        Payment.objects.filter(order=order, kind=PaymentKind.CHARGE, status=PaymentStatus.APPROVED)
        .order_by("-id")
        .first()
    )
    if charge is not None:
        refund = payment_refund(
            charge=charge, reason=who, now=now, actor=actor, key=f"refund-order-{order.pk}"
        )
        if refund.status != PaymentStatus.APPROVED:
            raise PaymentFailed(
                gettext("The refund could not be made; the order is unchanged. Please retry.")
            )
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        order = lock_one(Order.objects.filter(pk=order_id))
        if order.status == OrderStatus.CANCELLED:
            return order
        rows = lock_rows(SeatInventory.objects.filter(order=order))
        seat_ids = sorted(r.seat_id for r in rows)
        pricing.quota_return_order(order_id=order.pk)
        SeatInventory.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=SeatStatus.AVAILABLE, order=None, ticket=None, updated_at=now
        )
        voided = order.tickets.exclude(status=TicketStatus.VOID).update(status=TicketStatus.VOID)
        order.status, order.cancelled_at = OrderStatus.CANCELLED, now
        order.save(update_fields=["status", "cancelled_at"])
        inventory_changed(
            event_id=order.event_id,
            action=AuditAction.ORDER_CANCELLED,
            at=now,
            seat_ids=seat_ids,
            released_reason="cancelled",
            actor=actor,
            order_id=order.pk,
            reason=who,
            data={"seat_ids": seat_ids, "tickets_voided": voided, "refunded": charge is not None},
        )
    return order
