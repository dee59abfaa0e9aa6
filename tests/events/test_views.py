"""Browse and event pages: same selectors, filters as a shareable GET form, status badges."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from tests import inventory
from tests.factories import UserFactory, make_event, make_venue

pytestmark = pytest.mark.django_db


def test_browse_lists_upcoming_events_with_badges():
    venue = make_venue(rows=1, seats_per_row=1, city="Leipzig", name="Werk 2")
    on_sale = make_event(venue=venue, title="Open Air", price="19.90")
    opens = timezone.now() + dt.timedelta(days=2)
    later = make_event(venue=venue, title="Later Show", sales_open_at=opens)
    sold = make_event(venue=venue, title="Packed")
    inventory.purchase(inventory.hold(sold, inventory.seat_ids(sold), user=UserFactory()))
    html = Client().get("/").content.decode()
    assert html.index("Open Air") < html.index("Later Show") < html.index("Packed")
    assert f'href="/events/{on_sale.pk}/"' in html
    assert "from 19.90 EUR" in html and "Werk 2, Leipzig" in html
    assert '<span class="badge on_sale">On sale</span>' in html
    assert '<span class="badge sold_out">Sold out</span>' in html
    local_open = opens.astimezone(later.tzinfo)
    assert f"Sales open {local_open:%a} {local_open.day} {local_open:%b, %H:%M}" in html
    assert "3 events" in html


def test_browse_filters_come_from_the_query_string():
    music = make_event(title="Jazz Brunch", category="music")
    make_event(title="Cup Final", category="sports")
    html = Client().get("/", {"category": ["music", "comedy"], "q": "jazz"}).content.decode()
    assert "Jazz Brunch" in html and "Cup Final" not in html
    assert 'value="music" id="id_category_0" checked>' in html
    assert 'value="comedy" id="id_category_2" checked>' in html
    assert 'value="sports" id="id_category_1">' in html
    assert 'value="jazz"' in html
    assert f'href="/events/{music.pk}/"' in html


def test_browse_ignores_invalid_filters_and_paginates():
    venue = make_venue()
    for i in range(26):
        make_event(venue=venue, title=f"Night {i:02d}", starts_in=dt.timedelta(days=i + 1))
    r = Client().get("/", {"date_from": "not-a-date", "category": "opera"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "Night 00" in html and "Night 24" not in html
    assert 'href="?date_from=not-a-date&amp;category=opera&amp;page=2"' in html
    html = Client().get("/", {"page": 2}).content.decode()
    assert "Night 24" in html and "Night 25" in html and "Night 00" not in html
    assert 'rel="prev"' in html


def test_browse_date_filter_uses_venue_local_dates():
    venue = make_venue(timezone_name="America/Los_Angeles", city="LA")
    starts = dt.datetime(2030, 5, 1, 22, 0, tzinfo=venue.tzinfo)  # already 2 May in UTC
    make_event(venue=venue, title="Late Set", starts_at=starts)
    assert (
        "Late Set" in Client().get("/", {"date_from": "2030-05-01", "date_to": "2030-05-01"}).content.decode()
    )
    assert "Late Set" not in Client().get("/", {"date_from": "2030-05-02"}).content.decode()


def test_event_page_shows_sections_prices_and_availability():
    event = make_event(price="42.00", title="Gala")
    inventory.hold(event, inventory.seat_ids(event, 3), user=UserFactory())
    html = Client().get(f"/events/{event.pk}/").content.decode()
    assert "Gala" in html and "42.00 EUR" in html
    assert "7 of 10" in html
    assert f'id="seat-picker"\n  data-event-id="{event.pk}"' in html
    local = event.starts_at.astimezone(event.tzinfo)
    assert f"{local:%H:%M}" in html and "Europe/Berlin" in html


def test_event_page_for_a_draft_is_404_with_the_message():
    draft = make_event(publish=False)
    r = Client().get(f"/events/{draft.pk}/")
    assert r.status_code == 404
    assert "No such event." in r.content.decode()
