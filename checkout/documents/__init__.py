"""What a buyer carries away from an order: QR codes, the PDF tickets, the calendar file, and
the confirmation e-mail that bundles them.

Pure rendering: every function takes an order read by ``selectors.buyer.order_with_tickets``
(event, venue and tickets loaded) and writes nothing. Pages, downloads and the outbox's sender
all call these, so a ticket looks the same everywhere, and ``ticket_scannable`` is the one rule
for whether a QR code is drawn: a void (cancelled, refunded) or used ticket never gets one.
"""

from __future__ import annotations

import datetime as dt

from django.utils import formats
from django.utils.translation import gettext

from checkout.models import Order, OrderStatus, Ticket, TicketStatus


def ticket_scannable(ticket: Ticket, order: Order, *, holder: bool = False) -> bool:
    """Whether ``ticket`` may carry a QR code: valid, in a paid order, and not given away, unless
    it is drawn for its new holder (``holder``: their page, PDF and e-mail)."""
    return (
        ticket.status == TicketStatus.VALID
        and order.status == OrderStatus.PAID
        and (holder or ticket.transferred_at is None)
    )


def ticket_mark(ticket: Ticket, order: Order, *, holder: bool = False) -> str:
    """What stands where a ticket that is not scannable would have its QR code: USED, VOID, or
    TRANSFERRED (the buyer's copy of a ticket given away); empty for a scannable one."""
    if ticket_scannable(ticket, order, holder=holder):
        return ""
    if ticket.status == TicketStatus.USED:
        return gettext("USED")
    if ticket.status == TicketStatus.VALID and order.status == OrderStatus.PAID:
        return gettext("TRANSFERRED")
    return gettext("VOID")


def ticket_holder(ticket: Ticket, order: Order) -> str:
    """The name printed on the ticket: its new holder's once it was given away, else the buyer's."""
    return ticket.holder_name or order.buyer_name


def ticket_place(ticket: Ticket) -> str:
    """Where the ticket sits: ``Row A, seat 4`` or ``Standing, spot 12`` (section apart)."""
    from django.utils.translation import gettext as _

    if ticket.seat.row_label:
        return _("Row %(row)s, seat %(seat)s") % {"row": ticket.seat.row_label, "seat": ticket.seat.label}
    return _("Standing, spot %(spot)s") % {"spot": ticket.seat.label}


def event_local_start(order: Order) -> dt.datetime:
    return order.event.starts_at.astimezone(order.event.tzinfo)


def event_when(order: Order) -> str:
    """The start in the venue's wall-clock time with its zone:
    ``Friday 4 December 2026, 19:30 (Europe/Berlin)``."""
    local = event_local_start(order)
    return f"{formats.date_format(local, 'l j F Y, H:i')} ({order.event.timezone})"


def venue_address(order: Order) -> str:
    venue = order.event.venue
    return ", ".join(part for part in (venue.name, venue.address, venue.city, venue.country) if part)


def ticket_line(ticket: Ticket, currency: str) -> str:
    """A ticket's line as the buyer paid it: type, price, discount, fee (fixed at hold time).

    ``Early bird: 30.00 EUR - 3.00 EUR discount + 1.50 EUR fee = 28.50 EUR``; the parts that are
    zero are left out, so a plain ticket reads ``Standard: 50.00 EUR``.
    """
    name = ticket.ticket_type.name if ticket.ticket_type_id else gettext("Standard")
    parts = [f"{name}: {_money(ticket.price)} {currency}"]
    if ticket.discount:
        parts.append(
            gettext("- %(amount)s %(currency)s discount")
            % {"amount": _money(ticket.discount), "currency": currency}
        )
    if ticket.fee:
        parts.append(
            gettext("+ %(amount)s %(currency)s fee") % {"amount": _money(ticket.fee), "currency": currency}
        )
    if len(parts) > 1:
        parts.append(f"= {_money(ticket.price - ticket.discount + ticket.fee)} {currency}")
    return " ".join(parts)


def _money(amount) -> str:
    return formats.number_format(amount, 2, use_l10n=True, force_grouping=True)
