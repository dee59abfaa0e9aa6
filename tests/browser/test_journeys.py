"""Buyer journeys in a real Chromium: seat map, hold, checkout, tickets, live updates, waitlist.

They drive the JSON API and the event websocket through the pages, exactly as a buyer does.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from checkout.models import Order, OrderStatus, Ticket, TicketStatus
from checkout.services import sales
from tests.browser.conftest import needs, screenshot
from tests.factories import UserFactory, make_event, make_venue
from ticketing.management.commands.seed_demo import arena_sections

pytestmark = pytest.mark.browser

SEAT_MAP = "/api/events/1/seats"
HOLDS = ("/api/events/1/holds", "/api/holds/1", "/api/holds/1/purchase")
WAITLIST = ("/api/events/1/waitlist", "/api/waitlist", "/api/orders/1/cancel")

CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0002"


def _event(*, rows: int = 3, seats_per_row: int = 8, price: str = "45.00", title: str = "Aurora Lights Tour"):
    venue = make_venue(rows=rows, seats_per_row=seats_per_row, name="Riverside Hall")
    return make_event(venue=venue, price=price, title=title)


def _open_map(page, event, *, seats_page: bool = False):
    """The event page, which embeds the seat picker (or the picker's own page)."""
    page.goto(f"/events/{event.id}/seats/" if seats_page else f"/events/{event.id}/")
    expect(page.locator("#seat-picker")).to_have_attribute("data-ready", "1")
    return page.locator("#seat-picker")


def _seat(page, row: str, label: str, price: str = "€45"):
    return page.get_by_role("checkbox", name=f"Row {row} seat {label}, {price}", exact=False)


def _pay(page, *, name="Ada Buyer", email=None, card=CARD_OK):
    form = page.locator("[data-checkout]")
    form.get_by_label("Name").fill(name)
    if email:
        form.get_by_label("E-mail").fill(email)
    form.get_by_label("Card number").fill(card)
    form.get_by_role("button", name=re.compile(r"^Pay")).click()


def _buy(site, page, event, seats: list[tuple[str, str]]):
    """Pick ``seats`` on the map, hold them and pay; returns on the confirmation page."""
    _open_map(page, event)
    for row, label in seats:
        _seat(page, row, label).click()
    page.get_by_role("button", name=re.compile(r"^Hold \d+ seat")).click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    _pay(page)
    page.wait_for_url(re.compile(r"/orders/\d+/$"))


def test_pick_two_seats_on_the_map_and_buy_them(site):
    needs(SEAT_MAP, *HOLDS)
    event = _event()
    buyer = UserFactory(name="Ada Buyer")
    page = site.new_page()
    site.log_in(page, buyer)
    picker = _open_map(page, event)

    _seat(page, "A", "4").click()
    # The keyboard works too: focus a seat, press space.
    _seat(page, "A", "5").focus()
    page.keyboard.press("Space")
    expect(_seat(page, "A", "4")).to_have_attribute("aria-checked", "true")
    expect(_seat(page, "A", "5")).to_have_attribute("aria-checked", "true")
    expect(picker.locator("[data-total]")).to_have_text("Total: €90")
    screenshot(page, "seat-map")
    page.get_by_role("button", name="Hold 2 seats").click()

    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    countdown = page.locator("[data-countdown]")
    expect(countdown).to_have_text(re.compile(r"^0[45]:\d\d$"))
    expires = page.locator("#hold-page").get_attribute("data-expires-at")
    page.reload()
    # The countdown comes from the server's expiry: a reload does not restart it.
    assert page.locator("#hold-page").get_attribute("data-expires-at") == expires
    expect(page.locator("table.seats tbody tr")).to_have_count(2)
    expect(page.locator("[data-checkout]").get_by_label("Name")).to_have_value("Ada Buyer")
    screenshot(page, "hold")

    form = page.locator("[data-checkout]")
    form.get_by_label("Card number").fill(CARD_OK)
    # A double click is one attempt: one order, one charge.
    form.get_by_role("button", name=re.compile(r"^Pay")).dblclick()
    page.wait_for_url(re.compile(r"/orders/\d+/$"))

    expect(page.get_by_role("status").filter(has_text="confirmed")).to_be_visible()
    tickets = page.locator("[data-ticket]")
    expect(tickets).to_have_count(2)
    expect(tickets.nth(0)).to_contain_text("Row A, seat 4")
    expect(tickets.nth(1)).to_contain_text("Row A, seat 5")
    expect(page.locator("[data-ticket] svg.segno")).to_have_count(2)
    expect(page.locator("[data-ticket] svg.segno").first).to_be_visible()
    screenshot(page, "tickets")

    order = Order.objects.get(user=buyer)
    assert order.status == OrderStatus.PAID and order.payments.count() == 1
    assert sorted(t.seat.label for t in order.tickets.all()) == ["4", "5"]

    # The map now shows them taken.
    _open_map(page, event)
    expect(_seat(page, "A", "4")).to_have_attribute("aria-disabled", "true")


def test_checkout_errors_are_in_words_and_keep_what_was_typed(site):
    needs(SEAT_MAP, *HOLDS)
    event = _event()
    page = site.new_page()
    site.log_in(page, UserFactory())
    _open_map(page, event)
    _seat(page, "B", "2").click()
    page.get_by_role("button", name="Hold 1 seat").click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))

    # More time, while extensions remain.
    expires = page.locator("#hold-page").get_attribute("data-expires-at")
    page.get_by_role("button", name="Give me more time (2 left)").click()
    expect(page.get_by_role("button", name="Give me more time (1 left)")).to_be_visible()
    expect(page.locator("[data-hold-note]")).to_have_text("Done: you have more time.")
    page.reload()
    assert page.locator("#hold-page").get_attribute("data-expires-at") > expires

    _pay(page, name="Grace Hopper", email="grace@example.com", card=CARD_DECLINED)
    alert = page.locator("[data-checkout] [data-error]")
    expect(alert).to_contain_text("declined")
    expect(alert).to_be_focused()
    form = page.locator("[data-checkout]")
    expect(form.get_by_label("Name")).to_have_value("Grace Hopper")
    expect(form.get_by_label("E-mail")).to_have_value("grace@example.com")
    expect(form.get_by_role("button", name=re.compile(r"^Pay"))).to_be_enabled()
    screenshot(page, "checkout-declined")
    assert not Order.objects.exists()

    # The next attempt is a new one (new idempotency key) and goes through.
    form.get_by_label("Card number").fill(CARD_OK)
    form.get_by_role("button", name=re.compile(r"^Pay")).click()
    page.wait_for_url(re.compile(r"/orders/\d+/$"))
    order = Order.objects.get()
    assert order.buyer_name == "Grace Hopper" and order.buyer_email == "grace@example.com"


def test_best_available_purchase(site):
    needs(SEAT_MAP, *HOLDS)
    event = _event(rows=3, seats_per_row=8)
    page = site.new_page()
    site.log_in(page, UserFactory())
    _open_map(page, event)
    best = page.locator("[data-best]")
    best.get_by_label("Section").select_option(label="Main — €45")
    best.get_by_label("Seats").fill("3")
    best.get_by_role("button", name="Hold the best seats").click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    expect(page.locator("table.seats tbody tr")).to_have_count(3)
    expect(page.locator("[data-total]")).to_have_text("135.00 EUR")
    _pay(page)
    page.wait_for_url(re.compile(r"/orders/\d+/$"))
    tickets = Ticket.objects.filter(order__event=event).select_related("seat")
    assert len(tickets) == 3
    # Best available means together: one row, adjacent seats.
    assert len({t.seat.row_label for t in tickets}) == 1
    positions = sorted(t.seat.position for t in tickets)
    assert positions == list(range(positions[0], positions[0] + 3))


def test_a_seat_held_in_another_browser_greys_out_live(site):
    needs(SEAT_MAP, *HOLDS, websocket=True)
    event = _event()
    watcher = site.new_page()
    site.log_in(watcher, UserFactory())
    _open_map(watcher, event)
    expect(watcher.locator("#seat-picker")).to_have_attribute("data-live", "live")
    # The watcher had picked the very seat someone else is about to hold.
    _seat(watcher, "C", "3").click()

    other = site.new_page()
    site.log_in(other, UserFactory())
    _open_map(other, event)
    _seat(other, "C", "3").click()
    _seat(other, "C", "4").click()
    other.get_by_role("button", name="Hold 2 seats").click()
    other.wait_for_url(re.compile(r"/holds/\d+/$"))

    # No reload: the websocket greys both seats out and drops the pick in the first browser.
    for label in ("3", "4"):
        seat = watcher.locator(f'[data-seat][aria-label^="Row C seat {label},"]')
        expect(seat).to_have_attribute("aria-disabled", "true")
        expect(seat).to_have_class(re.compile(r"\btaken\b"))
    expect(watcher.locator("[data-error]")).to_contain_text("Main, Row C seat 3 was just taken")
    expect(watcher.locator("[data-selected-list] li")).to_have_count(0)
    # The event page's own counts above the map follow along.
    expect(watcher.locator("#seats-left")).to_have_text("22")
    expect(watcher.locator("#sections tr[data-section-id] .available")).to_have_text("22 of 24")
    screenshot(watcher, "seat-map-live")

    # And back when released.
    other.get_by_role("button", name="Release these seats").click()
    expect(_seat(watcher, "C", "3")).not_to_have_attribute("aria-disabled", "true")
    expect(watcher.locator("#seats-left")).to_have_text("24")


def test_sold_out_waitlist_offer_arrives_live_and_is_bought(site):
    needs(SEAT_MAP, *HOLDS, *WAITLIST, websocket=True)
    event = _event(rows=1, seats_per_row=2, title="Tiny Club Night")
    waiting_user = UserFactory(name="Wendy Waiting")
    waiting = site.new_page()
    site.log_in(waiting, waiting_user)
    picker = _open_map(waiting, event)
    expect(waiting.locator("#seat-picker")).to_have_attribute("data-live", "live")
    expect(waiting.locator("h1 .badge")).to_have_text("On sale")

    first = site.new_page()
    site.log_in(first, UserFactory(name="First Buyer"))
    _buy(site, first, event, [("A", "1"), ("A", "2")])

    # Sold out while she watched the event page: its header and the picker say so live.
    expect(waiting.locator("h1 .badge")).to_have_text("Sold out")
    expect(picker.locator("[data-waitlist]")).to_be_visible()
    # And a fresh load of the event page says the same from the server.
    picker = _open_map(waiting, event)
    expect(waiting.locator("h1 .badge")).to_have_text("Sold out")
    expect(waiting.locator("#seats-left")).to_have_text("0")
    panel = picker.locator("[data-waitlist]")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Sold out")
    expect(picker.locator("[data-best]")).to_be_hidden()
    panel.get_by_label("Seats wanted").fill("2")
    panel.get_by_role("button", name="Join the waitlist").click()
    expect(panel.locator("[data-waitlist-position]")).to_have_text("1st")
    expect(waiting.locator("#seat-picker")).to_have_attribute("data-live", "live")
    screenshot(waiting, "waitlist")
    # "My waitlist", open in another tab of the same browser, follows along too.
    mine = waiting.context.new_page()
    mine.goto("/waitlist/")
    entry = mine.locator("[data-entry]")
    expect(entry).to_contain_text("You are 1st in line for 2 seats.")
    expect(entry.get_by_role("link", name="Tiny Club Night")).to_be_visible()

    # The first buyer cancels in their own browser...
    first.goto("/orders/")
    first.get_by_role("button", name="Cancel this order").click()
    first.get_by_role("button", name="Yes, cancel the order").click()
    expect(first.locator("[data-order-status]")).to_have_text(re.compile("Cancelled"))

    # ...and the offer appears for the waiting buyer without a reload.
    banner = waiting.locator("[data-offer-banner]")
    expect(banner).to_be_visible()
    expect(banner.locator("[data-offer-countdown]")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    # The offer replaces the place in line.
    expect(panel).to_be_hidden()
    screenshot(waiting, "waitlist-offer")
    expect(entry.locator(".offer-banner")).to_be_visible()
    expect(entry.get_by_role("link", name="Pay now")).to_be_visible()
    mine.close()
    banner.get_by_role("link", name="Pay now").click()
    waiting.wait_for_url(re.compile(r"/holds/\d+/$"))
    expect(waiting.locator("table.seats tbody tr")).to_have_count(2)
    _pay(waiting, name="Wendy Waiting")
    waiting.wait_for_url(re.compile(r"/orders/\d+/$"))
    expect(waiting.locator("[data-ticket]")).to_have_count(2)
    # "My waitlist" keeps the entry as history: no place in line, nothing to leave.
    waiting.goto("/waitlist/")
    done = waiting.locator("[data-entry]")
    expect(done).to_contain_text("You bought these seats.")
    expect(done.get_by_role("link", name="Tiny Club Night")).to_have_attribute(
        "href", f"/events/{event.id}/#seat-picker"
    )
    expect(done.get_by_role("button", name="Leave the waitlist")).to_have_count(0)

    assert Ticket.objects.filter(order__user=waiting_user, status=TicketStatus.VALID).count() == 2
    assert Order.objects.filter(status=OrderStatus.CANCELLED).count() == 1


def test_a_refused_hold_says_why_and_takes_the_keyboard_focus(site):
    needs(SEAT_MAP, *HOLDS)
    event = _event()
    page = site.new_page()
    site.log_in(page, UserFactory())
    _open_map(page, event)
    _seat(page, "A", "1").click()
    page.get_by_role("button", name="Hold 1 seat").click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    held = page.url

    # Back on the event page with that hold still open, a keyboard user tries again.
    _open_map(page, event)
    _seat(page, "B", "2").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Hold 1 seat").focus()
    page.keyboard.press("Enter")
    error = page.locator("#seat-picker [data-error]")
    expect(error).to_contain_text("You already hold seats for this event")
    # The pressed button was disabled mid-request; the focus went to the words, not the page.
    expect(error).to_be_focused()
    page.keyboard.press("Tab")
    expect(error.get_by_role("link", name="Go to your held seats")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(held)
    expect(page.locator("table.seats tbody tr")).to_have_count(1)


def test_hold_expiry_says_so_and_frees_the_seats(short_hold_site):
    needs(SEAT_MAP, *HOLDS)
    site = short_hold_site
    event = _event()
    page = site.new_page()
    site.log_in(page, UserFactory())
    _open_map(page, event)
    _seat(page, "A", "1").click()
    page.get_by_role("button", name="Hold 1 seat").click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    # The short-hold server's holds last a few seconds; the page notices on its own.
    expired = page.locator("[data-expired]")
    expect(expired).to_be_visible()
    expect(expired).to_contain_text("Your hold has expired")
    expect(page.locator("[data-checkout]")).to_be_hidden()
    # The form the focus was in has gone: the focus is on the news instead.
    expect(expired).to_be_focused()
    screenshot(page, "hold-expired")
    expired.get_by_role("link", name="Back to the seat map").click()
    page.wait_for_url(re.compile(rf"/events/{event.id}/#seat-picker$"))
    expect(page.locator("#seat-picker")).to_have_attribute("data-ready", "1")
    expect(_seat(page, "A", "1")).not_to_have_attribute("aria-disabled", "true")


def test_arena_opens_on_sections_and_zooms_in_by_keyboard(site):
    needs(SEAT_MAP)
    # The demo's 20,000-seat arena: 40 sections, four price bands.
    venue = make_venue(sections=arena_sections(), name="Grand Arena")
    event = make_event(venue=venue, publish=False, title="Championship Final")
    for price in event.prices.select_related("section"):
        price.amount = 49 + 10 * (price.section.display_order % 4)
        price.save(update_fields=["amount"])
    sales.event_publish(event_id=event.id)

    page = site.new_page()
    _open_map(page, event, seats_page=True)
    expect(page.locator("[data-seat]")).to_have_count(0)
    expect(page.locator(".choosable")).to_have_count(40)
    screenshot(page, "arena-overview")
    block = page.get_by_role("button", name="Block 102, 500 free, €59")
    block.focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-seat]")).to_have_count(500)
    expect(page.locator(".map-title")).to_have_text("Block 102")
    page.keyboard.press("Space")  # the first free seat has the focus
    expect(page.locator("[data-selected-list] li")).to_have_count(1)
    expect(page.locator("[data-selected-list]")).to_contain_text("Block 102 · Row A seat 1")
    screenshot(page, "arena-section")
    page.get_by_role("button", name="← All sections").click()
    expect(page.get_by_role("button", name=re.compile(r"^Block 101,"))).to_be_visible()


def test_seat_map_works_on_a_phone(site):
    needs(SEAT_MAP, *HOLDS)
    event = _event()
    page = site.new_page(phone=True)
    site.log_in(page, UserFactory())
    _open_map(page, event)
    _seat(page, "B", "4").tap()
    expect(_seat(page, "B", "4")).to_have_attribute("aria-checked", "true")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "seat-map-phone")
    page.get_by_role("button", name="Hold 1 seat").tap()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_anonymous_buyer_is_sent_to_log_in_and_back(site):
    needs(SEAT_MAP, *HOLDS)
    event = _event()
    page = site.new_page()
    _open_map(page, event)
    _seat(page, "A", "3").click()
    page.get_by_role("button", name="Hold 1 seat").click()
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    site_user = UserFactory()
    page.get_by_label("E-mail").fill(site_user.email)
    page.get_by_label("Password").fill("pass-word-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(rf"/events/{event.id}/$"))
    expect(page.locator("#seat-picker")).to_have_attribute("data-ready", "1")


def test_before_sales_open_the_map_says_when(site):
    needs(SEAT_MAP)
    venue = make_venue(rows=2, seats_per_row=4)
    opens = timezone.now() + dt.timedelta(days=3)
    event = make_event(venue=venue, sales_open_at=opens, title="Announced Show")
    page = site.new_page()
    _open_map(page, event, seats_page=True)
    notice = page.locator("[data-sales-closed]")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Sales open on")
    expect(notice).to_contain_text(str(opens.astimezone(venue.tzinfo).year))
    # Seats are shown but cannot be picked, and nothing offers to hold them.
    expect(page.locator('[data-seat][tabindex="0"]')).to_have_count(0)
    expect(page.locator("[data-best]")).to_be_hidden()
