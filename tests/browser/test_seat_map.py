"""The map-first event page: the map in the first screen, zoom and pan with wheel, drag,
pinch and buttons, seats of at least 24 x 24 CSS px at the picking zoom, a tap picks one.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from checkout.services import sales
from tests.browser.conftest import needs, screenshot
from tests.browser.test_accessibility import axe_problems
from tests.factories import UserFactory, make_event, make_venue
from ticketing.management.commands.seed_demo import arena_sections

pytestmark = pytest.mark.browser

TARGET_PX = 24
# The first free seat wholly inside the map's window.
VISIBLE_FREE_SEAT = """() => {
  const m = document.querySelector(".seat-map").getBoundingClientRect();
  return [...document.querySelectorAll('[data-seat][tabindex="0"]')].find((n) => {
    const r = n.getBoundingClientRect();
    return r.left > m.left + 4 && r.right < m.right - 4 && r.top > m.top + 4 && r.bottom < m.bottom - 4;
  });
}"""


def _arena():
    venue = make_venue(sections=arena_sections(), name="Grand Arena")
    event = make_event(venue=venue, publish=False, title="Championship Final")
    for price in event.prices.select_related("section"):
        price.amount = 49 + 10 * (price.section.display_order % 4)
        price.save(update_fields=["amount"])
    sales.event_publish(event_id=event.id)
    return event


def _open(page, event):
    page.goto(f"/events/{event.id}/")
    expect(page.locator("#seat-picker")).to_have_attribute("data-ready", "1")


def _seat_size(page):
    box = page.locator("[data-seat]").first.bounding_box()
    return min(box["width"], box["height"])


def _in_first_screen(page, selector: str) -> bool:
    return page.evaluate(
        "(sel) => { const r = document.querySelector(sel).getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight * 0.5 && r.height > 0; }",
        selector,
    )


def _pinch(page, cdp, *, cx: float, cy: float, start: float, end: float, steps: int = 8) -> None:
    """Two fingers moving apart around (cx, cy), sent as real touch events."""

    def points(d):
        return [{"x": cx - d / 2, "y": cy, "id": 1}, {"x": cx + d / 2, "y": cy, "id": 2}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(start)})
    for i in range(1, steps + 1):
        d = start + (end - start) * i / steps
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(d)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_phone_map_first_pinch_and_button_zoom_then_tap_a_seat(site):
    needs("/api/events/1/seats")
    event = _arena()
    page = site.new_page(phone=True)
    site.log_in(page, UserFactory())
    _open(page, event)
    # The map is the first thing: its top is in the upper half of the first screen.
    assert _in_first_screen(page, ".seat-map")
    expect(page.locator(".seat-map .stage")).to_have_count(1)
    # Four prices, then the signs that are not colours: picked, taken, wheelchair accessible.
    expect(page.locator(".legend li")).to_have_count(7)
    expect(page.locator(".legend")).to_contain_text("Wheelchair accessible")
    screenshot(page, "event-phone")

    page.get_by_role("button", name="Block 102, 500 free, €59").tap()
    expect(page.locator("[data-seat]")).to_have_count(500)
    assert _seat_size(page) < TARGET_PX  # the whole section fits the screen first

    # A pinch zooms in around the fingers.
    box = page.locator(".seat-map").bounding_box()
    cdp = page.context.new_cdp_session(page)
    before = float(page.locator("[data-map]").get_attribute("data-zoom"))
    _pinch(page, cdp, cx=box["x"] + box["width"] / 2, cy=box["y"] + box["height"] / 2, start=40, end=160)
    expect(page.locator("[data-map]")).not_to_have_attribute("data-zoom", f"{before:.2f}")
    assert float(page.locator("[data-map]").get_attribute("data-zoom")) > before

    # The zoom button takes the seats to at least the target size.
    for _ in range(8):
        if _seat_size(page) >= TARGET_PX:
            break
        page.get_by_role("button", name="Zoom in").tap()
    assert _seat_size(page) >= TARGET_PX

    # Tap a free seat that is on screen.
    handle = page.evaluate_handle(VISIBLE_FREE_SEAT)
    seat_id = handle.get_attribute("data-seat")
    seat = page.locator(f'[data-seat="{seat_id}"]')
    seat.tap()
    expect(seat).to_have_attribute("aria-checked", "true")
    expect(page.locator("[data-selected-list] li")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "event-phone-zoomed")


def test_the_stage_staff_drew_is_on_the_buyers_map(site):
    needs("/api/events/1/seats")
    venue = make_venue(rows=4, seats_per_row=12)
    section = venue.sections.get()
    g = section.geometry
    venue.stage = {
        "x": g["x"],
        "y": g["y"] + g["height"] + 20,
        "width": g["width"],
        "height": 30,
        "label": "Orchestra pit",
    }
    venue.save(update_fields=["stage"])
    event = make_event(venue=venue)
    page = site.new_page()
    _open(page, event)
    stage = page.locator(".seat-map .stage")
    expect(stage).to_have_count(1)
    expect(stage.locator("text")).to_have_text("Orchestra pit")
    # Where staff put it (below the section), not the inferred place above the seats.
    assert float(stage.locator("rect").get_attribute("y")) == venue.stage["y"]


def test_desktop_wheel_drag_and_keyboard(site):
    needs("/api/events/1/seats")
    event = _arena()
    page = site.new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    _open(page, event)
    assert _in_first_screen(page, ".seat-map")
    # The legend sits beside the map, not under it.
    legend = page.locator(".legend").bounding_box()
    map_box = page.locator(".seat-map").bounding_box()
    assert legend["x"] >= map_box["x"] + map_box["width"] - 1
    screenshot(page, "event-desktop")
    # 40 section blocks whose names start with their visible words; nothing serious for axe.
    assert axe_problems(page) == []

    block = page.get_by_role("button", name="Block 102, 500 free, €59")
    block.focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-seat]")).to_have_count(500)
    map_box = page.locator(".seat-map").bounding_box()
    cx, cy = map_box["x"] + map_box["width"] / 2, map_box["y"] + map_box["height"] / 2

    # The mouse wheel zooms in around the pointer.
    page.mouse.move(cx, cy)
    for _ in range(10):
        if _seat_size(page) >= TARGET_PX:
            break
        page.mouse.wheel(0, -300)
    assert _seat_size(page) >= TARGET_PX

    # A drag pans the map (and picks nothing).
    before = page.locator(".seat-map").get_attribute("viewBox")
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 120, cy + 60, steps=6)
    page.mouse.up()
    assert page.locator(".seat-map").get_attribute("viewBox") != before
    expect(page.locator("[data-selected-list] li")).to_have_count(0)

    # Keyboard: the first free seat gets the focus, which stays visible, and Space picks it.
    page.get_by_role("button", name="Fit").click()
    page.locator('[data-seat][tabindex="0"]').first.focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(page.locator("[data-selected-list] li")).to_have_count(1)
    # The focus is drawn: a black ring on the focused seat.
    assert page.evaluate("getComputedStyle(document.activeElement).stroke") == "rgb(0, 0, 0)"
    screenshot(page, "event-desktop-zoomed")
    assert axe_problems(page) == []
