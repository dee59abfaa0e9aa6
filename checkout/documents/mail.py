"""The confirmation e-mail (plain text and HTML, one inline QR image per valid ticket, the
PDF tickets and the calendar file attached), and its sibling for someone given a ticket.

The MIME tree is ``multipart/related`` (``mixed_subtype``) around the text/HTML alternative,
so the HTML's ``cid:`` references resolve; the PDF and ``.ics`` travel in the same container
with ``Content-Disposition: attachment``, which every common client lists as attachments.
Django 5.2's ``EmailMultiAlternatives`` offers no public way to nest ``related`` inside
``mixed``, and this keeps ``.body``/``.alternatives``/``.attachments`` plain for tests.
"""

from __future__ import annotations

from email.mime.image import MIMEImage

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from checkout.documents import (
    event_when,
    ticket_line,
    ticket_mark,
    ticket_place,
    ticket_scannable,
    venue_address,
)
from checkout.documents.ics import order_ics
from checkout.documents.pdf import order_pdf
from checkout.documents.qr import qr_png
from checkout.models import Order, Ticket, TicketTransfer


def ticket_cid(ticket_id: int) -> str:
    return f"ticket-{ticket_id}@ticketing"


def order_link(order: Order) -> str:
    """The absolute link of the order page that needs no sign-in (its secret is the key)."""
    path = reverse("checkout:order_link", kwargs={"order_id": order.pk, "token": order.access_token})
    return settings.TICKETING_SITE_URL.rstrip("/") + path


def transfer_link(transfer: TicketTransfer) -> str:
    """The absolute link of the page that opens a ticket given away, for its new holder."""
    path = reverse(
        "checkout:ticket_link", kwargs={"transfer_id": transfer.pk, "token": transfer.access_token}
    )
    return settings.TICKETING_SITE_URL.rstrip("/") + path


def _rows(order: Order, tickets: list[Ticket], *, holder: bool) -> list[dict]:
    return [
        {
            "ticket": t,
            "place": ticket_place(t),
            "line": ticket_line(t, order.currency),
            "scannable": ticket_scannable(t, order, holder=holder),
            "mark": ticket_mark(t, order, holder=holder),
            "cid": ticket_cid(t.pk),
        }
        for t in tickets
    ]


def _email(
    *, template: str, subject: str, to: str, context: dict, message_id: int | None
) -> EmailMultiAlternatives:
    """Text and HTML of ``template``, with one inline QR image per scannable row."""
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"checkout/email/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Message-ID": f"<outbox-{message_id}@ticketing>"} if message_id else None,
    )
    message.attach_alternative(render_to_string(f"checkout/email/{template}.html", context), "text/html")
    message.mixed_subtype = "related"
    for row in context["rows"]:
        if row["scannable"]:
            image = MIMEImage(qr_png(row["ticket"].code), "png")
            image.add_header("Content-ID", f"<{row['cid']}>")
            image.add_header("Content-Disposition", "inline", filename=f"ticket-{row['ticket'].pk}.png")
            message.attach(image)
    return message


def confirmation_email(order: Order, *, message_id: int | None = None) -> EmailMultiAlternatives:
    """The buyer's confirmation of ``order`` (tickets prefetched), ready to ``send()``."""
    context = {
        "order": order,
        "event": order.event,
        "when": event_when(order),
        "address": venue_address(order),
        "rows": _rows(order, list(order.tickets.all()), holder=False),
        "link": order_link(order),
    }
    message = _email(
        template="confirmation",
        subject=_("Your tickets: %(title)s") % {"title": order.event.title},
        to=order.buyer_email,
        context=context,
        message_id=message_id,
    )
    message.attach(f"tickets-order-{order.pk}.pdf", order_pdf(order), "application/pdf")
    message.attach(f"event-order-{order.pk}.ics", order_ics(order), "text/calendar")
    return message


def transfer_email(
    transfer: TicketTransfer, order: Order, *, message_id: int | None = None
) -> EmailMultiAlternatives:
    """The ticket ``transfer`` gave away, for its new holder: its QR code, its PDF page, the
    calendar file and the link of its own page (``order``: the ticket's order, that ticket
    prefetched as its only one)."""
    tickets = list(order.tickets.all())
    context = {
        "order": order,
        "transfer": transfer,
        "event": order.event,
        "when": event_when(order),
        "address": venue_address(order),
        "rows": _rows(order, tickets, holder=True),
        "link": transfer_link(transfer),
    }
    message = _email(
        template="transfer",
        subject=_("%(name)s gave you a ticket: %(title)s")
        % {"name": order.buyer_name, "title": order.event.title},
        to=transfer.to_email,
        context=context,
        message_id=message_id,
    )
    ticket_id = transfer.ticket_id
    message.attach(
        f"ticket-{ticket_id}.pdf", order_pdf(order, tickets=tickets, holder=True), "application/pdf"
    )
    message.attach(f"event-ticket-{ticket_id}.ics", order_ics(order, tickets=tickets), "text/calendar")
    return message
