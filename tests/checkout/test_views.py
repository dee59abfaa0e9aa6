"""The checkout pages: what each buyer sees, and nobody else."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from checkout.models import Hold, HoldStatus, Order, SeatInventory, SeatStatus, Ticket
from tests.factories import UserFactory, make_event

pytestmark = pytest.mark.django_db


def _hold(user, event, *, seats=2, expires_in=dt.timedelta(minutes=5), status=HoldStatus.ACTIVE):
    """A hold row with its inventory rows held, as the hold service leaves them."""
    now = timezone.now()
    hold = Hold.objects.create(
        event=event,
        user=user,
        status=status,
        expires_at=now + expires_in,
        ended_at=None if status in (HoldStatus.ACTIVE, HoldStatus.PAYING) else now,
    )
    if status in (HoldStatus.ACTIVE, HoldStatus.PAYING):
        rows = SeatInventory.objects.filter(event=event).order_by("seat__row_rank", "seat__position")[:seats]
        SeatInventory.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=SeatStatus.HELD, hold=hold, hold_expires_at=hold.expires_at
        )
    return hold


def _order(user, event, *, seats=2):
    """A paid order with tickets and sold inventory, as the purchase service leaves it."""
    order = Order.objects.create(
        event=event, user=user, buyer_name="Ada", buyer_email=user.email, total="100.00", currency="EUR"
    )
    for row in SeatInventory.objects.filter(event=event, status=SeatStatus.AVAILABLE).order_by("seat_id")[
        :seats
    ]:
        ticket = Ticket.objects.create(
            order=order, event=event, seat=row.seat, section=row.section, price="50.00"
        )
        SeatInventory.objects.filter(pk=row.pk).update(status=SeatStatus.SOLD, order=order, ticket=ticket)
    return order


def test_seat_picker_renders_the_map_shell(client):
    event = make_event()
    r = client.get(f"/events/{event.id}/seats/")
    assert r.status_code == 200
    html = r.content.decode()
    assert f'data-seats-url="/api/events/{event.id}/seats"' in html
    assert f'data-ws-path="/ws/events/{event.id}/"' in html
    assert 'data-sales-open="1"' in html and 'data-signed-in="0"' in html
    assert "data-sales-closed hidden" in html
    assert "csrftoken" in r.cookies


def test_seat_picker_hides_drafts_and_says_when_sales_are_closed(client):
    draft = make_event(publish=False)
    assert client.get(f"/events/{draft.id}/seats/").status_code == 404
    later = make_event(sales_open_at=timezone.now() + dt.timedelta(days=2))
    r = client.get(f"/events/{later.id}/seats/")
    assert r.status_code == 200 and b"not on sale right now" in r.content


def test_hold_page_shows_the_stored_expiry_on_every_load(client):
    user = UserFactory(name="Ada Buyer")
    hold = _hold(user, make_event(), seats=2)
    client.force_login(user)
    first = client.get(f"/holds/{hold.id}/").content.decode()
    second = client.get(f"/holds/{hold.id}/").content.decode()
    expiry = f'data-expires-at="{hold.expires_at.isoformat()}"'
    assert expiry in first and expiry in second
    assert first.count("<td>A</td>") == 2 and "100.00 EUR" in first
    assert 'value="Ada Buyer"' in first and f'value="{user.email}"' in first
    # A new checkout attempt per rendered form.
    keys = [re.search(r'data-idempotency-key="([^"]+)"', page).group(1) for page in (first, second)]
    assert keys[0] != keys[1]


def test_hold_page_belongs_to_its_buyer(client):
    hold = _hold(UserFactory(), make_event())
    assert client.get(f"/holds/{hold.id}/").status_code == 302  # to the login page
    client.force_login(UserFactory())
    assert client.get(f"/holds/{hold.id}/").status_code == 404


def test_expired_hold_page_says_so_and_links_back_to_the_map(client):
    user = UserFactory()
    event = make_event()
    hold = _hold(user, event, expires_in=dt.timedelta(seconds=-1))
    client.force_login(user)
    html = client.get(f"/holds/{hold.id}/").content.decode()
    assert 'data-live="0"' in html and "Your hold has expired" in html
    assert f'href="/events/{event.id}/seats/"' in html


def test_converted_hold_goes_to_its_order(client):
    user = UserFactory()
    event = make_event()
    hold = _hold(user, event, status=HoldStatus.CONVERTED)
    order = _order(user, event)
    Order.objects.filter(pk=order.pk).update(hold=hold)
    client.force_login(user)
    r = client.get(f"/holds/{hold.id}/")
    assert r.status_code == 302 and r["Location"] == f"/orders/{order.id}/"


def test_my_tickets_shows_qr_codes_and_cancel_before_the_event(client, django_assert_max_num_queries):
    user = UserFactory()
    upcoming = _order(user, make_event(), seats=2)
    _order(UserFactory(), make_event())  # someone else's
    client.force_login(user)
    with django_assert_max_num_queries(8):
        r = client.get("/orders/")
    html = r.content.decode()
    assert html.count('class="segno"') == 2
    for ticket in upcoming.tickets.all():
        assert ticket.code in html
    assert "Row A, seat 1" in html and "Row A, seat 2" in html
    assert f'data-cancel-url="/api/orders/{upcoming.id}/cancel"' in html
    assert html.count("data-order=") == 1


def test_order_page_has_no_cancel_after_the_start_and_hides_other_buyers_orders(client):
    user = UserFactory()
    event = make_event()
    order = _order(user, event, seats=1)
    client.force_login(user)
    assert b"Cancel this order" in client.get(f"/orders/{order.id}/").content
    event.starts_at = timezone.now() - dt.timedelta(minutes=1)
    event.ends_at = event.starts_at + dt.timedelta(hours=3)
    event.save(update_fields=["starts_at", "ends_at"])
    r = client.get(f"/orders/{order.id}/")
    assert r.status_code == 200 and b"Cancel this order" not in r.content
    client.force_login(UserFactory())
    assert client.get(f"/orders/{order.id}/").status_code == 404
