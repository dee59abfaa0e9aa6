"""Admin edits bypass the services; they must still refresh search and the catalog version."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from events.models import Event
from events.selectors import cache as cache_selectors
from events.selectors import catalog
from tests.factories import make_event, make_venue, staff_user

pytestmark = pytest.mark.django_db


def listed(**filters) -> list[int]:
    data, _ = catalog.event_list(filters=catalog.EventFilters.build(**filters))
    return [i["id"] for i in data["items"]]


def test_admin_venue_rename_is_searchable_and_bumps_the_catalog():
    venue = make_venue(name="Old Barn")
    event = make_event(venue=venue)
    section = venue.sections.get()
    client = Client()
    client.force_login(staff_user(is_superuser=True))
    before = cache_selectors.catalog_version_read()
    r = client.post(
        f"/admin/events/venue/{venue.pk}/change/",
        {
            "name": "Riverside Arena",
            "slug": venue.slug,
            "address": "",
            "city": venue.city,
            "country": venue.country,
            "timezone": venue.timezone,
            "sections-TOTAL_FORMS": "1",
            "sections-INITIAL_FORMS": "1",
            "sections-MIN_NUM_FORMS": "0",
            "sections-MAX_NUM_FORMS": "1000",
            "sections-0-id": str(section.pk),
            "sections-0-venue": str(venue.pk),
            "sections-0-name": section.name,
            "sections-0-kind": section.kind,
            "sections-0-display_order": "0",
            "sections-0-geometry": json.dumps(section.geometry),
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    assert listed(q="riverside") == [event.pk]
    assert listed(q="barn") == []
    assert cache_selectors.catalog_version_read() > before


def test_admin_event_edit_bumps_the_catalog_and_search():
    event = make_event(title="Spring Gala")
    Event.objects.filter(pk=event.pk).update(sold_out=True)  # the form must not reset the summary
    client = Client()
    client.force_login(staff_user(is_superuser=True))
    before = cache_selectors.catalog_version_read()
    page = client.get(f"/admin/events/event/{event.pk}/change/")
    assert page.status_code == 200
    price = event.prices.get()
    data = {
        "title": "Autumn Gala",
        "slug": event.slug,
        "description": "",
        "category": event.category,
        "venue": str(event.venue_id),
        "starts_at_0": event.starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": event.starts_at.strftime("%H:%M:%S"),
        "ends_at_0": event.ends_at.strftime("%Y-%m-%d"),
        "ends_at_1": event.ends_at.strftime("%H:%M:%S"),
        "sales_open_at_0": "",
        "sales_open_at_1": "",
        "sales_close_at_0": "",
        "sales_close_at_1": "",
        "status": event.status,
        "prices-TOTAL_FORMS": "1",
        "prices-INITIAL_FORMS": "1",
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
        "prices-0-id": str(price.pk),
        "prices-0-event": str(event.pk),
        "prices-0-section": str(price.section_id),
        "prices-0-amount": "75.00",
        "prices-0-currency": "EUR",
        "ticket_types-TOTAL_FORMS": "0",
        "ticket_types-INITIAL_FORMS": "0",
    }
    r = client.post(f"/admin/events/event/{event.pk}/change/", data)
    assert r.status_code == 302, r.content.decode()[:3000]
    assert Event.objects.filter(pk=event.pk).values_list("title", "sold_out").get() == ("Autumn Gala", True)
    assert listed(q="autumn") == [event.pk]
    assert cache_selectors.catalog_version_read() > before
    assert (
        catalog.event_list_snapshot(filters=catalog.EventFilters.build()).data["items"][0]["lowest_price"]
        == "75.00"
    )
