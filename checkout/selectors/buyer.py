"""Reads of the checkout app: a buyer's holds and orders, shaped for the API and pages.

Every selector takes the buyer and filters by them: another buyer's id reads as missing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from checkout.errors import HoldNotFound, OrderNotFound, TicketNotFound
from checkout.models import (
    LIVE_HOLD_STATUSES,
    AuditAction,
    AuditLog,
    Hold,
    HoldKind,
    HoldStatus,
    Order,
    OrderStatus,
    SeatInventory,
    Ticket,
    TicketStatus,
    TicketTransfer,
)
from ticketing.core import sql


def hold_get(*, user: Any, hold_id: int) -> Hold:
    """The buyer's hold, with its event, venue and codes. Raises ``HoldNotFound`` (also for others')."""
    hold = (
        Hold.objects.select_related("event__venue", "promo_code", "access_code")
        .filter(pk=hold_id, user=user)
        .first()
    )
    if hold is None:
        raise HoldNotFound(extra={"hold_id": hold_id})
    return hold


def hold_effective_status(hold: Hold, now: dt.datetime) -> str:
    """A live hold past its expiry reads as expired before the sweeper gets to it."""
    if hold.status in LIVE_HOLD_STATUSES and hold.expires_at <= now:
        return HoldStatus.EXPIRED
    return hold.status


def hold_extensions_left(hold: Hold) -> int:
    """How many more times the buyer may extend the hold.

    A waitlist offer has none: its time is the next person's wait, and the offer banner
    already promised its end.
    """
    if hold.kind == HoldKind.OFFER:
        return 0
    return max(0, settings.TICKETING_HOLD_MAX_EXTENSIONS - hold.extensions_used)


def hold_seats(*, hold_id: int) -> list[Any]:
    """The ``events.Seat`` rows a hold holds, in map order (for messages about the hold)."""
    rows = (
        SeatInventory.objects.filter(hold_id=hold_id)
        .select_related("seat__section")
        .order_by("seat__section_id", "seat__row_rank", "seat__position")
    )
    return [row.seat for row in rows]


def holds_seat_ids(*, hold_ids: list[int]) -> dict[int, list[int]]:
    """``{hold_id: [seat ids]}`` of several holds in one query (waitlist offers on a page)."""
    seats: dict[int, list[int]] = {}
    for hold_id, seat_id in (
        SeatInventory.objects.filter(hold_id__in=hold_ids)
        .order_by("seat_id")
        .values_list("hold_id", "seat_id")
    ):
        seats.setdefault(hold_id, []).append(seat_id)
    return seats


def hold_order_id(*, hold: Hold) -> int | None:
    """The order a converted hold became (``None`` for any other hold)."""
    if hold.status != HoldStatus.CONVERTED:
        return None
    return Order.objects.filter(hold=hold).values_list("pk", flat=True).first()


def hold_seat_ids_claimed(*, hold: Hold) -> list[int]:
    """The seats the hold was created with, from its audit row (an ended hold has none left).

    What "try the same seats again" after an expiry asks the seat map to pick.
    """
    row = (
        AuditLog.objects.filter(
            hold_id_ref=hold.pk, action__in=(AuditAction.HOLD_CREATED, AuditAction.OFFER_CREATED)
        )
        .values_list("data", flat=True)
        .first()
    )
    return [int(i) for i in (row or {}).get("seat_ids", [])]


# The hold's seats with their price, and (seat columns NULL) one row per price of the event
# for the currency: one read for every hold answer (written out: it runs on every hold).
_HOLD_SEATS_SQL = """
    SELECT p.currency, i.seat_id, i.section_id, sec.name, s.row_label, s.label,
           COALESCE(i.price, p.amount), COALESCE(i.discount, 0), COALESCE(i.fee, 0),
           i.ticket_type_id, tt.name
      FROM events_price p
      LEFT JOIN checkout_seatinventory i ON i.hold_id = %(hold)s AND i.section_id = p.section_id
      LEFT JOIN events_seat s ON s.id = i.seat_id
      LEFT JOIN events_section sec ON sec.id = i.section_id
      LEFT JOIN events_tickettype tt ON tt.id = i.ticket_type_id
     WHERE p.event_id = %(event)s
     ORDER BY sec.display_order, s.row_rank, s.position
"""


def type_label(name: str | None) -> str:
    """A line's type as the buyer reads it: its name, or "Standard" for the standard price."""
    return name or gettext("Standard")


def hold_detail(*, hold: Hold, now: dt.datetime | None = None) -> dict[str, Any]:
    """The hold with its seats (section, row, label, type, price, discount, fee), totals and time
    left. The lines were fixed when the seats were held (``services/pricing/``)."""
    now = now or timezone.now()
    status = hold_effective_status(hold, now)
    # A hold just created comes with its lines as written (``holds.hold_claim_seats``).
    found = getattr(hold, "lines_written", None)
    if found is None:
        found = sql.rows(_HOLD_SEATS_SQL, {"hold": hold.pk, "event": hold.event_id})
    # Seats of an expired hold may already belong to someone else: show none.
    seats = (
        [
            {
                "id": seat_id,
                "section_id": section_id,
                "section": name,
                "row": row,
                "label": label,
                "price": amount,
                "discount": discount,
                "fee": fee,
                "line_total": amount - discount + fee,
                "ticket_type_id": type_id,
                "ticket_type": type_label(type_name),
            }
            for _, seat_id, section_id, name, row, label, amount, discount, fee, type_id, type_name in found
            if seat_id is not None
        ]
        if status in LIVE_HOLD_STATUSES
        else []
    )
    currency = found[0][0] if found else ""
    order_fee = hold.order_fee if seats else Decimal("0.00")
    return {
        "id": hold.pk,
        "event_id": hold.event_id,
        "kind": hold.kind,
        "status": status,
        "seats": seats,
        "subtotal": sum((s["price"] for s in seats), Decimal("0.00")),
        "discount": sum((s["discount"] for s in seats), Decimal("0.00")),
        "fees": sum((s["fee"] for s in seats), Decimal("0.00")) + order_fee,
        "order_fee": order_fee,
        "total": sum((s["line_total"] for s in seats), Decimal("0.00")) + order_fee,
        "currency": currency,
        "created_at": hold.created_at,
        "expires_at": hold.expires_at,
        "extensions_left": hold_extensions_left(hold),
    }


def _orders(user: Any) -> QuerySet[Order]:
    return _with_tickets(Order.objects.filter(user=user))


def _with_tickets(orders: QuerySet[Order], *, ticket_id: int | None = None) -> QuerySet[Order]:
    tickets = Ticket.objects.select_related("seat", "section", "ticket_type").order_by(
        "section__display_order", "seat__row_rank", "seat__position"
    )
    if ticket_id is not None:
        tickets = tickets.filter(pk=ticket_id)
    return (
        orders.select_related("event__venue")
        .prefetch_related(Prefetch("tickets", queryset=tickets))
        .order_by("-created_at", "-id")
    )


def order_list(*, user: Any) -> list[Order]:
    """The buyer's orders, newest first, with event, venue and tickets (three queries)."""
    return list(_orders(user))


def order_get(*, user: Any, order_id: int) -> Order:
    """The buyer's order with its tickets. Raises ``OrderNotFound`` (also for someone else's)."""
    order = _orders(user).filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound(extra={"order_id": order_id})
    return order


def order_with_tickets(*, order_id: int) -> Order | None:
    """Any buyer's order with event, venue and tickets, for the documents and e-mails about it
    (callers are tasks, or pages that checked access themselves); ``None`` if there is none."""
    return _with_tickets(Order.objects.filter(pk=order_id)).first()


def orders_with_tickets(*, order_ids: list[int]) -> dict[int, Order]:
    """``order_with_tickets`` for several orders at once (a batch of e-mails), by id."""
    return {order.pk: order for order in _with_tickets(Order.objects.filter(pk__in=order_ids))}


def order_by_link(*, order_id: int, token: str) -> Order:
    """The order whose link is ``/orders/<order_id>/<token>/``. The token is compared in
    constant time, and a wrong one reads exactly like a missing order: ``OrderNotFound``."""
    order = order_with_tickets(order_id=order_id)
    if order is None or not secrets.compare_digest(order.access_token.encode(), token.encode()):
        raise OrderNotFound(extra={"order_id": order_id})
    return order


def transferred_ticket(*, transfer_id: int) -> tuple[TicketTransfer, Order] | None:
    """The ticket given away by transfer ``transfer_id``: the transfer and the ticket's order
    with that one ticket as its ``tickets``; ``None`` when there is no such transfer or a later
    one retired it (only a ticket's newest transfer opens it). For callers that checked access."""
    transfer = TicketTransfer.objects.filter(pk=transfer_id).first()
    if (
        transfer is None
        or TicketTransfer.objects.filter(ticket_id=transfer.ticket_id, pk__gt=transfer.pk).exists()
    ):
        return None
    order_id = Ticket.objects.filter(pk=transfer.ticket_id).values_list("order_id", flat=True).get()
    return transfer, _with_tickets(Order.objects.filter(pk=order_id), ticket_id=transfer.ticket_id).get()


def ticket_by_transfer_link(*, transfer_id: int, token: str) -> tuple[TicketTransfer, Order]:
    """``transferred_ticket`` opened by its link ``/tickets/<transfer_id>/<token>/``. The token is
    compared in constant time; a wrong one, or a retired link, reads like a missing ticket:
    ``TicketNotFound``."""
    found = transferred_ticket(transfer_id=transfer_id)
    if found is None or not secrets.compare_digest(found[0].access_token.encode(), token.encode()):
        raise TicketNotFound(extra={"transfer_id": transfer_id})
    return found


def order_cancellable(*, order: Order, now: dt.datetime | None = None) -> bool:
    """Whether the buyer may cancel ``order`` at ``now``: the rule ``order_cancel`` enforces
    for buyers (paid, event not started, no ticket used or given away), read from the
    prefetched tickets."""
    now = now or timezone.now()
    return (
        order.status == OrderStatus.PAID
        and now < order.event.starts_at
        and not any(t.status == TicketStatus.USED or t.transferred_at for t in order.tickets.all())
    )


def ticket_transferable(*, order: Order, ticket: Ticket, now: dt.datetime | None = None) -> bool:
    """Whether the buyer may give ``ticket`` away now (valid, in a paid order not anonymised,
    before the event): the one rule, which ``ticket_transfer`` enforces under its locks and the
    order page reads to show the form."""
    now = now or timezone.now()
    return (
        order.status == OrderStatus.PAID
        and order.anonymized_at is None
        and ticket.status == TicketStatus.VALID
        and now < order.event.starts_at
    )


def order_answer(*, user: Any, order: Order) -> dict[str, Any]:
    """``order_detail`` of an order a service just returned: a purchase attaches the tickets
    it wrote (``written_tickets``, seats and sections attached), so the answer reads nothing."""
    tickets = getattr(order, "written_tickets", None)
    if tickets is None:
        return order_detail(order_get(user=user, order_id=order.pk))
    return order_detail(order, tickets=tickets)


def order_detail(order: Order, *, tickets: list[Ticket] | None = None) -> dict[str, Any]:
    return {
        "id": order.pk,
        "event_id": order.event_id,
        "event_title": order.event.title,
        "event_starts_at": order.event.starts_at,
        "status": order.status,
        "buyer_name": order.buyer_name,
        "buyer_email": order.buyer_email,
        "total": order.total,
        "order_fee": order.order_fee,
        "currency": order.currency,
        "created_at": order.created_at,
        "cancelled_at": order.cancelled_at,
        "tickets": [
            {
                "id": t.pk,
                "seat_id": t.seat_id,
                "section": t.section.name,
                "row": t.seat.row_label,
                "label": t.seat.label,
                "price": t.price,
                "discount": t.discount,
                "fee": t.fee,
                "line_total": t.price - t.discount + t.fee,
                "ticket_type_id": t.ticket_type_id,
                "ticket_type": type_label(t.ticket_type.name if t.ticket_type_id else None),
                # The code of a ticket given away is its new holder's alone.
                "code": "" if t.transferred_at else t.code,
                "status": t.status,
                "holder_name": t.holder_name,
                "holder_email": t.holder_email,
                "transferred_at": t.transferred_at,
            }
            for t in (order.tickets.all() if tickets is None else tickets)
        ],
    }
