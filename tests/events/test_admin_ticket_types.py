"""The admin for ticket types (inline on the event, prices on the type's page) and codes."""

from __future__ import annotations

import datetime as dt

import pytest

from checkout.models import Code
from events.models import TicketType
from tests.factories import make_event, make_ticket_type

pytestmark = pytest.mark.django_db


def test_event_page_lists_its_types_inline(admin_client):
    event = make_event()
    make_ticket_type(event, "Early bird")
    page = admin_client.get(f"/admin/events/event/{event.pk}/change/").content.decode()
    assert 'name="ticket_types-TOTAL_FORMS"' in page and "Early bird" in page
    assert 'name="service_fee"' in page and 'name="order_fee"' in page


def test_a_type_is_entered_in_venue_time_with_its_prices(admin_client):
    event = make_event()
    section = event.venue.sections.get()
    data = {
        "event": str(event.pk),
        "name": "Early bird",
        "description": "",
        "quota": "100",
        "sales_start_0": "",
        "sales_start_1": "",
        "sales_end_0": "2031-03-30",
        "sales_end_1": "03:00:00",
        "per_order_max": "",
        "visibility": "public",
        "sort_order": "0",
    }
    r = admin_client.post("/admin/events/tickettype/add/", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    ticket_type = TicketType.objects.get()
    # 03:00 Berlin on the night of the spring change is 01:00 UTC.
    assert ticket_type.sales_end == dt.datetime(2031, 3, 30, 1, 0, tzinfo=dt.UTC)
    prices = {
        "prices-TOTAL_FORMS": "1",
        "prices-INITIAL_FORMS": "0",
        "prices-0-section": str(section.pk),
        "prices-0-amount": "30.00",
    }
    r = admin_client.post(f"/admin/events/tickettype/{ticket_type.pk}/change/", data | prices)
    assert r.status_code == 302, r.content.decode()[:2000]
    price = ticket_type.prices.get()
    assert (price.event_id, price.venue_id, str(price.amount)) == (event.pk, event.venue_id, "30.00")


def test_a_time_in_the_dst_gap_is_refused(admin_client):
    event = make_event()
    data = {
        "event": str(event.pk),
        "name": "Night",
        "sales_start_0": "2031-03-30",
        "sales_start_1": "02:30:00",
        "visibility": "public",
        "sort_order": "0",
    }
    r = admin_client.post("/admin/events/tickettype/add/", data)
    assert r.status_code == 200 and not TicketType.objects.exists()


def test_a_code_is_stored_normalised(admin_client):
    event = make_event()
    data = {
        "event": str(event.pk),
        "kind": "promo",
        "code": " summer-Sale ",
        "description": "",
        "discount_kind": "percent",
        "discount_scope": "ticket",
        "discount_value": "10",
    }
    r = admin_client.post("/admin/checkout/code/add/", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    assert Code.objects.get().code == "SUMMER-SALE"
    bad = admin_client.post("/admin/checkout/code/add/", data | {"code": "X", "discount_value": "150"})
    assert bad.status_code == 200 and Code.objects.count() == 1
