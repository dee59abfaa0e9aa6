"""What a buyer does with an order after buying it: have the tickets e-mailed again, and
move orders bought as a guest into their account.

The e-mail itself goes through the outbox like the first confirmation (a row written here,
delivered by ``checkout.tasks.outbox_send`` with retries, sent once per row).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from checkout.errors import OrderNotFound, OrderNotPaid, ResendLimited
from checkout.models import Order, OrderStatus, OutboxMessage
from checkout.services.outbox import outbox_add
from ticketing.core.locks import busy_on_lock_timeout, lock_one, lock_rows, set_lock_timeout

logger = logging.getLogger(__name__)

RESEND_KIND = "order_resend"
RESEND_INTERVAL = dt.timedelta(minutes=5)
RESENDS_PER_DAY = 5


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
        if len(sent) >= RESENDS_PER_DAY:
            wait = int((min(sent) + dt.timedelta(days=1) - now).total_seconds()) + 1
            raise ResendLimited(extra={"retry_after": wait}, headers={"Retry-After": str(wait)})
        return outbox_add(kind=RESEND_KIND, order=order, now=now)


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
