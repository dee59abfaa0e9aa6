"""The waiting room in a real Chromium: a buyer waits, watches "now serving" move, is admitted,
picks seats and buys; another buyer still waiting sees the event sell out and joins the waitlist.

Other buyers' turns are driven through the services from the test; their pushes reach the
page over the real channel layer and the event websocket, as in production.
"""

from __future__ import annotations

import re
import threading

import pytest
from playwright.sync_api import expect

from checkout.models import Order
from checkout.services import admission
from checkout.services.holds import hold_create
from tests.browser.conftest import screenshot
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_event, make_venue
from waitlist import queue_services
from waitlist.models import WaitlistEntry

pytestmark = pytest.mark.browser


def elsewhere(fn, **kwargs):
    """Run a service as another buyer's request would: in a thread of its own, off Playwright's
    event loop (its after-commit pushes use ``async_to_sync``), with its own connection."""
    from django.db import connection

    result: list = []

    def run():
        try:
            result.append(fn(**kwargs))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert result, f"{fn.__name__} failed"
    return result[0]


def _room_event(*, rows: int, seats_per_row: int):
    event = make_event(venue=make_venue(rows=rows, seats_per_row=seats_per_row, name="Riverside Hall"))
    admission.room_update(event_id=event.id, enabled=True, checkout_limit=1)
    return event


def test_a_buyer_waits_sees_the_number_move_is_admitted_and_buys(site):
    event = _room_event(rows=3, seats_per_row=8)
    first, second = UserFactory(), UserFactory()
    queue_services.queue_join(user=first, event_id=event.id)  # number 1, admitted
    queue_services.queue_join(user=second, event_id=event.id)  # number 2, waiting
    page = site.new_page(phone=True)
    site.log_in(page, UserFactory())
    queue_posts = []
    page.on("request", lambda r: r.method == "POST" and "/queue" in r.url and queue_posts.append(r.url))
    page.goto(f"/events/{event.id}/")
    page.wait_for_url(re.compile(rf"/events/{event.id}/queue/$"))
    queue = page.locator("#queue")
    expect(queue.locator("[data-queue-number]")).to_have_text("3")
    # The page joined over its socket (batched on the server's event loop), not with a request.
    assert queue_posts == []
    expect(queue.locator("[data-queue-serving]")).to_have_text("1")
    status = queue.locator("[data-queue-status]")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_contain_text("1 person ahead of you")
    screenshot(page, "waiting-room")

    # The first buyer gives their turn back: number 2 is served, live.
    elsewhere(queue_services.queue_leave, user=first, event_id=event.id)
    expect(queue.locator("[data-queue-serving]")).to_have_text("2")
    expect(status).to_have_text("You are next.")

    # The second buyer leaves too: it is our turn, with the seat map and the time left.
    elsewhere(queue_services.queue_leave, user=second, event_id=event.id)
    expect(page.get_by_role("heading", name="It is your turn")).to_be_visible()
    expect(page.locator("[data-turn-countdown]")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    expect(page.locator("#seat-picker")).to_have_attribute("data-ready", "1")
    page.get_by_role("checkbox", name=re.compile(r"^Row A seat 4,")).click()
    page.get_by_role("button", name=re.compile(r"^Hold \d+ seat")).click()
    page.wait_for_url(re.compile(r"/holds/\d+/$"))
    form = page.locator("[data-checkout]")
    form.get_by_label("Name").fill("Ada Buyer")
    form.get_by_label("Card number").fill("4242 4242 4242 4242")
    form.get_by_role("button", name=re.compile(r"^Pay")).click()
    page.wait_for_url(re.compile(r"/orders/\d+/$"))
    assert Order.objects.filter(event=event, status="paid").count() == 1


def test_a_waiting_buyer_sees_the_sell_out_and_is_offered_the_waitlist(site):
    event = _room_event(rows=1, seats_per_row=2)
    first, waiting = UserFactory(), UserFactory()
    queue_services.queue_join(user=first, event_id=event.id)  # admitted
    page = site.new_page()
    site.log_in(page, waiting)
    page.goto(f"/events/{event.id}/queue/")
    queue = page.locator("#queue")
    expect(queue.locator("[data-queue-number]")).to_have_text("2")
    expect(queue.locator("[data-queue-status]")).to_have_text("You are next.")

    # The admitted buyer holds every seat: the event is sold out and the queue closes.
    elsewhere(hold_create, user=first, event_id=event.id, seat_ids=seat_ids(event))
    closed = queue.locator("[data-queue-closed]")
    expect(closed).to_be_visible()
    expect(queue.locator("[data-queue-status]")).to_have_text("This event is sold out.")
    closed.get_by_role("button", name="Join the waitlist").click()
    expect(closed.get_by_role("link", name="You are on the waitlist.")).to_be_visible()
    assert WaitlistEntry.objects.filter(event=event, user=waiting, status="waiting").exists()


@pytest.mark.parametrize("locale", ["en-GB", "de-DE"])
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_the_waiting_room_has_no_serious_axe_issues(site, locale, phone):
    from tests.browser.test_accessibility import axe_problems

    event = _room_event(rows=1, seats_per_row=4)
    queue_services.queue_join(user=UserFactory(), event_id=event.id)
    page = site.new_page(phone=phone, locale=locale)
    site.log_in(page, UserFactory())
    page.goto(f"/events/{event.id}/queue/")
    expect(page.locator("#queue [data-queue-number]")).to_have_text("2")
    assert axe_problems(page) == []


def test_without_its_socket_the_page_joins_over_http(site):
    """A page whose websocket cannot open (a proxy that refuses them, say) still joins: it
    falls back to ``POST /api/events/{id}/queue`` and polls."""
    event = _room_event(rows=1, seats_per_row=4)
    queue_services.queue_join(user=UserFactory(), event_id=event.id)  # admitted
    page = site.new_page()
    site.log_in(page, UserFactory())
    page.route_web_socket(re.compile(r".*/ws/events/.*"), lambda ws: ws.close(code=1011))
    queue_posts = []
    page.on("request", lambda r: r.method == "POST" and "/queue" in r.url and queue_posts.append(r.url))
    page.goto(f"/events/{event.id}/queue/")
    expect(page.locator("#queue [data-queue-number]")).to_have_text("2")
    assert len(queue_posts) == 1
