"""The checkout pages: what each buyer sees, and nobody else.

Holds and orders are made by the real services, so the pages are tested against the rows
those services leave, not rows a test imagined.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from checkout import payments
from checkout.models import HoldKind
from checkout.services.checkin import ticket_check_in
from checkout.services.holds import hold_create
from checkout.services.orders import order_cancel, order_purchase
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_event, make_venue

pytestmark = pytest.mark.django_db


def _hold(user, event, *, seats=2, **kwargs):
    return hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:seats], **kwargs)


def _order(user, event, *, seats=2, hold=None):
    hold = hold or _hold(user, event, seats=seats)
    return order_purchase(
        user=user,
        hold_id=hold.pk,
        buyer_name="Ada Buyer",
        buyer_email=user.email,
        card_number=payments.CARD_APPROVE,
        idempotency_key=f"page-test-{hold.pk}",
    )


def test_seat_picker_renders_the_map_shell(client):
    event = make_event(title="Night Owls")
    r = client.get(f"/events/{event.id}/seats/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "<h1>Night Owls</h1>" in html
    assert f'data-seats-url="/api/events/{event.id}/seats"' in html
    assert f'data-ws-path="/ws/events/{event.id}/"' in html
    assert 'data-sales-open="1"' in html and 'data-signed-in="0"' in html
    assert "data-sales-closed hidden" in html
    # The venue's wall-clock time, as on the event page.
    local = event.starts_at.astimezone(event.tzinfo)
    assert local.strftime("%H:%M") in html
    assert "csrftoken" in r.cookies


def test_seat_picker_hides_drafts_from_everyone_like_the_seat_api(client, staff):
    draft = make_event(publish=False)
    r = client.get(f"/events/{draft.id}/seats/")
    assert r.status_code == 404 and b'role="alert"' in r.content
    # The map's data would 404 for staff too: no page with a map that cannot load.
    client.force_login(staff)
    assert client.get(f"/events/{draft.id}/seats/").status_code == 404


def test_seat_picker_says_when_sales_are_closed(client):
    later = make_event(sales_open_at=timezone.now() + dt.timedelta(days=2))
    r = client.get(f"/events/{later.id}/seats/")
    assert r.status_code == 200 and b"not on sale right now" in r.content
    assert b'data-sales-open="0"' in r.content


def test_event_page_embeds_the_same_picker(client):
    event = make_event()
    html = client.get(f"/events/{event.id}/").content.decode()
    assert 'id="seat-picker"' in html and f'data-holds-url="/api/events/{event.id}/holds"' in html
    assert "data-waitlist hidden" in html


def test_hold_page_shows_the_stored_expiry_on_every_load(client, django_assert_max_num_queries):
    user = UserFactory(name="Ada Buyer")
    hold = _hold(user, make_event(), seats=2)
    client.force_login(user)
    first = client.get(f"/holds/{hold.id}/").content.decode()
    # Session, user, hold (+event, venue, codes), converted-order check, seats, prices, and the
    # types and codes the buyer may choose (issue 20: one catalog read).
    with django_assert_max_num_queries(8):
        second = client.get(f"/holds/{hold.id}/").content.decode()
    expiry = f'data-expires-at="{hold.expires_at.isoformat()}"'
    assert expiry in first and expiry in second
    assert first.count("<td>A</td>") == 2 and "100.00 EUR" in first
    assert 'value="Ada Buyer"' in first and f'value="{user.email}"' in first
    assert "Give me more time (2 left)" in first and 'data-extensions-left="2"' in first
    # A new checkout attempt per rendered form.
    keys = [re.search(r'data-idempotency-key="([^"]+)"', page).group(1) for page in (first, second)]
    assert keys[0] != keys[1]


def test_hold_page_and_api_show_the_same_hold(client):
    user = UserFactory()
    hold = _hold(user, make_event(), seats=3)
    client.force_login(user)
    api = client.get(f"/api/holds/{hold.id}").json()
    html = client.get(f"/holds/{hold.id}/").content.decode()
    assert f"data-total>{api['total']} {api['currency']}<" in html
    for seat in api["seats"]:
        assert f"<td>{seat['row']}</td><td>{seat['label']}</td>" in html
    assert f'data-extensions-left="{api["extensions_left"]}"' in html


def test_hold_page_belongs_to_its_buyer(client):
    hold = _hold(UserFactory(), make_event())
    r = client.get(f"/holds/{hold.id}/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    client.force_login(UserFactory())
    r = client.get(f"/holds/{hold.id}/")
    # Exactly what the API says about someone else's hold: no such hold.
    assert r.status_code == 404 and b"No such hold." in r.content
    assert client.get(f"/api/holds/{hold.id}").status_code == 404


def test_expired_hold_page_says_so_and_links_back_to_the_event_map(client):
    user = UserFactory()
    event = make_event()
    # Made ten minutes ago: a five-minute hold that has run out, sweeper or not.
    hold = _hold(user, event, now=timezone.now() - dt.timedelta(minutes=10))
    client.force_login(user)
    html = client.get(f"/holds/{hold.id}/").content.decode()
    assert 'data-live="0"' in html and "Your hold has expired" in html
    assert f'href="/events/{event.id}/#seat-picker"' in html
    # Its seats may already be someone else's: none are listed.
    assert "<td>A</td>" not in html


def test_offer_hold_page_has_no_extend_button(client):
    user = UserFactory()
    hold = _hold(user, make_event(), seats=1, kind=HoldKind.OFFER)
    client.force_login(user)
    html = client.get(f"/holds/{hold.id}/").content.decode()
    assert "Your waitlist offer" in html
    assert 'data-action="extend" hidden' in html
    assert client.get(f"/api/holds/{hold.id}").json()["extensions_left"] == 0


def test_bought_hold_goes_to_its_order(client):
    user = UserFactory()
    order = _order(user, make_event())
    client.force_login(user)
    r = client.get(f"/holds/{order.hold_id}/")
    assert r.status_code == 302 and r["Location"] == f"/orders/{order.id}/"


def test_my_tickets_shows_qr_codes_and_cancel_before_the_event(client, django_assert_max_num_queries):
    user = UserFactory()
    upcoming = _order(user, make_event(), seats=2)
    _order(user, make_event(), seats=1)
    _order(UserFactory(), make_event())  # someone else's
    client.force_login(user)
    # Session, user, orders (+event, venue), tickets (+seat, section): not one per order.
    with django_assert_max_num_queries(5):
        r = client.get("/orders/")
    html = r.content.decode()
    assert html.count('class="segno"') == 3
    for ticket in upcoming.tickets.all():
        assert ticket.code in html
    assert "Row A, seat 1" in html and "Row A, seat 2" in html
    assert f'data-cancel-url="/api/orders/{upcoming.id}/cancel"' in html
    assert html.count("data-order=") == 2
    # The same orders, in the same order, as the API.
    api_ids = [o["id"] for o in client.get("/api/orders").json()]
    assert [int(i) for i in re.findall(r'data-order="(\d+)"', html)] == api_ids


def test_cancelled_order_shows_no_cancel_button(client):
    user = UserFactory()
    order = _order(user, make_event(), seats=1)
    order_cancel(order_id=order.id, actor=user)
    client.force_login(user)
    html = client.get(f"/orders/{order.id}/").content.decode()
    assert "Cancelled and refunded" in html and "Cancel this order" not in html
    assert "Thank you!" not in html


def test_order_with_a_used_ticket_shows_no_cancel_like_the_api_refuses(client):
    user = UserFactory()
    order = _order(user, make_event(), seats=2)
    ticket_check_in(code=order.tickets.first().code)
    client.force_login(user)
    html = client.get(f"/orders/{order.id}/").content.decode()
    assert "Cancel this order" not in html and "Used" in html
    r = client.post(f"/api/orders/{order.id}/cancel", content_type="application/json")
    assert r.status_code == 409 and r.json()["code"] == "ORDER_NOT_CANCELLABLE"


def test_order_page_has_no_cancel_after_the_start_and_hides_other_buyers_orders(client):
    user = UserFactory()
    event = make_event()
    order = _order(user, event, seats=1)
    client.force_login(user)
    assert b"Cancel this order" in client.get(f"/orders/{order.id}/").content
    # Time passes: the event has started.
    event.starts_at = timezone.now() - dt.timedelta(minutes=1)
    event.ends_at = event.starts_at + dt.timedelta(hours=3)
    event.save(update_fields=["starts_at", "ends_at"])
    r = client.get(f"/orders/{order.id}/")
    assert r.status_code == 200 and b"Cancel this order" not in r.content
    client.force_login(UserFactory())
    r = client.get(f"/orders/{order.id}/")
    assert r.status_code == 404 and b"No such order." in r.content


def test_pages_and_mail_give_the_start_in_the_venues_time(client, mailoutbox):
    from checkout.tasks import order_confirmation_send

    user = UserFactory()
    # 18:30 UTC is 19:30 in Berlin (winter) and 13:30 in New York.
    starts = (timezone.now() + dt.timedelta(days=30)).replace(hour=18, minute=30, second=0, microsecond=0)
    event = make_event(venue=make_venue(timezone_name="America/New_York"), starts_at=starts)
    local = starts.astimezone(event.tzinfo).strftime("%H:%M")
    assert local != "18:30"
    hold = _hold(user, event, seats=1)
    client.force_login(user)
    assert f", {local}</time>" in client.get(f"/holds/{hold.id}/").content.decode()
    order = _order(user, event, hold=hold)
    assert f", {local}</time>" in client.get(f"/orders/{order.id}/").content.decode()
    assert order_confirmation_send(order.pk) is True
    assert f", {local} (America/New_York)" in mailoutbox[-1].body


def test_void_tickets_show_no_qr_code_on_the_order_pages(client):
    user = UserFactory()
    order = _order(user, make_event(), seats=2)
    codes = list(order.tickets.values_list("code", flat=True))
    client.force_login(user)
    for url in (f"/orders/{order.id}/", "/orders/"):
        html = client.get(url).content.decode()
        assert html.count("<svg") == 2 and all(code in html for code in codes)
    order_cancel(order_id=order.id, actor=user)
    link = f"/orders/{order.id}/{order.access_token}/"
    for url in (f"/orders/{order.id}/", "/orders/", link):
        html = client.get(url).content.decode()
        assert "<svg" not in html, url
        assert not any(code in html for code in codes), url
        assert html.count("data-no-qr") == 2 and "VOID" in html


def test_order_page_offers_the_pdf_and_calendar_downloads_to_its_buyer_only(client):
    from io import BytesIO

    from pypdf import PdfReader

    user = UserFactory()
    order = _order(user, make_event(title="Käthe's Konzert"), seats=2)
    client.force_login(user)
    html = client.get(f"/orders/{order.id}/").content.decode()
    assert f'href="/orders/{order.id}/tickets.pdf"' in html and f'href="/orders/{order.id}/event.ics"' in html
    r = client.get(f"/orders/{order.id}/tickets.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    reader = PdfReader(BytesIO(r.content))
    assert len(reader.pages) == 2 and "Käthe's Konzert" in reader.pages[0].extract_text()
    r = client.get(f"/orders/{order.id}/event.ics")
    assert r.status_code == 200 and r.content.startswith(b"BEGIN:VCALENDAR")
    client.force_login(UserFactory())
    assert client.get(f"/orders/{order.id}/tickets.pdf").status_code == 404
    assert client.get(f"/orders/{order.id}/event.ics").status_code == 404


def test_the_order_link_opens_the_order_without_signing_in_and_a_wrong_token_is_a_404(client):
    user = UserFactory()
    order = _order(user, make_event(), seats=1)
    other = _order(UserFactory(), make_event(), seats=1)
    assert len(order.access_token) >= 32 and order.access_token != other.access_token
    link = f"/orders/{order.id}/{order.access_token}/"
    r = client.get(link)
    assert r.status_code == 200 and r["Referrer-Policy"] == "no-referrer"
    html = r.content.decode()
    assert order.tickets.get().code in html and "data-link-cancel" in html and "data-cancel-url" not in html
    assert f'href="{link}tickets.pdf"' in html
    assert client.get(f"{link}tickets.pdf").status_code == 200
    assert client.get(f"{link}event.ics").status_code == 200
    wrong = order.access_token[:-1] + ("A" if order.access_token[-1] != "A" else "B")
    for url in (
        f"/orders/{order.id}/{wrong}/",
        f"/orders/{order.id}/{wrong}/tickets.pdf",
        f"/orders/{order.id}/{other.access_token}/",  # another order's secret opens nothing here
        f"/orders/{other.id}/{order.access_token}/",
    ):
        r = client.get(url)
        assert r.status_code == 404, url
        assert order.tickets.get().code.encode() not in r.content


def test_resend_by_page_and_link_is_rate_limited_and_refused_for_a_cancelled_order(client, mailoutbox):
    from checkout.models import OutboxMessage
    from checkout.tasks import outbox_send

    user = UserFactory()
    order = _order(user, make_event(), seats=1)
    client.force_login(user)
    r = client.post(f"/orders/{order.id}/resend", follow=True)
    assert "on their way to" in r.content.decode()
    (resend,) = OutboxMessage.objects.filter(order=order, kind="order_resend")
    assert outbox_send(resend.pk) is True and len(mailoutbox) == 1
    assert mailoutbox[0].extra_headers["Message-ID"] == f"<outbox-{resend.pk}@ticketing>"
    client.logout()
    link = f"/orders/{order.id}/{order.access_token}/"
    r = client.post(f"{link}resend", follow=True)
    assert "sent a moment ago" in r.content.decode()
    assert OutboxMessage.objects.filter(order=order, kind="order_resend").count() == 1
    assert client.post(f"/orders/{order.id}/wrong-token/resend").status_code == 404
    assert client.get(f"{link}resend").status_code == 405


def test_the_order_link_cancels_with_a_confirmation_and_then_shows_void_tickets(client):
    user = UserFactory()
    order = _order(user, make_event(), seats=2)
    link = f"/orders/{order.id}/{order.access_token}/"
    r = client.post(f"{link}cancel", follow=True)
    assert "Tick the box" in r.content.decode()
    order.refresh_from_db()
    assert order.status == "paid"
    r = client.post(f"{link}cancel", {"confirm": "yes"}, follow=True)
    html = r.content.decode()
    order.refresh_from_db()
    assert order.status == "cancelled" and "cancelled and refunded" in html
    assert "<svg" not in html and html.count("data-no-qr") == 2 and "data-link-cancel" not in html
    assert "E-mail the tickets again" not in html
