"""Issue 19 in Chromium: staff build a venue with the section editor, publish an event, a
buyer buys a seat, the dashboard and its CSV show the sale, and the check-in page admits the
ticket from a QR code shown to Chromium's fake camera."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import segno
from PIL import Image
from playwright.sync_api import expect

from checkout.models import Order, Ticket, TicketStatus
from events.models import Event, EventStatus, Section, Venue
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, EXPECT_TIMEOUT_MS, screenshot
from tests.browser.test_journeys import _buy
from tests.factories import UserFactory, make_event, staff_user

pytestmark = pytest.mark.browser


def qr_video(code: str, path) -> None:
    """A Y4M clip (what Chromium's fake camera plays, in a loop) showing ``code`` as a QR code."""
    png = io.BytesIO()
    segno.make(code, error="m").save(png, kind="png", scale=8, border=4)
    qr = Image.open(png).convert("RGB")
    side = min(440, qr.width * 440 // qr.width)
    qr = qr.resize((side, side), Image.NEAREST)
    frame = Image.new("RGB", (640, 480), "white")
    frame.paste(qr, ((640 - side) // 2, (480 - side) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    planes = y.tobytes() + cb.resize((320, 240)).tobytes() + cr.resize((320, 240)).tobytes()
    with open(path, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            out.write(b"FRAME\n" + planes)


def _drag(page, locator, dx: float, dy: float) -> None:
    box = locator.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=5)
    page.mouse.move(x + dx, y + dy, steps=5)
    page.mouse.up()


def test_staff_build_publish_sell_report_and_check_in(site, tmp_path):
    staff = staff_user(is_superuser=True)
    page = site.new_page()
    site.log_in(page, staff)

    # 1. A venue built with the editor: add a section, drag it, generate its rows.
    page.goto("/admin/events/venue/add/")
    page.locator("#id_name").fill("Editor Hall")
    page.locator("#id_city").fill("Berlin")
    page.locator("#id_country").fill("DE")
    page.locator("#id_timezone").fill("Europe/Berlin")
    editor = page.locator("#section-editor")
    editor.get_by_role("button", name="Stage / field marker").click()
    editor.get_by_role("button", name="Add seated section").click()
    section = editor.locator('[data-canvas] [data-section="0"]')
    expect(section).to_be_visible()
    before = json.loads(page.locator('[name="sections-0-geometry"]').input_value())
    _drag(page, section.locator("rect.body"), 160, 80)
    after = json.loads(page.locator('[name="sections-0-geometry"]').input_value())
    assert after["x"] > before["x"] + 50 and after["y"] > before["y"] + 20, (before, after)
    panel = editor.locator("[data-panel]")
    panel.get_by_label("Name").fill("Stalls")
    panel.get_by_label("Row labels").fill("A-C")
    panel.get_by_label("Seats per row").fill("6")
    panel.get_by_label("Aisle gaps after seats").fill("3")
    expect(editor.locator("[data-preview]")).to_have_attribute("data-seat-count", "18")
    expect(editor.locator("[data-overlap]")).to_be_hidden()
    screenshot(page, "section-editor")
    page.locator('input[name="_save"]').click()
    expect(page.locator(".messagelist")).to_contain_text("generated 18 seats")
    venue = Venue.objects.get(name="Editor Hall")
    stalls = Section.objects.get(venue=venue, name="Stalls")
    assert stalls.seats.count() == 18 and stalls.geometry["x"] == after["x"]
    assert venue.stage["label"] == "Stage"

    # 2. An event published with the admin action.
    event = make_event(venue=venue, publish=False, price="45.00", title="Editor Premiere")
    page.goto("/admin/events/event/")
    page.locator(f'input[name="_selected_action"][value="{event.pk}"]').check()
    page.locator('select[name="action"]').select_option("publish")
    page.locator('button[name="index"]').first.click()
    expect(page.locator(".messagelist")).to_contain_text("on sale")
    event.refresh_from_db()
    assert event.status == EventStatus.ON_SALE

    # 3. A buyer buys seat A1.
    buyer = UserFactory(name="Ada Buyer")
    buyer_page = site.new_page()
    site.log_in(buyer_page, buyer)
    _buy(site, buyer_page, event, [("A", "1")])
    order = Order.objects.get(event=event)
    ticket = Ticket.objects.get(order=order)

    # 4. The dashboard shows the sale and its chart; the CSV has the order.
    page.goto(f"/admin/events/event/{event.pk}/dashboard/")
    expect(page.locator('[data-figure="tickets-sold"]')).to_contain_text("1")
    expect(page.locator('[data-figure="gross"]')).to_contain_text("45.00 EUR")
    bars = page.locator('[data-chart="minute"] rect.bar')
    assert any(float(bars.nth(i).get_attribute("height")) > 0 for i in range(bars.count()))
    expect(page.locator('tr[data-section="Stalls"]')).to_contain_text("1")
    screenshot(page, "dashboard")
    with page.expect_download() as download:
        page.locator('[data-export="orders"]').click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert re.search(rf"^{order.pk},.*,paid,Ada Buyer,", text, re.MULTILINE), text

    # 5. Check-in: the ticket's QR code in front of Chromium's fake camera.
    clip = tmp_path / "ticket.y4m"
    qr_video(ticket.code, clip)
    camera_browser = site._browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
        ],
    )
    try:
        context = camera_browser.new_context(base_url=site.url, viewport={"width": 1000, "height": 900})
        context.grant_permissions(["camera"], origin=site.url)
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        gate = context.new_page()
        errors: list[str] = []
        gate.on("pageerror", lambda exc: errors.append(str(exc)))
        site.log_in(gate, staff)
        gate.goto("/staff/checkin/")
        gate.get_by_label("Gate").fill("North")
        gate.get_by_role("button", name="Scan with the camera").click()
        result = gate.locator('[data-result] [data-outcome="admitted"]')
        expect(result).to_be_visible()
        expect(result).to_contain_text("ADMIT")
        screenshot(gate, "checkin")
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.USED and ticket.used_gate == "North"
        assert not errors, errors
    finally:
        camera_browser.close()
    assert Event.objects.get(pk=event.pk).inventory_seat_id is not None
