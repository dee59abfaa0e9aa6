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
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from django.db import DatabaseError, transaction

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
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    SeatStatus,
    Ticket,
    TicketStatus,
)
from checkout.payments import PaymentResult
from checkout.services import admission, hooks
from checkout.services.common import audit_record, inventory_change_ctes, params_merged
from checkout.services.holds import holds_end
from checkout.services.outbox import OUTBOX_INSERT_SQL, outbox_params, outbox_written
from checkout.services.payments import (
    PAYMENT_SETTLE_SQL,
    payment_refund,
    payment_settle,
    payment_settled_params,
)
from events.models import Event, EventStatus, Seat, Section, TicketType
from ticketing.core import sql
from ticketing.core.locks import (
    LOCK_TIMEOUT_SQL,
    busy_on_lock_timeout,
    lock_one,
    lock_rows_sql,
    lock_timeout_value,
    set_lock_timeout,
)
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


_ATTEMPT_FIELDS = [f.attname for f in Payment._meta.concrete_fields]
_HOLD_FIELDS = [f.attname for f in Hold._meta.concrete_fields]
# What the order's answer shows of the event, read with the hold's lock (model field order).
_EVENT_FIELDS = [
    f.attname
    for f in Event._meta.concrete_fields
    if f.attname in {"id", "status", "title", "starts_at", "sold_out"}
]


# The completion's first statement: the lock timeout set before the record's lock can wait
# (a volatile subquery in FROM is evaluated before the row is locked), one round trip fewer.
_RECORD_LOCK_SQL = f"""
    SELECT r.id FROM (SELECT {LOCK_TIMEOUT_SQL}) AS lock_timeout, checkout_idempotencyrecord r
     WHERE r.id = %s ORDER BY r.id FOR UPDATE OF r
"""


def _record_lock(record_id: int | None) -> int | None:
    """Set the transaction's lock timeout and lock the attempt's idempotency record (if any)."""
    if record_id is None:  # its record was deleted (the foreign key is SET_NULL): nothing to lock
        set_lock_timeout()
        return None
    with busy_on_lock_timeout():
        found = sql.row(_RECORD_LOCK_SQL, [lock_timeout_value(), record_id])
    return found[0] if found else None


def _complete(*, attempt: Payment, result: PaymentResult, now: dt.datetime) -> Order:
    with busy_on_lock_timeout(), transaction.atomic():
        record_id = _record_lock(attempt.idempotency_id)
        # The event's status comes with the hold. event_cancel commits the status, then ends
        # live holds waiting for this lock: either it ends this hold after we commit (and
        # refunds the order), or we see the cancellation here.
        hold = _hold_lock(attempt.hold_id)
        attempt = _attempt_lock(attempt.pk)
        if attempt.order_id:  # a same-key retry or recovery finished it first: the same answer
            return Order.objects.get(pk=attempt.order_id)
        if attempt.status != PaymentStatus.PENDING:
            # Refunded by another path, or given up as never charged while this charge ran.
            raise _Lost(attempt.outcome or PaymentFailed.code)
        if hold is not None and hold.event.status == EventStatus.CANCELLED:
            raise _Lost(SalesClosed.code)
        if hold is None or hold.status != HoldStatus.PAYING:
            raise _Lost(HoldExpired.code)
        seats = _seats_lock(hold.pk)
        if not seats or len(seats) != attempt.seat_count:
            raise _Lost(HoldExpired.code)  # some seats were taken after the hold expired
        order = _order_write(
            hold=hold, attempt=attempt, result=result, seats=seats, record_id=record_id, now=now
        )
        if hold.kind == HoldKind.OFFER:
            transaction.on_commit(lambda: hooks.offer_bought(event_id=hold.event_id, hold_id=hold.pk))
            # Counted here, when the offer is bought, rather than when the waitlist next
            # settles its offers (which waits for the next release of this event).
            transaction.on_commit(partial(metrics.waitlist_offer, outcome="taken"))
        transaction.on_commit(partial(metrics.hold_ended, how="converted"))
    return order


def _hold_lock(hold_id: int | None) -> Hold | None:
    """Lock the hold (any buyer's: the attempt names it), with the event fields ``_complete``
    uses and the id its order will have (``hold.order_id_drawn``): drawn here, every write of
    the completion can name the order, so one statement makes them all. An id drawn for an
    order that is not written is a gap in the sequence, as a rolled-back insert leaves."""
    found = lock_rows_sql(
        table="checkout_hold",
        columns=", ".join(
            [f"checkout_hold.{f}" for f in _HOLD_FIELDS]
            + [f"e.{f}" for f in _EVENT_FIELDS]
            + ["nextval(pg_get_serial_sequence('checkout_order', 'id'))"]
        ),
        joins="JOIN events_event e ON e.id = checkout_hold.event_id",
        where="checkout_hold.id = %s",
        params=[hold_id],
    )
    if not found:
        return None
    hold = Hold.from_db("default", _HOLD_FIELDS, found[0][: len(_HOLD_FIELDS)])
    hold.event = Event.from_db("default", _EVENT_FIELDS, found[0][len(_HOLD_FIELDS) : -1])
    hold.order_id_drawn = found[0][-1]
    return hold


def _attempt_lock(attempt_id: int) -> Payment:
    found = lock_rows_sql(
        table="checkout_payment",
        columns=", ".join(f"checkout_payment.{f}" for f in _ATTEMPT_FIELDS),
        where="checkout_payment.id = %s",
        params=[attempt_id],
    )
    return Payment.from_db("default", _ATTEMPT_FIELDS, found[0])


class _Seat(NamedTuple):
    """A locked inventory row of the hold, with what its ticket and the answer show."""

    pk: int
    seat_id: int
    section_id: int
    price: Decimal | None
    section_name: str
    row_label: str
    label: str
    discount: Decimal | None
    fee: Decimal | None
    ticket_type_id: int | None
    ticket_type_name: str | None


def _seats_lock(hold_id: int) -> list[_Seat]:
    """Lock the hold's inventory rows (primary-key order), in the order the answer lists them."""
    found = lock_rows_sql(
        table="checkout_seatinventory",
        columns="checkout_seatinventory.id, checkout_seatinventory.seat_id,"
        " checkout_seatinventory.section_id, COALESCE(checkout_seatinventory.price, p.amount), sec.name,"
        " s.row_label, s.label, checkout_seatinventory.discount, checkout_seatinventory.fee,"
        " checkout_seatinventory.ticket_type_id, tt.name, sec.display_order, s.row_rank, s.position",
        joins="JOIN events_seat s ON s.id = checkout_seatinventory.seat_id"
        " JOIN events_section sec ON sec.id = checkout_seatinventory.section_id"
        " LEFT JOIN events_tickettype tt ON tt.id = checkout_seatinventory.ticket_type_id"
        " LEFT JOIN events_price p ON p.event_id = checkout_seatinventory.event_id"
        " AND p.section_id = checkout_seatinventory.section_id",
        where="checkout_seatinventory.hold_id = %s",
        params=[hold_id],
    )
    found.sort(key=lambda r: (r[11], r[12], r[13]))
    return [_Seat(*r[:11]) for r in found]


_ORDER_FIELDS = [f for f in Order._meta.concrete_fields]
# Everything an approved purchase writes, in one round trip: the order (its id drawn with the
# hold's lock), its tickets, the seats sold (each pointing at its ticket), the hold converted,
# the idempotency record pointing at the order, the buyer's waiting-room turn ended, and - from
# their owners - the attempt settled, the confirmation's outbox row, the version bump and the
# audit row. The sub-statements see one snapshot, so none reads another's rows: each is
# written from what the purchase already has in memory (and the tickets' RETURNING).
_WRITE_SQL = f"""
    WITH new_order AS (
        INSERT INTO checkout_order ({", ".join(f.column for f in _ORDER_FIELDS)})
        VALUES ({", ".join(f"%(new_order_{f.attname})s" for f in _ORDER_FIELDS)})
    ), tickets AS (
        INSERT INTO checkout_ticket (order_id, event_id, seat_id, section_id, price, discount, fee,
                                     ticket_type_id, code, status, used_gate, created_at)
        SELECT %(order)s, %(ticket_event)s, t.seat_id, t.section_id, t.price, t.discount, t.fee,
               t.type_id, t.code, %(ticket_status)s, '', %(now)s
          FROM unnest(%(seats)s::bigint[], %(sections)s::bigint[], %(prices)s::numeric[],
                      %(discounts)s::numeric[], %(fees)s::numeric[], %(types)s::bigint[],
                      %(codes)s::text[])
               AS t(seat_id, section_id, price, discount, fee, type_id, code)
        RETURNING id, seat_id
    ), sold AS (
        UPDATE checkout_seatinventory AS i
           SET status = %(sold)s, hold_id = NULL, hold_expires_at = NULL, order_id = %(order)s,
               updated_at = %(now)s, ticket_id = t.id
          FROM tickets t
         WHERE i.id = ANY(%(rows)s) AND i.seat_id = t.seat_id
    ), hold AS (
        UPDATE checkout_hold SET status = %(converted)s, ended_at = %(now)s WHERE id = %(hold)s
    ), record AS (
        UPDATE checkout_idempotencyrecord SET order_id = %(order)s WHERE id = %(record)s
    ), turn AS (
        -- A waiting-room turn ends with its hold's purchase (checkout/services/admission.py).
        UPDATE checkout_admissionpass SET state = 'done', ended_at = %(now)s
         WHERE hold_id = %(hold)s AND state = 'checking_out' RETURNING event_id
    ), settled AS ({PAYMENT_SETTLE_SQL}
    ), outbox AS ({OUTBOX_INSERT_SQL}
    ), {{inventory}}
    SELECT t.id, t.seat_id, (SELECT id FROM outbox), (SELECT count(*) FROM turn) FROM tickets t
"""


_ZERO = Decimal("0.00")


def _type_of(seat: _Seat) -> TicketType | None:
    if seat.ticket_type_id is None:
        return None
    return TicketType(id=seat.ticket_type_id, name=seat.ticket_type_name)


def _order_write(
    *,
    hold: Hold,
    attempt: Payment,
    result: PaymentResult,
    seats: list[_Seat],
    record_id: int | None,
    now: dt.datetime,
) -> Order:
    """The order, its tickets, the seats sold, the hold converted, the record answered, the
    attempt settled, the confirmation queued, the change counted and audited (``_WRITE_SQL``).
    Caller holds the locks. The order comes back with ``written_tickets`` (their seats and
    sections attached), so the buyer's answer needs no second read."""
    if any(seat.price is None for seat in seats):
        raise RuntimeError(f"hold {hold.pk} has a seat without a price")
    order = Order(
        id=hold.order_id_drawn,
        event=hold.event,
        user_id=hold.user_id,
        hold_id=hold.pk,
        status=OrderStatus.PAID,
        buyer_name=attempt.buyer_name,
        buyer_email=attempt.buyer_email,
        total=attempt.amount,
        currency=attempt.currency,
        order_fee=hold.order_fee,
        promo_code_id=hold.promo_code_id,
        access_code_id=hold.access_code_id,
        created_at=now,
    )
    tickets = [
        Ticket(
            order=order,
            event_id=hold.event_id,
            seat=Seat(
                id=seat.seat_id, section_id=seat.section_id, row_label=seat.row_label, label=seat.label
            ),
            section=Section(id=seat.section_id, name=seat.section_name),
            price=seat.price,
            discount=_ZERO if seat.discount is None else seat.discount,
            fee=_ZERO if seat.fee is None else seat.fee,
            ticket_type=_type_of(seat),
            status=TicketStatus.VALID,
            created_at=now,
        )
        for seat in seats
    ]
    seat_ids = sorted(seat.seat_id for seat in seats)
    inventory, inventory_params = inventory_change_ctes(
        event_id=hold.event_id,
        action=AuditAction.PURCHASED,
        at=now,
        seat_ids=seat_ids,
        # Held seats became sold: no seat became free or taken, so only an event already
        # marked sold out (whose "until" may move) needs its summary refreshed.
        sold_out_may_change=hold.event.sold_out,
        actor_id=hold.user_id,
        hold_id=hold.pk,
        order_id=order.pk,
        data={"seat_ids": seat_ids, "total": str(attempt.amount), "payment": result.reference},
    )
    params = params_merged(
        {f"new_order_{f.attname}": getattr(order, f.attname) for f in _ORDER_FIELDS},
        {
            "order": order.pk,
            "ticket_event": hold.event_id,
            "ticket_status": TicketStatus.VALID,
            "seats": [t.seat_id for t in tickets],
            "sections": [t.section_id for t in tickets],
            "prices": [t.price for t in tickets],
            "discounts": [t.discount for t in tickets],
            "fees": [t.fee for t in tickets],
            "types": [t.ticket_type_id for t in tickets],
            "codes": [t.code for t in tickets],
            "sold": SeatStatus.SOLD,
            "now": now,
            "rows": [seat.pk for seat in seats],
            "converted": HoldStatus.CONVERTED,
            "hold": hold.pk,
            "record": record_id,
        },
        payment_settled_params(attempt=attempt, result=result, now=now, order_id=order.pk),
        outbox_params(kind="order_confirmation", order_id=order.pk, created_at=now),
        inventory_params,
    )
    written = sql.rows(_WRITE_SQL.format(inventory=inventory), params)
    ticket_ids = {seat_id: ticket_id for ticket_id, seat_id, _, _ in written}
    for ticket in tickets:
        ticket.pk = ticket_ids[ticket.seat_id]
    _, _, message_id, turns_ended = written[0]
    outbox_written(message_id)
    if turns_ended:
        admission.passes_freed(event_ids=[hold.event_id])
    # For the buyer's answer (``selectors.buyer.order_answer``), which then reads nothing.
    order.written_tickets = tickets
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
