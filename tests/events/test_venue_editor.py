"""The venue admin's section editor: no raw JSON, no overlaps, seats follow their section."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from events.models import Section, Venue
from events.services import layout
from tests.factories import make_venue, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(staff_user(is_superuser=True))
    return client


def venue_form(venue: Venue, sections: list[dict], extra_new: list[dict] = ()) -> dict:
    data = {
        "name": venue.name,
        "slug": venue.slug,
        "address": "",
        "city": venue.city,
        "country": venue.country,
        "timezone": venue.timezone,
        "stage": json.dumps({"x": 300, "y": 0, "width": 200, "height": 40, "label": "Stage"}),
        "sections-TOTAL_FORMS": str(len(sections) + len(extra_new)),
        "sections-INITIAL_FORMS": str(len(sections)),
        "sections-MIN_NUM_FORMS": "0",
        "sections-MAX_NUM_FORMS": "1000",
    }
    for i, s in enumerate([*sections, *extra_new]):
        for key, value in s.items():
            data[f"sections-{i}-{key}"] = value
    return data


def existing(section: Section, **changes) -> dict:
    return {
        "id": str(section.pk),
        "venue": str(section.venue_id),
        "name": section.name,
        "kind": section.kind,
        "display_order": "0",
        "geometry": json.dumps(section.geometry),
        **changes,
    }


def test_editor_page_has_the_canvas_and_no_json_textarea(admin_client):
    venue = make_venue()
    page = admin_client.get(f"/admin/events/venue/{venue.pk}/change/").content.decode()
    assert "data-canvas" in page and "/static/js/section-editor.js" in page
    assert 'type="hidden" name="sections-0-geometry"' in page
    assert "<textarea" not in page.split('id="sections-group"', 1)[1]


def test_overlapping_sections_are_refused_in_the_admin(admin_client):
    venue = make_venue()
    section = venue.sections.get()
    new = {
        "name": "Balcony",
        "kind": "reserved",
        "display_order": "1",
        "geometry": json.dumps({"x": 100, "y": 100, "width": 200, "height": 100, "rotation": 30}),
        "rows_spec": "A-B",
        "seats_per_row": "4",
    }
    r = admin_client.post(
        f"/admin/events/venue/{venue.pk}/change/", venue_form(venue, [existing(section)], [new])
    )
    assert r.status_code == 200
    assert "overlap" in r.content.decode()
    assert not Section.objects.filter(name="Balcony").exists()


def test_new_section_without_a_place_gets_a_free_one_and_seats(admin_client):
    venue = make_venue()
    section = venue.sections.get()
    new = {
        "name": "Balcony",
        "kind": "reserved",
        "display_order": "1",
        "geometry": "{}",
        "rows_spec": "A-C",
        "seats_per_row": "10",
        "numbering": "rtl",
        "aisles": "5",
        "curve": "0.5",
    }
    r = admin_client.post(
        f"/admin/events/venue/{venue.pk}/change/", venue_form(venue, [existing(section)], [new])
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    balcony = Section.objects.get(name="Balcony")
    assert not layout.overlaps(balcony.geometry, section.geometry)
    assert balcony.seats.count() == 30
    assert balcony.seats.get(row_label="A", position=0).label == "10"
    venue.refresh_from_db()
    assert venue.stage["label"] == "Stage"


def test_moving_a_section_carries_its_seats(admin_client):
    venue = make_venue()
    section = venue.sections.get()
    before = {s.pk: (s.x, s.y) for s in section.seats.all()}
    geo = {**section.geometry, "x": section.geometry["x"] + 100, "y": section.geometry["y"] + 50}
    r = admin_client.post(
        f"/admin/events/venue/{venue.pk}/change/",
        venue_form(venue, [existing(section, geometry=json.dumps(geo))]),
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    for seat in section.seats.all():
        x, y = before[seat.pk]
        assert (seat.x, seat.y) == pytest.approx((x + 100, y + 50))


def test_section_admin_places_and_refuses_overlaps(admin_client):
    venue = make_venue()
    main = venue.sections.get()
    data = {"venue": str(venue.pk), "name": "Side", "kind": "general", "display_order": "2", "geometry": "{}"}
    r = admin_client.post("/admin/events/section/add/", {**data, "capacity": "20"})
    assert r.status_code == 302, r.content.decode()[:3000]
    side = Section.objects.get(name="Side")
    assert not layout.overlaps(side.geometry, main.geometry) and side.seats.count() == 20
    data = {**data, "name": "Over", "geometry": json.dumps(main.geometry)}
    r = admin_client.post("/admin/events/section/add/", data)
    assert r.status_code == 200 and "overlap" in r.content.decode()
