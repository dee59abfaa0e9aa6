"""The confirmation e-mail: plain text and HTML, one inline QR image per valid ticket, the
PDF tickets and the calendar file attached.

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

from checkout.documents import event_when, ticket_line, ticket_place, ticket_scannable, venue_address
from checkout.documents.ics import order_ics
from checkout.documents.pdf import order_pdf
from checkout.documents.qr import qr_png
from checkout.models import Order


def ticket_cid(ticket_id: int) -> str:
    return f"ticket-{ticket_id}@ticketing"


def order_link(order: Order) -> str:
    """The absolute link of the order page that needs no sign-in (its secret is the key)."""
    path = reverse("checkout:order_link", kwargs={"order_id": order.pk, "token": order.access_token})
    return settings.TICKETING_SITE_URL.rstrip("/") + path


def confirmation_email(order: Order, *, message_id: int | None = None) -> EmailMultiAlternatives:
    """The buyer's confirmation of ``order`` (tickets prefetched), ready to ``send()``."""
    tickets = list(order.tickets.all())
    rows = [
        {
            "ticket": t,
            "place": ticket_place(t),
            "line": ticket_line(t, order.currency),
            "scannable": ticket_scannable(t, order),
            "cid": ticket_cid(t.pk),
        }
        for t in tickets
    ]
    context = {
        "order": order,
        "event": order.event,
        "when": event_when(order),
        "address": venue_address(order),
        "rows": rows,
        "link": order_link(order),
    }
    message = EmailMultiAlternatives(
        subject=_("Your tickets: %(title)s") % {"title": order.event.title},
        body=render_to_string("checkout/email/confirmation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.buyer_email],
        headers={"Message-ID": f"<outbox-{message_id}@ticketing>"} if message_id else None,
    )
    message.attach_alternative(render_to_string("checkout/email/confirmation.html", context), "text/html")
    message.mixed_subtype = "related"
    for row in rows:
        if row["scannable"]:
            image = MIMEImage(qr_png(row["ticket"].code), "png")
            image.add_header("Content-ID", f"<{row['cid']}>")
            image.add_header("Content-Disposition", "inline", filename=f"ticket-{row['ticket'].pk}.png")
            message.attach(image)
    message.attach(f"tickets-order-{order.pk}.pdf", order_pdf(order), "application/pdf")
    message.attach(f"event-order-{order.pk}.ics", order_ics(order), "text/calendar")
    return message
