"""The guest journey in a real Chromium: buy without an account, open the order from the link
in the e-mail (read from Django's file mail backend), download the PDF, check in at the gate;
and a buyer giving a ticket to a friend, who gets in with it while the old code is refused."""

from __future__ import annotations

import io
import re
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from checkout.models import Order, OutboxMessage, TicketStatus
from checkout.tasks import outbox_send
from tests.browser.conftest import needs
from tests.browser.test_journeys import _buy, _event, _open_map, _pay, _seat
from tests.factories import UserFactory, staff_user

pytestmark = pytest.mark.browser


def _mailed_link(mail_dir, kind: str = "orders") -> str:
    (log,) = mail_dir.iterdir()
    raw = log.read_bytes().split(b"\n" + b"-" * 79 + b"\n")[0]
    message = message_from_bytes(raw, policy=default_policy)
    text = message.get_body(preferencelist=("plain",)).get_content()
    (link,) = re.findall(rf"https?://\S+/{kind}/\d+/[\w-]+/", text)
    return link


def _check_in(gate, code: str) -> None:
    gate.get_by_label("Ticket code").fill(code)
    gate.get_by_role("button", name="Check in", exact=True).click()


def test_a_guest_buys_opens_the_order_from_the_mail_downloads_the_pdf_and_gets_in(site, settings, tmp_path):
    needs("/api/events/1/holds", "/api/holds/1/purchase", "/accounts/guest/")
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    event = _event(title="Nachtmusik für Alle")
    page = site.new_page()
    _open_map(page, event)
    _seat(page, "A", "3").click()
    page.get_by_role("button", name="Hold 1 seat").click()
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_role("link", name="buy as a guest").click()
    page.get_by_label("Name").fill("Zoë Gast")
    page.get_by_label("E-mail").fill("zoe@example.com")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(rf"/events/{event.id}/$"))
    _seat(page, "A", "3").click()
    page.get_by_role("button", name="Hold 1 seat").click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    expect(page.locator("[data-checkout]").get_by_label("E-mail")).to_have_value("zoe@example.com")
    _pay(page)
    page.wait_for_url(re.compile(r"/orders/\d+/$"))
    expect(page.locator("[data-guest-note]")).to_contain_text("zoe@example.com")

    order = Order.objects.get(buyer_email="zoe@example.com")
    assert order.user.is_guest
    # What the outbox task does after the purchase (no cluster runs in the tests).
    assert outbox_send(OutboxMessage.objects.get(order=order).pk) is True
    link = _mailed_link(tmp_path / "mail")
    path = link.split("://", 1)[1].split("/", 1)[1]

    other_device = site.new_page()  # no session: only the link
    other_device.goto(f"/{path}")
    (ticket,) = order.tickets.all()
    expect(other_device.locator("[data-ticket]")).to_contain_text("Row A, seat 3")
    expect(other_device.locator("[data-ticket] svg.segno")).to_have_count(1)
    expect(other_device.locator("[data-ticket] code")).to_have_text(ticket.code)
    with other_device.expect_download() as download:
        other_device.get_by_role("link", name="Download PDF tickets").click()
    pdf = PdfReader(io.BytesIO(download.value.path().read_bytes()))
    assert len(pdf.pages) == 1 and "Nachtmusik für Alle" in pdf.pages[0].extract_text()
    assert ticket.code in pdf.pages[0].extract_text()

    gate = site.new_page()
    site.log_in(gate, staff_user())
    gate.goto("/staff/checkin/")
    _check_in(gate, ticket.code)
    expect(gate.locator(".checkin-result")).to_contain_text("ADMIT")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.USED


def test_a_buyer_gives_a_ticket_to_a_friend_who_gets_in_while_the_old_code_is_refused(
    site, settings, tmp_path
):
    needs("/api/events/1/holds", "/api/holds/1/purchase")
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    event = _event(title="Nachtmusik für Alle")
    page = site.new_page()
    site.log_in(page, UserFactory(name="Ada Buyer"))
    _buy(site, page, event, [("A", "4")])
    order = Order.objects.get(event=event)
    (ticket,) = order.tickets.all()
    old_code = ticket.code
    expect(page.locator("[data-ticket] code")).to_have_text(old_code)

    page.get_by_text("Give this ticket to someone").click()
    give = page.locator("[data-transfer] form")
    give.get_by_label("Name").fill("Grete Freundin")
    give.get_by_label("E-mail").fill("grete@example.com")
    give.get_by_label("I give this ticket away").check()
    give.get_by_role("button", name="Send the ticket").click()
    expect(page.get_by_text("The ticket is on its way to grete@example.com")).to_be_visible()
    expect(page.locator("[data-holder]")).to_have_text("Given to Grete Freundin (grete@example.com)")
    expect(page.locator("[data-ticket] svg.segno")).to_have_count(0)
    expect(page.locator("[data-no-qr]")).to_have_text("TRANSFERRED")

    assert outbox_send(OutboxMessage.objects.get(kind="ticket_transfer").pk) is True
    path = _mailed_link(tmp_path / "mail", "tickets").split("://", 1)[1].split("/", 1)[1]
    friend = site.new_page()  # no account, no session: only the link
    friend.goto(f"/{path}")
    ticket.refresh_from_db()
    expect(friend.locator("[data-ticket]")).to_contain_text("Row A, seat 4")
    expect(friend.locator("[data-ticket] svg.segno")).to_have_count(1)
    expect(friend.locator("[data-ticket] code")).to_have_text(ticket.code)

    gate = site.new_page()
    site.log_in(gate, staff_user())
    gate.goto("/staff/checkin/")
    _check_in(gate, old_code)
    expect(gate.locator(".checkin-result")).to_have_attribute("data-outcome", "TICKET_VOID")
    expect(gate.locator(".checkin-result")).to_contain_text("given to someone else")
    _check_in(gate, ticket.code)
    # Wait for this scan's own answer: "DO NOT ADMIT" above also contains "ADMIT".
    expect(gate.locator(".checkin-result")).to_have_attribute("data-outcome", "admitted")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.USED
