"""checkout/documents: the confirmation e-mail, the PDF tickets, the calendar file, QR codes.

QR images are decoded with a real decoder (zxing-cpp), so a code that only looks right fails."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from email import message_from_bytes

import icalendar
import pytest
import zxingcpp
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from checkout import payments
from checkout.documents.ics import order_ics
from checkout.documents.pdf import order_pdf
from checkout.models import OutboxMessage
from checkout.selectors.buyer import order_with_tickets
from checkout.services.holds import hold_create
from checkout.services.orders import order_cancel, order_purchase
from checkout.services.outbox import outbox_deliver
from checkout.tasks import _send, order_confirmation_send, outbox_send
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_event, make_venue

pytestmark = pytest.mark.django_db


def decode_qr(image_bytes: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(image_bytes)))]


def _order(*, seats=2, event=None, buyer_name="Jürgen Größe"):
    user = UserFactory()
    event = event or make_event(title="Bühnenzauber")
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:seats])
    order = order_purchase(
        user=user,
        hold_id=hold.pk,
        buyer_name=buyer_name,
        buyer_email="juergen@example.com",
        card_number=payments.CARD_APPROVE,
        idempotency_key=f"doc-{hold.pk}",
    )
    return order_with_tickets(order_id=order.pk)


def _parts(message) -> list:
    return list(message_from_bytes(message.message().as_bytes()).walk())


def test_confirmation_has_text_html_one_decodable_qr_per_ticket_pdf_and_ics(mailoutbox):
    order = _order(seats=2)
    tickets = list(order.tickets.all())
    assert order_confirmation_send(order.pk, message_id=7) is True
    (sent,) = mailoutbox
    assert sent.to == ["juergen@example.com"]
    assert sent.extra_headers["Message-ID"] == "<outbox-7@ticketing>"
    # Plain text: event, venue, local time with zone, seats, section, price, order number, link.
    assert "Bühnenzauber" in sent.body and "(Europe/Berlin)" in sent.body
    assert f"order {order.pk}" in sent.body and "Row A, seat 1" in sent.body and "50.00 EUR" in sent.body
    assert f"/orders/{order.pk}/{order.access_token}/" in sent.body
    ((html, mimetype),) = sent.alternatives
    assert mimetype == "text/html"
    for t in tickets:
        assert f'src="cid:ticket-{t.pk}@ticketing"' in html
        assert t.code in sent.body
    parts = _parts(sent)
    assert parts[0].get_content_type() == "multipart/related"
    images = {
        p["Content-ID"]: p.get_payload(decode=True) for p in parts if p.get_content_type() == "image/png"
    }
    assert {cid: decode_qr(png) for cid, png in images.items()} == {
        f"<ticket-{t.pk}@ticketing>": [t.code] for t in tickets
    }
    (pdf,) = [p for p in parts if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == f"tickets-order-{order.pk}.pdf"
    assert len(PdfReader(io.BytesIO(pdf.get_payload(decode=True))).pages) == 2
    (ics,) = [p for p in parts if p.get_content_type() == "text/calendar"]
    calendar = icalendar.Calendar.from_ical(ics.get_payload(decode=True))
    (vevent,) = calendar.walk("VEVENT")
    assert vevent.decoded("dtstart") == order.event.starts_at


def test_pdf_has_one_page_per_ticket_with_seat_umlauts_and_a_qr_that_decodes():
    order = _order(seats=3)
    reader = PdfReader(io.BytesIO(order_pdf(order)))
    tickets = list(order.tickets.all())
    assert len(reader.pages) == len(tickets)
    for page, ticket in zip(reader.pages, tickets, strict=True):
        text = page.extract_text()
        assert "Bühnenzauber" in text and "Jürgen Größe" in text
        assert f"Row {ticket.seat.row_label}, seat {ticket.seat.label}" in text
        assert ticket.code in text
        (image,) = page.images
        assert decode_qr(image.data) == [ticket.code]


def test_ics_is_valid_with_the_utc_instant_address_and_zone():
    venue = make_venue(timezone_name="America/New_York", city="New York")
    venue.address = "1 Straße der Künste"
    venue.save(update_fields=["address"])
    starts = (timezone.now() + dt.timedelta(days=40)).replace(hour=23, minute=30, second=0, microsecond=0)
    order = _order(event=make_event(venue=venue, starts_at=starts))
    raw = order_ics(order)
    calendar = icalendar.Calendar.from_ical(raw)
    (vevent,) = calendar.walk("VEVENT")
    start = vevent.decoded("dtstart")
    assert start == starts and start.utcoffset() != dt.timedelta(0)
    assert vevent["DTSTART"].params["TZID"] == "America/New_York"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    assert "1 Straße der Künste" in str(vevent["LOCATION"]) and "New York" in str(vevent["LOCATION"])
    assert str(vevent["UID"]) == f"order-{order.pk}@ticketing"


def test_a_cancelled_ticket_has_no_qr_in_the_pdf_and_no_mail_goes_out(mailoutbox):
    order = _order(seats=2)
    order_cancel(order_id=order.pk, actor=order.user)
    order = order_with_tickets(order_id=order.pk)
    reader = PdfReader(io.BytesIO(order_pdf(order)))
    for page, ticket in zip(reader.pages, order.tickets.all(), strict=True):
        assert "VOID" in page.extract_text()
        assert ticket.code not in page.extract_text()
        assert list(page.images) == []
    assert order_confirmation_send(order.pk) is False
    assert mailoutbox == []


def test_one_purchase_one_mail_when_the_task_runs_twice_or_the_worker_died_mid_send(mailoutbox):
    order = _order(seats=1)
    message = OutboxMessage.objects.get(order=order, kind="order_confirmation")
    now = timezone.now()
    # A worker claimed the row and died before sending: nothing went out, the claim lapses.
    OutboxMessage.objects.filter(pk=message.pk).update(
        attempts=1, claimed_until=now + dt.timedelta(minutes=2)
    )
    assert outbox_send(message.pk) is False  # still claimed by the dead worker
    assert mailoutbox == []
    later = now + dt.timedelta(minutes=3)
    assert outbox_deliver(message_id=message.pk, send=_send, now=later) is True
    assert outbox_send(message.pk) is False  # the task queued on commit runs too late: sent once
    assert outbox_deliver(message_id=message.pk, send=_send, now=later) is False
    assert len(mailoutbox) == 1
    message.refresh_from_db()
    assert message.sent_at is not None and message.attempts == 2


def test_mail_file_backend_path_comes_from_the_environment(tmp_path):
    env = {
        **os.environ,
        "EMAIL_FILE_PATH": str(tmp_path / "mails"),
        "DJANGO_SETTINGS_MODULE": "ticketing.config.settings",
    }
    out = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.EMAIL_FILE_PATH)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == str(tmp_path / "mails")


def test_the_admin_shows_sent_and_failed_messages_and_makes_failed_ones_due(client, monkeypatch):
    from tests.factories import staff_user

    sent_order, failing_order = _order(seats=1), _order(seats=1)
    sent = OutboxMessage.objects.get(order=sent_order)
    failing = OutboxMessage.objects.get(order=failing_order)
    assert outbox_send(sent.pk) is True
    OutboxMessage.objects.filter(pk=failing.pk).update(
        attempts=3, last_error="SMTP 451", next_attempt_at=timezone.now() + dt.timedelta(minutes=5)
    )
    client.force_login(staff_user(is_superuser=True))
    html = client.get("/admin/checkout/outboxmessage/").content.decode()
    assert "failed (retry 3)" in html and "SMTP 451" in html and ">sent<" in html
    failing_only = client.get("/admin/checkout/outboxmessage/?state=failing").content.decode()
    assert "SMTP 451" in failing_only and ">sent<" not in failing_only
    r = client.post(
        "/admin/checkout/outboxmessage/",
        {"action": "retry_now", "_selected_action": [sent.pk, failing.pk]},
    )
    assert r.status_code == 302
    failing.refresh_from_db()
    assert failing.next_attempt_at <= timezone.now()
    assert outbox_send(failing.pk) is True
    assert outbox_send(sent.pk) is False  # sent once, whatever staff click


def test_a_void_ticket_in_a_paid_order_gets_no_qr_in_the_mail_or_the_pdf(mailoutbox):
    from checkout.models import Ticket

    order = _order(seats=2)
    void, valid = list(order.tickets.all())
    Ticket.objects.filter(pk=void.pk).update(status="void")
    order = order_with_tickets(order_id=order.pk)
    assert order_confirmation_send(order.pk) is True
    (sent,) = mailoutbox
    images = [p for p in _parts(sent) if p.get_content_type() == "image/png"]
    assert [decode_qr(p.get_payload(decode=True)) for p in images] == [[valid.code]]
    ((html, _),) = sent.alternatives
    assert void.code not in sent.body and void.code not in html and "VOID" in sent.body and "VOID" in html
    pages = PdfReader(io.BytesIO(order_pdf(order))).pages
    assert "VOID" in pages[0].extract_text() and list(pages[0].images) == []
    assert decode_qr(pages[1].images[0].data) == [valid.code]
