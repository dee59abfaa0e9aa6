"""Changing the types and codes of a live hold: the hold page's type select per seat and code field.

The seats stay held; only their lines change. What the hold had counted (its capped types, its
codes' uses) is given back and the new choice is counted, in one transaction, so a buyer
switching types can never hold more of a capped type than there is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from checkout.errors import HoldExpired, HoldNotActive, ValidationFailed
from checkout.models import Hold, HoldStatus, SeatInventory
from checkout.services import pricing
from checkout.services.holds import expired_counted_retire, hold_lock_own
from events.models import Event
from ticketing.core import sql
from ticketing.core.locks import busy_on_lock_timeout, lock_rows, set_lock_timeout

_LINES_SQL = """
    UPDATE checkout_seatinventory AS i
       SET ticket_type_id = l.type_id, price = l.price, discount = l.discount, fee = l.fee,
           updated_at = %(now)s
      FROM unnest(%(rows)s::bigint[], %(types)s::bigint[], %(prices)s::numeric[], %(discounts)s::numeric[],
                  %(fees)s::numeric[]) AS l(row_id, type_id, price, discount, fee)
     WHERE i.id = l.row_id
"""


def hold_reprice(
    *,
    user: Any,
    hold_id: int,
    ticket_types: dict[int, int] | None = None,
    codes: Iterable[str] = (),
    now: dt.datetime | None = None,
) -> Hold:
    """Price the hold's seats again for ``ticket_types`` (``{seat_id: type_id}``; seats not named
    get the default) and ``codes`` (the hold's codes are replaced by these).

    Raises ``HoldNotFound``, ``HoldExpired``, ``HoldNotActive`` (being paid for, or ended),
    ``ValidationFailed`` and every pricing error (``pricing.hold_price``); then nothing changed.
    """
    now = now or timezone.now()
    choice = pricing.choice_validate(ticket_types=ticket_types, codes=codes)
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        hold = hold_lock_own(user, hold_id)
        if hold.status == HoldStatus.EXPIRED or (hold.status == HoldStatus.ACTIVE and hold.expires_at <= now):
            raise HoldExpired(extra={"hold_id": hold.pk})
        if hold.status != HoldStatus.ACTIVE:
            raise HoldNotActive(extra={"hold_id": hold.pk, "status": hold.status})
        rows = lock_rows(SeatInventory.objects.filter(hold=hold))
        if not set(choice.by_seat) <= {row.seat_id for row in rows}:
            raise ValidationFailed("A type per seat names only the hold's seats.")
        pricing.quota_return_holds(hold_ids=[hold.pk])
        event = Event.objects.get(pk=hold.event_id)
        priced = pricing.hold_price_counted(
            rows=rows,
            catalog=pricing.catalog_read(event_id=event.pk, codes=choice.codes),
            choice=choice,
            general_sale=event.sales_open(now),
            now=now,
            reclaim=partial(expired_counted_retire, event_id=event.pk, now=now),
        )
        lines = priced.lines
        sql.execute(
            _LINES_SQL,
            {
                "now": now,
                "rows": [line.row_id for line in lines],
                "types": [line.type_id for line in lines],
                "prices": [pricing.from_minor(line.price) for line in lines],
                "discounts": [pricing.from_minor(line.discount) for line in lines],
                "fees": [pricing.from_minor(line.fee) for line in lines],
            },
        )
        hold.order_fee = pricing.from_minor(priced.order_fee)
        hold.promo_code_id, hold.access_code_id = priced.promo_code_id, priced.access_code_id
        Hold.objects.filter(pk=hold.pk).update(
            order_fee=hold.order_fee, promo_code_id=hold.promo_code_id, access_code_id=hold.access_code_id
        )
    return hold
