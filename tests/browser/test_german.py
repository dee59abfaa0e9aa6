"""The whole buyer journey in German: browse, the map, hold, pay, tickets, waitlist page.
No English word is left on those pages, dates and prices are German, the switch works."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from checkout.models import Order
from tests.browser.conftest import needs, screenshot
from tests.factories import UserFactory, make_event, make_venue

pytestmark = pytest.mark.browser

# Words that would give away an untranslated string (the test data avoids them).
ENGLISH = re.compile(
    r"\b(the|your|you|seats?|hold|held|available|free|sold|sections?|prices?|zoom|back|try|again|"
    r"time|left|order|cancel|waitlist|sign|log|pick|best|row|total|pay|loading|events?|search|"
    r"upcoming|from|of|and|with|stage|field|taken|done|steps?|details|payment|card)\b",
    re.IGNORECASE,
)


def english_left(page, *known: str) -> list[str]:
    text = page.locator("body").inner_text()
    for value in known:
        text = text.replace(value, " ")
    return sorted({m.group(0) for m in ENGLISH.finditer(text)})


def test_the_buyer_journey_in_german(site):
    needs("/api/events/1/seats", "/api/events/1/holds", "/api/holds/1", "/api/holds/1/purchase")
    venue = make_venue(rows=3, seats_per_row=8, name="Stadthalle", city="Leipzig")
    event = make_event(venue=venue, price="1234.50", title="Lichterkonzert")
    buyer = UserFactory(name="Ada Käuferin")
    known = (
        event.title,
        venue.name,
        venue.city,
        buyer.email,
        buyer.name,
        "Main",
        "Europe/Berlin",
        "Ticketing",
    )
    for phone in (False, True):
        page = site.new_page(locale="de-DE", phone=phone)
        # A search of its own: the app server's browse cache outlives the flush between tests.
        page.goto(f"/?q={event.title}")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        expect(page.get_by_role("heading", name="Kommende Veranstaltungen")).to_be_visible()
        expect(page.locator(".event-card")).to_contain_text("ab 1.234,50 EUR")
        assert english_left(page, *known) == []
        screenshot(page, f"browse-de{'-phone' if phone else ''}")

        page.goto(f"/events/{event.id}/")
        expect(page.locator("#seat-picker")).to_have_attribute("data-ready", "1")
        seat = page.get_by_role("checkbox", name=re.compile(r"^Reihe A Platz 4, 1\.234,50\s€"))
        seat.tap() if phone else seat.click()
        expect(page.locator("[data-total]")).to_have_text(re.compile(r"^Gesamt: 1\.234,50\s€$"))
        assert english_left(page, *known) == [], page.locator("body").inner_text()
        screenshot(page, f"event-de{'-phone' if phone else ''}")

    page = site.new_page(locale="de-DE")
    page.goto("/accounts/login/")
    page.get_by_label("E-Mail").fill(buyer.email)
    page.get_by_label("Passwort").fill("pass-word-123")
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.goto(f"/events/{event.id}/")
    expect(page.locator("#seat-picker")).to_have_attribute("data-ready", "1")
    for label in ("4", "5"):
        page.get_by_role("checkbox", name=re.compile(rf"^Reihe A Platz {label},")).click()
    page.get_by_role("button", name="2 Plätze reservieren").click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    expect(page.get_by_role("navigation", name="Kaufschritte")).to_contain_text("Angaben")
    expect(page.locator("[data-countdown]")).to_have_attribute("aria-label", re.compile(r"^noch \d Minuten?"))
    expect(page.get_by_role("button", name="Mehr Zeit (noch 2-mal)")).to_be_visible()
    assert english_left(page, *known, "4242 4242 4242 4242", "4000 0000 0000 0002") == []
    screenshot(page, "hold-de")

    form = page.locator("[data-checkout]")
    form.get_by_label("Kartennummer").fill("4242 4242 4242 4242")
    form.get_by_role("button", name=re.compile(r"bezahlen$")).click()
    page.wait_for_url(re.compile(r"/orders/\d+/$"))
    expect(page.get_by_role("status").filter(has_text="Ihre Bestellung ist bestätigt")).to_be_visible()
    expect(page.locator("[data-ticket]").first).to_contain_text("Reihe A, Platz 4")
    order = Order.objects.get(user=buyer)
    assert english_left(page, *known, *(t.code for t in order.tickets.all())) == []
    screenshot(page, "tickets-de")

    page.goto("/waitlist/")
    expect(page.get_by_role("heading", name="Meine Warteliste")).to_be_visible()
    expect(page.locator("[data-entries]")).to_contain_text("Sie warten auf keine Veranstaltung.")
    assert english_left(page, *known) == []

    # The switch: back to English, kept for the next page.
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="My waitlist")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", name="Upcoming events")).to_be_visible()
