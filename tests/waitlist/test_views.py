"""The "My waitlist" page (waitlist/views.py), on entries made by the real services."""

from __future__ import annotations

import json
import re

import pytest

from checkout import payments
from checkout.services.holds import hold_create
from checkout.services.orders import order_purchase
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_event, make_venue
from waitlist import services

pytestmark = pytest.mark.django_db


def _sold_out(title: str):
    """An event whose two seats were bought by someone else."""
    event = make_event(venue=make_venue(rows=1, seats_per_row=2), title=title)
    buyer = UserFactory()
    hold = hold_create(user=buyer, event_id=event.id, seat_ids=seat_ids(event))
    order_purchase(
        user=buyer,
        hold_id=hold.pk,
        buyer_name="First Buyer",
        buyer_email=buyer.email,
        card_number=payments.CARD_APPROVE,
        idempotency_key=f"sold-out-{event.pk}",
    )
    return event


def _titles(html: str) -> dict:
    match = re.search(r'<script id="event-titles" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_my_waitlist_page_needs_a_login(client, user):
    r = client.get("/waitlist/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    client.force_login(user)
    r = client.get("/waitlist/")
    assert r.status_code == 200 and b'data-list-url="/api/waitlist"' in r.content
    assert _titles(r.content.decode()) == {}


def test_my_waitlist_names_my_events_without_a_request_per_entry(client, user, django_assert_max_num_queries):
    gala = _sold_out("Gala <Night>")
    club = _sold_out("Club Night")
    services.waitlist_join(user=user, event_id=gala.id, quantity=2)
    services.waitlist_join(user=user, event_id=club.id, quantity=1)
    services.waitlist_join(user=UserFactory(), event_id=_sold_out("Not mine").id, quantity=1)
    client.force_login(user)
    # Session, user, titles: the same however many entries.
    with django_assert_max_num_queries(3):
        r = client.get("/waitlist/")
    html = r.content.decode()
    assert _titles(html) == {str(gala.id): "Gala <Night>", str(club.id): "Club Night"}
    # Titles travel as JSON in a script element: escaped, never markup.
    assert "Gala <Night>" not in html
    # The entries themselves are what the API lists.
    assert {e["event_id"] for e in client.get("/api/waitlist").json()} == {gala.id, club.id}
