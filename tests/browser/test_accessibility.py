"""axe-core (vendored under static/vendor, no CDN) finds no serious or critical issue on the
buyer's pages, in English and in German, on a desktop and on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from checkout.models import SeatInventory
from checkout.services.holds import hold_create
from tests.browser.conftest import needs
from tests.factories import UserFactory, make_event, make_venue

pytestmark = pytest.mark.browser

AXE = "/static/vendor/axe-core/axe.min.js"


def axe_problems(page) -> list[str]:
    page.add_script_tag(url=AXE)
    result = page.evaluate(
        """async () => {
             const r = await axe.run(document, { resultTypes: ["violations"] });
             return r.violations
               .filter((v) => v.impact === "serious" || v.impact === "critical")
               .map((v) => {
                 const where = v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ");
                 return `${v.id} (${v.impact}): ${where} ${v.nodes[0] ? v.nodes[0].failureSummary : ""}`;
               });
           }"""
    )
    return result


@pytest.mark.parametrize("locale", ["en-GB", "de-DE"])
@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_buyer_pages_have_no_serious_axe_issues(site, locale, phone):
    needs("/api/events/1/seats", "/api/events/1/holds", "/api/holds/1", "/api/waitlist")
    event = make_event(venue=make_venue(rows=3, seats_per_row=8, name="Riverside Hall"), price="45.00")
    buyer = UserFactory()
    page = site.new_page(phone=phone, locale=locale)
    site.log_in(page, buyer)
    problems: dict[str, list[str]] = {}

    page.goto("/")
    problems["browse"] = axe_problems(page)

    page.goto(f"/events/{event.id}/")
    expect(page.locator("#seat-picker")).to_have_attribute("data-ready", "1")
    problems["event"] = axe_problems(page)

    seat = SeatInventory.objects.filter(event=event).order_by("seat__row_rank", "seat__position").first()
    hold = hold_create(user=buyer, event_id=event.id, seat_ids=[seat.seat_id])
    page.goto(f"/holds/{hold.id}/")
    expect(page.locator("[data-countdown]")).to_have_text(re.compile(r"\d\d:\d\d"))
    problems["checkout"] = axe_problems(page)

    page.goto("/orders/")
    problems["tickets"] = axe_problems(page)

    page.goto("/waitlist/")
    problems["waitlist"] = axe_problems(page)

    found = {name: issues for name, issues in problems.items() if issues}
    assert not found, found
