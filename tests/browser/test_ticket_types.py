"""Ticket types, codes and fees in a real Chromium: a presale code shows a hidden VIP type, two
seats are bought as two types with a promo code, and the confirmation (page and e-mail) shows
each line with its type, price, discount and fee."""

from __future__ import annotations

import re
from decimal import Decimal
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from playwright.sync_api import expect

from checkout.models import Order, OutboxMessage
from checkout.tasks import outbox_send
from tests.browser.conftest import needs, screenshot
from tests.browser.test_journeys import _open_map, _pay, _seat
from tests.factories import UserFactory, make_code, make_event, make_ticket_type, make_venue

pytestmark = pytest.mark.browser


def test_presale_vip_and_a_promo_code_over_two_seat_types(site, settings, tmp_path):
    needs("/api/events/1/seats", "/api/events/1/holds", "/api/holds/1", "/api/holds/1/pricing")
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    venue = make_venue(rows=2, seats_per_row=6, name="Riverside Hall")
    event = make_event(venue=venue, price="45.00", title="Gala Night", service_fee=Decimal("1.50"))
    vip = make_ticket_type(event, "VIP", "120.00", visibility="presale")
    make_code(event, "VIPFANS", kind="presale", ticket_type_ids=[vip.id])
    make_code(event, "SAVE10", discount_kind="percent", discount_value=10)
    page = site.new_page()
    site.log_in(page, UserFactory(name="Ada Buyer"))

    _open_map(page, event)
    prices = page.locator("#ticket-types")
    expect(prices).to_contain_text("service fee of 1.50")
    expect(prices).not_to_contain_text("VIP")  # hidden without its code
    _seat(page, "A", "3").click()
    _seat(page, "A", "4").click()
    page.get_by_role("button", name="Hold 2 seats").click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    expect(page.locator("[data-seat-type]")).to_have_count(0)  # only the standard price so far

    # The presale code unlocks VIP; the promo code comes in the same field.
    page.get_by_label("Presale or promo code").fill("vipfans save10")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("[data-seat-type]")).to_have_count(2)
    expect(page.get_by_label("Presale or promo code")).to_have_value("VIPFANS SAVE10")
    first = page.locator("[data-seat-type]").first
    expect(first.locator("option", has_text="VIP")).to_have_count(1)
    first.select_option(label="VIP (120.00 EUR)")
    expect(page.locator("[data-total]")).to_have_text(re.compile(r"^151\.50"))
    # VIP 120.00 - 12.00 + 1.50 and standard 45.00 - 4.50 + 1.50.
    rows = page.locator("tr[data-seat-id]")
    expect(rows.nth(0)).to_contain_text("120.00")
    expect(rows.nth(0)).to_contain_text("12.00")
    expect(rows.nth(1)).to_contain_text("4.50")
    screenshot(page, "hold-ticket-types")

    _pay(page)
    page.wait_for_url(re.compile(r"/orders/\d+/$"))
    lines = page.locator("[data-ticket] [data-line]")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text(
        re.compile(r"VIP · 120\.00 EUR · discount −12\.00 EUR · fee 1\.50 EUR")
    )
    expect(lines.nth(1)).to_contain_text(
        re.compile(r"Standard · 45\.00 EUR · discount −4\.50 EUR · fee 1\.50 EUR")
    )
    screenshot(page, "order-ticket-types")

    order = Order.objects.get(event=event)
    assert order.total == Decimal("151.50") and order.promo_code.code == "SAVE10"
    # The confirmation e-mail, as the outbox task sends it (no cluster runs in the tests).
    assert outbox_send(OutboxMessage.objects.get(order=order).pk) is True
    (log,) = (tmp_path / "mail").iterdir()
    message = message_from_bytes(log.read_bytes(), policy=default_policy)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "VIP: 120.00 EUR - 12.00 EUR discount + 1.50 EUR fee = 109.50 EUR" in text
    assert "Standard: 45.00 EUR - 4.50 EUR discount + 1.50 EUR fee = 42.00 EUR" in text
    assert "151.50 EUR" in text
