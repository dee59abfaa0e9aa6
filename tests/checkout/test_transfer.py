"""Giving a ticket to someone else (checkout/services/tickets.py ``ticket_transfer``): the code
changes hands in one transaction, the old one is void at the gate, the new holder gets the ticket
by e-mail with a link of its own, and the buyer's copies no longer carry a code.

The QR codes are decoded with a real decoder, as in test_documents."""

from __future__ import annotations

import datetime as dt
import io
import re
from email import message_from_bytes

import pytest
from django.utils import timezone
from pypdf import PdfReader

from checkout.documents.pdf import order_pdf
from checkout.errors import (
    OrderNotCancellable,
    TicketAlreadyUsed,
    TicketNotFound,
    TicketNotTransferable,
    TicketVoid,
    TransferLimited,
)
from checkout.models import AuditAction, AuditLog, OutboxMessage, Ticket, TicketTransfer
from checkout.selectors.buyer import order_with_tickets
from checkout.services.checkin import ticket_check_in
from checkout.services.orders import order_cancel
from checkout.services.retention import orders_anonymize
from checkout.services.tickets import TRANSFERS_PER_DAY, ticket_transfer
from checkout.tasks import outbox_send
from tests.checkout.conftest import race
from tests.checkout.test_documents import _order, decode_qr
from tests.factories import UserFactory, api_token, staff_user

pytestmark = pytest.mark.django_db


def _give(order, ticket, *, to="Grete Groß", email="grete@example.com", **kwargs):
    return ticket_transfer(order_id=order.pk, ticket_id=ticket.pk, name=to, email=email, **kwargs)


def test_a_transfer_rotates_the_code_voids_the_old_one_and_records_it_in_one_transaction():
    order = _order(seats=2)
    ticket, other = order.tickets.all()
    old_code = ticket.code
    transfer = _give(order, ticket, actor=order.user)
    ticket.refresh_from_db()
    assert ticket.code != old_code and len(ticket.code) >= 26  # a fresh 160-bit code
    assert (ticket.holder_name, ticket.holder_email, ticket.status) == (
        "Grete Groß",
        "grete@example.com",
        "valid",
    )
    assert transfer.old_code == old_code and len(transfer.access_token) >= 32  # >= 192 bits
    (audit,) = AuditLog.objects.filter(action=AuditAction.TICKET_TRANSFERRED)
    assert audit.order_id_ref == order.pk and audit.data["ticket_id"] == ticket.pk
    assert OutboxMessage.objects.filter(kind="ticket_transfer", transfer=transfer).count() == 1
    # The other ticket of the order is untouched, and the seat stays sold to the same order.
    assert Ticket.objects.get(pk=other.pk).code == other.code
    # At the gate: the old code is void (and says why), the new one admits once.
    with pytest.raises(TicketVoid) as void:
        ticket_check_in(code=old_code)
    assert void.value.extra == {"reason": "transferred"}
    assert ticket_check_in(code=ticket.code).ticket_id == ticket.pk
    with pytest.raises(TicketAlreadyUsed):
        ticket_check_in(code=ticket.code)


def test_the_new_holder_gets_one_mail_with_a_qr_pdf_and_link_and_the_buyer_copies_lose_the_code(
    client, mailoutbox
):
    order = _order(seats=2)
    ticket = order.tickets.all()[0]
    transfer = _give(order, ticket)
    message = OutboxMessage.objects.get(kind="ticket_transfer")
    assert outbox_send(message.pk) is True
    assert outbox_send(message.pk) is False  # sent once
    (sent,) = mailoutbox
    ticket.refresh_from_db()
    assert sent.to == ["grete@example.com"] and "Jürgen Größe" in sent.subject
    assert ticket.code in sent.body
    parts = list(message_from_bytes(sent.message().as_bytes()).walk())
    (png,) = [p.get_payload(decode=True) for p in parts if p.get_content_type() == "image/png"]
    assert decode_qr(png) == [ticket.code]
    (pdf,) = [p.get_payload(decode=True) for p in parts if p.get_content_type() == "application/pdf"]
    (page,) = PdfReader(io.BytesIO(pdf)).pages
    assert "Grete Groß" in page.extract_text() and decode_qr(page.images[0].data) == [ticket.code]
    (link,) = re.findall(r"http://[^\s]+/tickets/\d+/[\w-]+/", sent.body)
    path = link.split("localhost:8000", 1)[1]
    assert path == f"/tickets/{transfer.pk}/{transfer.access_token}/"
    html = client.get(path).content.decode()
    assert ticket.code in html and "<svg" in html
    assert client.get(path + "ticket.pdf").status_code == 200
    assert client.get(path + "event.ics").status_code == 200
    assert client.get(path.rstrip("/")[:-2] + "xx/").status_code == 404
    # The buyer's copies: no code and no QR for the ticket given away, anywhere.
    order = order_with_tickets(order_id=order.pk)
    reader = PdfReader(io.BytesIO(order_pdf(order)))
    given = [p for p in reader.pages if "TRANSFERRED" in p.extract_text()]
    assert len(given) == 1 and not given[0].images and ticket.code not in given[0].extract_text()
    client.force_login(order.user)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert ticket.code not in page and "Given to Grete Groß (grete@example.com)" in page
    api = client.get(f"/api/orders/{order.pk}").json()
    mine = next(t for t in api["tickets"] if t["id"] == ticket.pk)
    assert mine["code"] == "" and mine["holder_email"] == "grete@example.com"


def test_a_second_transfer_retires_the_first_link_and_code_and_the_limit_is_per_day():
    order = _order(seats=1)
    (ticket,) = order.tickets.all()
    now = timezone.now()
    first = _give(order, ticket, now=now)
    second = _give(order, ticket, email="hans@example.com", now=now + dt.timedelta(minutes=1))
    with pytest.raises(TicketVoid):
        ticket_check_in(code=second.old_code)  # the code the first holder had
    from checkout.selectors.buyer import ticket_by_transfer_link

    with pytest.raises(TicketNotFound):
        ticket_by_transfer_link(transfer_id=first.pk, token=first.access_token)
    assert ticket_by_transfer_link(transfer_id=second.pk, token=second.access_token)[0] == second
    for i in range(TRANSFERS_PER_DAY - 2):
        _give(order, ticket, email=f"x{i}@example.com", now=now + dt.timedelta(minutes=2 + i))
    with pytest.raises(TransferLimited) as limited:
        _give(order, ticket, now=now + dt.timedelta(hours=1))
    assert limited.value.headers["Retry-After"]
    _give(order, ticket, now=now + dt.timedelta(days=1, minutes=1))  # a day after the first


def test_what_cannot_be_transferred_is_refused_and_changes_nothing():
    order = _order(seats=2)
    used, valid = order.tickets.all()
    ticket_check_in(code=used.code)
    with pytest.raises(TicketNotTransferable):
        _give(order, used)
    with pytest.raises(TicketNotFound):  # not a ticket of this order
        ticket_transfer(
            order_id=order.pk, ticket_id=_order(seats=1).tickets.get().pk, name="A", email="a@b.cd"
        )
    late = order.event.starts_at + dt.timedelta(minutes=1)
    with pytest.raises(TicketNotTransferable):
        _give(order, valid, now=late)
    cancelled = _order(seats=1)
    order_cancel(order_id=cancelled.pk, actor=cancelled.user)
    with pytest.raises(TicketNotTransferable):
        _give(cancelled, cancelled.tickets.get())
    assert not TicketTransfer.objects.exists()
    assert not OutboxMessage.objects.filter(kind="ticket_transfer").exists()


def test_the_buyer_cannot_cancel_a_ticket_given_away_but_staff_can_and_the_holder_link_dies():
    order = _order(seats=1)
    transfer = _give(order, order.tickets.get())
    with pytest.raises(OrderNotCancellable):
        order_cancel(order_id=order.pk, actor=order.user)
    order_cancel(order_id=order.pk, actor=staff_user())
    ticket = Ticket.objects.get(pk=transfer.ticket_id)
    assert ticket.status == "void"
    with pytest.raises(TicketVoid):
        ticket_check_in(code=ticket.code)
    # The holder's page shows the ticket void, without a code.
    from checkout.tasks import ticket_transfer_send

    assert ticket_transfer_send(transfer.pk) is False


def test_the_api_transfers_only_the_buyers_own_tickets_and_validates_first(client):
    order = _order(seats=1)
    ticket = order.tickets.get()
    url = f"/api/orders/{order.pk}/tickets/{ticket.pk}/transfer"
    stranger = {"Authorization": f"Bearer {api_token(UserFactory())}"}
    owner = {"Authorization": f"Bearer {api_token(order.user)}"}
    r = client.post(
        url,
        {"name": "Grete", "email": "grete@example.com"},
        content_type="application/json",
        headers=stranger,
    )
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    for body in (
        {"name": "Grete\u0000", "email": "grete@example.com"},
        {"name": "   ", "email": "grete@example.com"},
        {"name": "Grete", "email": "not-an-address"},
        {"name": "G" * 201, "email": "grete@example.com"},
        {"name": "Grete", "email": 7},
    ):
        r = client.post(url, body, content_type="application/json", headers=owner)
        assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR", body
    assert not TicketTransfer.objects.exists()
    r = client.post(
        url, {"name": " Grete ", "email": "grete@example.com"}, content_type="application/json", headers=owner
    )
    assert r.status_code == 200, r.content
    (out,) = r.json()["tickets"]
    assert out["code"] == "" and out["holder_name"] == "Grete" and out["transferred_at"]


def test_the_order_page_form_transfers_after_confirmation(client):
    order = _order(seats=1)
    ticket = order.tickets.get()
    client.force_login(order.user)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    action = f"/orders/{order.pk}/tickets/{ticket.pk}/transfer"
    assert f'action="{action}"' in page
    r = client.post(action, {"name": "Grete", "email": "grete@example.com"})
    assert r.status_code == 302 and not TicketTransfer.objects.exists()  # not confirmed
    r = client.post(action, {"name": "Grete", "email": "grete@example.com", "confirm": "yes"}, follow=True)
    assert "grete@example.com" in r.content.decode() and TicketTransfer.objects.count() == 1
    # By the order link too, for a buyer without a session.
    client.logout()
    second = _order(seats=1)
    link_action = f"/orders/{second.pk}/{second.access_token}/tickets/{second.tickets.get().pk}/transfer"
    assert (
        f'action="{link_action}"'
        in client.get(f"/orders/{second.pk}/{second.access_token}/").content.decode()
    )
    client.post(link_action, {"name": "Hans", "email": "hans@example.com", "confirm": "yes"})
    assert TicketTransfer.objects.filter(ticket__order=second, actor=second.user).count() == 1
    bad = f"/orders/{second.pk}/{'x' * 32}/tickets/{second.tickets.get().pk}/transfer"
    assert client.post(bad, {"name": "Eve", "email": "eve@example.com", "confirm": "yes"}).status_code == 404


def test_retention_forgets_who_was_given_a_ticket():
    order = _order(seats=1)
    _give(order, order.tickets.get())
    orders_anonymize(now=order.event.ends_at + dt.timedelta(days=400), retention_days=1)
    ticket = Ticket.objects.get(order=order)
    assert (ticket.holder_name, ticket.holder_email) == ("", "")
    assert TicketTransfer.objects.filter(to_email="").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_transfer_racing_a_scan_of_the_old_code_lets_exactly_one_through():
    """Real threads on PostgreSQL: either the gate admits the old code (then the transfer is
    refused: the ticket is used) or the transfer wins (then the old code is void). Never both."""
    for _ in range(5):
        order = _order(seats=1)
        ticket = order.tickets.get()
        results = race(
            [
                lambda code=ticket.code: ticket_check_in(code=code),
                lambda order=order, ticket=ticket: _give(order, ticket),
            ]
        )
        outcomes = [kind for kind, _value in results]
        assert outcomes.count("ok") == 1, results
        ticket.refresh_from_db()
        if results[0][0] == "ok":
            assert isinstance(results[1][1], TicketNotTransferable) and ticket.status == "used"
        else:
            assert isinstance(results[0][1], TicketVoid) and ticket.transferred_at is not None


def test_the_attendee_list_names_whoever_was_given_the_ticket():
    from checkout.selectors.dashboard import ATTENDEE_COLUMNS, attendees_export_page

    order = _order(seats=2)
    given, kept = order.tickets.all()
    _give(order, given)
    rows, _next = attendees_export_page(event=order.event, after=0)
    holder = {row[0]: row[ATTENDEE_COLUMNS.index("holder email")] for row in rows}
    assert holder == {str(given.pk): "grete@example.com", str(kept.pk): ""}
