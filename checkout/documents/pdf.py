"""PDF tickets (fpdf2): one A4 page per ticket with the event, the seat, the QR code and the
code printed under it, and the terms. DejaVu Sans is embedded (subset) so umlauts and other
Latin, Greek and Cyrillic letters print; its licence is ``fonts/LICENSE-DejaVu.txt``, and
``fonts/README.md`` says how the files were cut down to those scripts (fpdf2 parses them for
every PDF: the whole fonts were most of an e-mail's CPU)."""

from __future__ import annotations

import io
from pathlib import Path

from django.utils.translation import gettext as _
from fpdf import FPDF

from checkout.documents import (
    event_when,
    ticket_holder,
    ticket_line,
    ticket_mark,
    ticket_place,
    ticket_scannable,
    venue_address,
)
from checkout.documents.qr import qr_png
from checkout.models import Order, Ticket

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
QR_MM = 70


def _document() -> FPDF:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=False)
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_creator("Ticketing")
    return pdf


def _line(pdf: FPDF, text: str, *, size: float = 11, style: str = "", height: float = 7) -> None:
    pdf.set_font(FONT, style, size)
    pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")


def order_pdf(order: Order, *, tickets: list[Ticket] | None = None, holder: bool = False) -> bytes:
    """The order's tickets (or ``tickets`` of it), one page each, in the order's ticket order. A
    ticket that is not scannable (void, used, in a cancelled order, or given away) gets a VOID,
    USED or TRANSFERRED mark instead of a QR code. ``holder``: drawn for the new holder of
    the tickets given away (``documents.ticket_scannable``)."""
    event = order.event
    pdf = _document()
    pdf.set_title(f"{event.title} - {_('Order')} {order.pk}")
    for ticket in order.tickets.all() if tickets is None else tickets:
        pdf.add_page()
        _line(pdf, event.title, size=22, style="B", height=11)
        _line(pdf, event_when(order))
        _line(pdf, venue_address(order))
        pdf.ln(4)
        _line(pdf, f"{ticket.section.name} · {ticket_place(ticket)}", size=16, style="B", height=9)
        _line(pdf, ticket_line(ticket, order.currency))
        _line(pdf, f"{_('Order')} {order.pk} · {ticket_holder(ticket, order)}")
        pdf.ln(6)
        top = pdf.get_y()
        left = (pdf.w - QR_MM) / 2
        if ticket_scannable(ticket, order, holder=holder):
            pdf.image(io.BytesIO(qr_png(ticket.code, scale=10)), x=left, y=top, w=QR_MM, h=QR_MM)
            pdf.set_y(top + QR_MM + 2)
            pdf.set_font(FONT, "", 10)
            pdf.cell(0, 6, ticket.code, align="C", new_x="LMARGIN", new_y="NEXT")
        else:
            mark = ticket_mark(ticket, order, holder=holder)
            pdf.set_y(top + QR_MM / 2 - 10)
            pdf.set_font(FONT, "B", 40 if len(mark) < 8 else 28)
            pdf.cell(0, 20, mark, align="C", new_x="LMARGIN", new_y="NEXT")
            pdf.set_y(top + QR_MM + 8)
        pdf.ln(8)
        _line(
            pdf,
            _(
                "Terms: this ticket admits one person once. Its QR code is checked at the entrance; "
                "the first scan counts, copies are refused. Not for resale above face value. "
                "A cancelled or refunded ticket is void."
            ),
            size=8,
            height=4.5,
        )
    return bytes(pdf.output())
