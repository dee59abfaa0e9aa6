"""What a buyer does with an order after buying it: have the tickets e-mailed again, give a
ticket to someone else, and move orders bought as a guest into their account.

The e-mail itself goes through the outbox like the first confirmation (a row written here,
delivered by ``checkout.tasks.outbox_send`` with retries, sent once per row).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from checkout.errors import (
    OrderNotFound,
    OrderNotPaid,
    ResendLimited,
    TicketNotFound,
    TicketNotTransferable,
    TransferLimited,
)
from checkout.models import (
    AuditAction,
    Order,
    OrderStatus,
    OutboxMessage,
    Ticket,
    TicketTransfer,
    new_ticket_code,
)
from checkout.selectors.buyer import ticket_transferable
from checkout.services.common import audit_record
from checkout.services.outbox import outbox_add
from ticketing.core.locks import busy_on_lock_timeout, lock_one, lock_rows, set_lock_timeout

logger = logging.getLogger(__name__)

RESEND_KIND = "order_resend"
RESEND_INTERVAL = dt.timedelta(minutes=5)
RESENDS_PER_DAY = 5

TRANSFER_KIND = "ticket_transfer"
TRANSFERS_PER_DAY = 3


def order_resend(*, order_id: int, now: dt.datetime | None = None) -> OutboxMessage:
    """Queue the order's confirmation e-mail again, to the address of the order.

    Precondition: the caller checked the requester may see the order (its buyer, or its
    link). At most one resend per ``RESEND_INTERVAL`` and ``RESENDS_PER_DAY`` a day, so the
    button cannot be used to flood a mailbox. Raises ``OrderNotPaid`` for a cancelled order
    (its void tickets are not sent again), ``ResendLimited`` (429, ``retry_after``),
    ``OrderNotFound`` or ``Busy``.
    """
    now = now or timezone.now()
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        # The order row serialises two clicks, so both cannot pass the limit.
        order = lock_one(Order.objects.filter(pk=order_id))
        if order is None:
            raise OrderNotFound(extra={"order_id": order_id})
        if order.status != OrderStatus.PAID or not order.buyer_email:
            raise OrderNotPaid(extra={"order_id": order_id})
        sent = list(
            OutboxMessage.objects.filter(
                order=order, kind=RESEND_KIND, created_at__gt=now - dt.timedelta(days=1)
            ).values_list("created_at", flat=True)
        )
        last = max(sent, default=None)
        if last is not None and now - last < RESEND_INTERVAL:
            wait = int((last + RESEND_INTERVAL - now).total_seconds()) + 1
            raise ResendLimited(extra={"retry_after": wait}, headers={"Retry-After": str(wait)})
        wait = _limit_per_day(sent, limit=RESENDS_PER_DAY, now=now)
        if wait is not None:
            raise ResendLimited(extra={"retry_after": wait}, headers={"Retry-After": str(wait)})
        return outbox_add(kind=RESEND_KIND, order=order, now=now)


def _limit_per_day(times: list[dt.datetime], *, limit: int, now: dt.datetime) -> int | None:
    """Seconds until one more is allowed when ``times`` (within the last day) reach ``limit``."""
    if len(times) < limit:
        return None
    return int((min(times) + dt.timedelta(days=1) - now).total_seconds()) + 1


def ticket_transfer(
    *, order_id: int, ticket_id: int, name: str, email: str, actor: Any = None, now: dt.datetime | None = None
) -> TicketTransfer:
    """Give ticket ``ticket_id`` of order ``order_id`` to ``name`` <``email``>, in one transaction:
    the ticket gets a new code (the old one is void at the gate from this commit on), the new
    holder is written on it, the transfer is recorded with the audit row, and an outbox row
    e-mails the ticket to its new holder with a link of its own.

    Precondition: the caller checked the requester may act for the order (its buyer, or its
    link) and validated ``name`` and ``email``. The order stays the buyer's: its money, the
    seat and the inventory row do not move. Allowed while the ticket is valid, its order paid
    and the event not begun; ``TRANSFERS_PER_DAY`` per ticket. Raises ``OrderNotFound``,
    ``TicketNotFound`` (not a ticket of this order), ``TicketNotTransferable``,
    ``TransferLimited`` (429, ``retry_after``) or ``Busy``.
    """
    now = now or timezone.now()
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        # Order row, then the ticket's: the order first, as every path that takes both does
        # (a cancellation voids the order's tickets under its lock; a gate scan takes only the
        # ticket's), so this transfer and a scan or a cancellation serialise without a cycle.
        order = lock_one(Order.objects.select_related("event").filter(pk=order_id))
        if order is None:
            raise OrderNotFound(extra={"order_id": order_id})
        ticket = lock_one(Ticket.objects.filter(pk=ticket_id, order_id=order_id))
        if ticket is None:
            raise TicketNotFound(extra={"ticket_id": ticket_id})
        if not ticket_transferable(order=order, ticket=ticket, now=now):
            raise TicketNotTransferable(extra={"ticket_id": ticket_id, "status": ticket.status})
        recent = list(
            TicketTransfer.objects.filter(ticket=ticket, at__gt=now - dt.timedelta(days=1)).values_list(
                "at", flat=True
            )
        )
        wait = _limit_per_day(recent, limit=TRANSFERS_PER_DAY, now=now)
        if wait is not None:
            raise TransferLimited(extra={"retry_after": wait}, headers={"Retry-After": str(wait)})
        transfer = TicketTransfer.objects.create(
            ticket=ticket, old_code=ticket.code, to_name=name, to_email=email, actor=actor, at=now
        )
        Ticket.objects.filter(pk=ticket.pk).update(
            code=new_ticket_code(), holder_name=name, holder_email=email, transferred_at=now
        )
        audit_record(
            at=now,
            action=AuditAction.TICKET_TRANSFERRED,
            actor=actor,
            event_id=order.event_id,
            order_id=order.pk,
            data={"ticket_id": ticket.pk, "transfer_id": transfer.pk, "seat_id": ticket.seat_id},
        )
        outbox_add(kind=TRANSFER_KIND, order=order, transfer=transfer, now=now)
    logger.info("ticket %s of order %s transferred (transfer %s)", ticket.pk, order.pk, transfer.pk)
    return transfer


def guest_orders_claim(*, user: Any, order: Order) -> list[int]:
    """Move every order bought as a guest with ``user``'s address into ``user``'s account;
    returns the ids moved (none if ``order`` is no guest order of that address).

    Precondition: the caller verified ``order``'s link. The link was e-mailed to the order's
    address, so holding it proves the mailbox, and with it every guest order sent there.
    A guest account never claims (it has no address of its own to prove).
    """
    if getattr(user, "is_guest", True) or not user.email:
        return []
    if not (order.user.is_guest and order.buyer_email.lower() == user.email.lower()):
        return []
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        rows = lock_rows(Order.objects.filter(user__is_guest=True, buyer_email__iexact=user.email))
        ids = [row.pk for row in rows]
        Order.objects.filter(pk__in=ids).update(user=user)
    logger.info("user %s claimed guest orders %s", user.pk, ids)
    return ids
