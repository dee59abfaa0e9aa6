"""Steps, the countdown's spoken warnings (on a fake clock), the expired page's "try the
same seats again", and a refused hold that names every taken seat and offers alternatives."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from checkout.models import SeatInventory
from checkout.services.holds import hold_create
from tests.browser.conftest import needs, screenshot
from tests.factories import UserFactory, make_event, make_venue

pytestmark = pytest.mark.browser

HOLDS = ("/api/events/1/seats", "/api/events/1/holds", "/api/holds/1")


def _event():
    return make_event(venue=make_venue(rows=3, seats_per_row=8, name="Riverside Hall"), price="45.00")


def _seat(page, row: str, label: str):
    return page.get_by_role("checkbox", name=re.compile(rf"^Row {row} seat {label},"))


def _open(page, event, query: str = ""):
    page.goto(f"/events/{event.id}/{query}")
    expect(page.locator("#seat-picker")).to_have_attribute("data-ready", "1")


def _hold(page, event, seats):
    _open(page, event)
    for row, label in seats:
        _seat(page, row, label).click()
    page.get_by_role("button", name=re.compile(r"^Hold \d+ seat")).click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))


def test_countdown_warns_politely_at_two_minutes_and_thirty_seconds(site):
    needs(*HOLDS)
    event = _event()
    page = site.new_page()
    site.log_in(page, UserFactory())
    page.clock.install()
    _hold(page, event, [("A", "4")])
    steps = page.get_by_role("navigation", name="Purchase steps")
    expect(steps.locator('[aria-current="step"]')).to_contain_text("Details")
    expect(steps.locator('[data-step="seats"]')).to_contain_text("done")

    countdown = page.locator("[data-countdown]")
    warning = page.locator("[data-countdown-warning]")
    expect(warning).to_have_attribute("aria-live", "polite")
    expect(warning).to_have_text("")
    # What is shown and what is said agree (05:00 is "5 minutes", never "4 minutes 0 seconds").
    shown, said = page.evaluate(
        "() => { const c = document.querySelector('[data-countdown]'); return [c.textContent, c.ariaLabel]; }"
    )
    minutes, seconds = (int(x) for x in shown.split(":"))
    expected = " ".join(
        part
        for part in (
            f"{minutes} minute{'s' if minutes != 1 else ''}" if minutes else "",
            f"{seconds} second{'s' if seconds != 1 else ''}" if seconds or not minutes else "",
        )
        if part
    )
    assert said == f"{expected} left"
    spoken = page.evaluate(
        """async () => {
             const m = await import('/static/js/countdown.js');
             return [300000, 60000, 61000, 30000, 299200].map(m.spoken);
           }"""
    )
    assert spoken == ["5 minutes", "1 minute", "1 minute 1 second", "30 seconds", "5 minutes"]

    # Fake time: three minutes on, two minutes are left.
    page.clock.fast_forward("03:01")
    expect(warning).to_have_text("2 minutes left to complete your purchase.")
    expect(countdown).to_have_text(re.compile(r"^01:5\d$"))
    page.clock.fast_forward("01:31")
    expect(warning).to_have_text("30 seconds left to complete your purchase.")
    expect(countdown).to_have_class(re.compile(r"\burgent\b"))

    # Focus in the card field: the steps move on to payment.
    page.locator("[data-checkout]").get_by_label("Card number").focus()
    expect(steps.locator('[aria-current="step"]')).to_contain_text("Payment")
    screenshot(page, "hold-steps")


def test_expired_hold_offers_the_same_seats_again(short_hold_site):
    needs(*HOLDS)
    site = short_hold_site
    event = _event()
    page = site.new_page()
    site.log_in(page, UserFactory())
    _hold(page, event, [("B", "4"), ("B", "5")])
    expired = page.locator("[data-expired]")
    expect(expired).to_be_visible()
    expect(expired).to_be_focused()
    screenshot(page, "hold-expired")
    # After a reload, the server says so itself, with the same offer.
    page.reload()
    expect(expired).to_be_visible()
    expired.get_by_role("link", name="Try the same seats again").click()
    expect(page.locator("#seat-picker")).to_have_attribute("data-ready", "1")
    expect(_seat(page, "B", "4")).to_have_attribute("aria-checked", "true")
    expect(_seat(page, "B", "5")).to_have_attribute("aria-checked", "true")
    expect(page.get_by_role("button", name="Hold 2 seats")).to_be_enabled()


def test_taken_seats_are_all_named_with_the_nearest_free_ones(site):
    needs(*HOLDS)
    event = _event()
    page = site.new_page()
    site.log_in(page, UserFactory())
    # This buyer's map hears nothing live, as if the updates were still on their way.
    page.route_web_socket(re.compile(r"/ws/"), lambda ws: None)
    _open(page, event)
    for label in ("3", "4", "5"):
        _seat(page, "B", label).click()
    taken = [
        SeatInventory.objects.get(event=event, seat__row_label="B", seat__label=label).seat_id
        for label in ("3", "4")
    ]
    hold_create(user=UserFactory(), event_id=event.id, seat_ids=taken)

    page.get_by_role("button", name="Hold 3 seats").click()
    error = page.locator("#seat-picker [data-error]")
    expect(error).to_contain_text("These seats were just taken: Main, Row B seat 3; Main, Row B seat 4.")
    expect(error).to_be_focused()
    offer = error.get_by_role("button", name=re.compile(r"^Pick the nearest free seats instead"))
    expect(offer).to_contain_text("Row")
    screenshot(page, "seats-taken-alternatives")
    offer.click()
    expect(page.locator("[data-selected-list] li")).to_have_count(3)
    expect(page.get_by_role("button", name="Hold 3 seats")).to_be_focused()
    page.get_by_role("button", name="Hold 3 seats").click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    expect(page.locator("table.seats tbody tr")).to_have_count(3)
