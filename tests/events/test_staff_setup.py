"""Issue 19: staff setup that cannot go wrong.

Venue-time dates across a daylight-saving change, DST gaps and folds refused, layouts that
cannot overlap, the database refusing an on-sale event without inventory and a price for
another venue's section, and every problem of a form or request reported at once.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from checkout.models import SeatInventory
from checkout.services import sales
from events.models import Event, EventStatus, Price
from events.services import layout, venues
from tests.factories import make_event, make_venue, staff_user

pytestmark = pytest.mark.django_db

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
WINTER = "2030-01-15T19:30:00"  # +01:00
SUMMER = "2030-07-15T19:30:00"  # +02:00
GAP = "2030-03-31T02:30:00"  # clocks jump 02:00 -> 03:00
FOLD = "2030-10-27T02:30:00"  # 02:00-03:00 happens twice


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def event_payload(venue, starts_at: str, **changes) -> dict:
    ends = dt.datetime.fromisoformat(starts_at[:19]) + dt.timedelta(hours=3)
    return {
        "venue_id": venue.pk,
        "title": f"Concert {starts_at}",
        "category": "music",
        "starts_at": starts_at,
        "ends_at": ends.isoformat(),
        "prices": [{"section_id": s.pk, "amount": "30.00"} for s in venue.sections.all()],
        **changes,
    }


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(staff_user(is_superuser=True))
    return client


def admin_event_form(event: Event, **changes) -> dict:
    local = {n: getattr(event, n) and getattr(event, n).astimezone(BERLIN) for n in ("starts_at", "ends_at")}
    data = {
        "title": event.title,
        "slug": event.slug,
        "description": "",
        "category": event.category,
        "venue": str(event.venue_id),
        "starts_at_0": f"{local['starts_at']:%Y-%m-%d}",
        "starts_at_1": f"{local['starts_at']:%H:%M:%S}",
        "ends_at_0": f"{local['ends_at']:%Y-%m-%d}",
        "ends_at_1": f"{local['ends_at']:%H:%M:%S}",
        "sales_open_at_0": "",
        "sales_open_at_1": "",
        "sales_close_at_0": "",
        "sales_close_at_1": "",
        "status": event.status,
        "prices-TOTAL_FORMS": "0",
        "prices-INITIAL_FORMS": "0",
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
        "ticket_types-TOTAL_FORMS": "0",
        "ticket_types-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


# --- Venue time -------------------------------------------------------------------------


@pytest.mark.parametrize(("local", "offset"), [(WINTER, "+01:00"), (SUMMER, "+02:00")])
def test_berlin_1930_is_1930_for_api_buyers_and_staff_across_dst(api_client, staff, local, offset):
    venue = make_venue()
    api_client.as_user(staff)
    r = api_client.post("/api/events", event_payload(venue, local))
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["starts_at"] == f"{local}{offset}"
    assert body["timezone"] == "Europe/Berlin"
    event = Event.objects.get(pk=body["id"])
    assert event.starts_at == dt.datetime.fromisoformat(local).replace(tzinfo=BERLIN)
    published = api_client.post(f"/api/events/{event.pk}/publish").json()
    assert published["starts_at"] == f"{local}{offset}"

    # Buyers: the public API and the event page.
    detail = api_client.get(f"/api/events/{event.pk}").json()
    assert detail["starts_at"] == f"{local}{offset}"
    page = Client().get(f"/events/{event.pk}/")
    assert b"19:30" in page.content

    # Staff: the admin list, the admin form, the check-in page.
    client = Client()
    client.force_login(staff_user(is_superuser=True))
    listing = client.get("/admin/events/event/").content.decode()
    assert f"{local[:10]} 19:30 ({offset} Europe/Berlin)" in listing
    form = client.get(f"/admin/events/event/{event.pk}/change/").content.decode()
    assert 'value="19:30:00"' in form and "Europe/Berlin" in form
    checkin = client.get("/staff/checkin/").content.decode()
    assert "19:30" in checkin and "Europe/Berlin" in checkin


def test_api_time_with_an_offset_is_kept_as_that_instant(api_client, staff):
    venue = make_venue()
    api_client.as_user(staff)
    r = api_client.post("/api/events", event_payload(venue, "2030-01-15T18:30:00+00:00"))
    assert r.status_code == 201, r.content
    assert r.json()["starts_at"] == "2030-01-15T19:30:00+01:00"


def test_dst_gap_is_refused_with_a_clear_message_api(api_client, staff, unchanged):
    venue = make_venue()
    api_client.as_user(staff)
    r = api_client.post("/api/events", event_payload(venue, GAP, title="Gap"))
    assert r.status_code == 422, r.content
    body = r.json()
    assert "does not exist in Europe/Berlin" in body["extra"]["fields"]["starts_at"][0]
    assert not Event.objects.filter(title="Gap").exists()


def test_dst_fold_is_refused_unless_the_offset_is_given(api_client, staff):
    venue = make_venue()
    api_client.as_user(staff)
    r = api_client.post("/api/events", event_payload(venue, FOLD))
    assert r.status_code == 422
    assert "happens twice" in r.json()["extra"]["fields"]["starts_at"][0]
    r = api_client.post("/api/events", event_payload(venue, FOLD + "+01:00"))
    assert r.status_code == 201, r.content
    assert r.json()["starts_at"] == "2030-10-27T02:30:00+01:00"


def test_admin_dst_gap_is_refused(admin_client):
    event = make_event(publish=False)
    data = admin_event_form(event, starts_at_0="2030-03-31", starts_at_1="02:30:00")
    r = admin_client.post(f"/admin/events/event/{event.pk}/change/", data)
    assert r.status_code == 200
    assert "does not exist in Europe/Berlin" in r.content.decode()


def test_admin_entry_is_venue_time(admin_client):
    event = make_event(publish=False)
    data = admin_event_form(
        event, starts_at_0="2030-07-15", starts_at_1="19:30:00", ends_at_0="2030-07-15", ends_at_1="22:00:00"
    )
    r = admin_client.post(f"/admin/events/event/{event.pk}/change/", data)
    assert r.status_code == 302, r.content.decode()[:3000]
    event.refresh_from_db()
    assert event.starts_at == dt.datetime(2030, 7, 15, 17, 30, tzinfo=dt.UTC)


# --- All problems at once ----------------------------------------------------------------


def test_admin_form_with_three_mistakes_shows_three_messages(admin_client):
    event = make_event(publish=False)
    data = admin_event_form(
        event,
        title="",  # 1: required
        starts_at_0="2030-03-31",
        starts_at_1="02:30:00",  # 2: DST gap
        sales_open_at_0="2030-03-01",
        sales_open_at_1="10:00:00",
        sales_close_at_0="2030-02-01",
        sales_close_at_1="10:00:00",  # 3: closes before it opens
    )
    r = admin_client.post(f"/admin/events/event/{event.pk}/change/", data)
    assert r.status_code == 200
    errors = r.context["adminform"].form.errors
    assert set(errors) == {"title", "starts_at", "sales_close_at"}, errors
    assert sum(len(v) for v in errors.values()) == 3


def test_api_request_with_three_mistakes_reports_three(api_client, staff):
    venue = make_venue()
    other = make_venue()
    api_client.as_user(staff)
    payload = event_payload(
        venue,
        GAP,  # 1
        category="opera-ish",  # 2
        prices=[{"section_id": other.sections.get().pk, "amount": "10.00"}],  # 3
    )
    r = api_client.post("/api/events", payload)
    assert r.status_code == 422
    fields = r.json()["extra"]["fields"]
    assert set(fields) == {"starts_at", "category", "prices"}, fields
    assert len(r.json()["extra"]["problems"]) == 3


def test_venue_with_several_bad_sections_reports_each(api_client, staff):
    api_client.as_user(staff)
    r = api_client.post(
        "/api/venues",
        {
            "name": "Bad",
            "city": "Berlin",
            "country": "DE",
            "timezone": "Europe/Berlin",
            "sections": [
                {"name": "A", "rows": "A-B", "seats_per_row": 5, "geometry": {"x": 0, "y": 0, "width": -1}},
                {"name": "B", "kind": "general", "capacity": 10, "geometry": {"x": 0, "y": 0, "height": "x"}},
            ],
        },
    )
    assert r.status_code == 422
    problems = r.json()["extra"]["problems"]
    assert len(problems) == 2, problems


# --- Layouts ------------------------------------------------------------------------------


def test_api_sections_without_a_place_get_non_overlapping_ones(api_client, staff):
    api_client.as_user(staff)
    sections = [{"name": f"S{i}", "rows": "A-C", "seats_per_row": 8} for i in range(7)]
    sections.append({"name": "Placed", "kind": "general", "capacity": 20, "geometry": {"x": 0, "y": 0}})
    r = api_client.post(
        "/api/venues",
        {
            "name": "Auto",
            "city": "Berlin",
            "country": "DE",
            "timezone": "Europe/Berlin",
            "sections": sections,
        },
    )
    assert r.status_code == 201, r.content
    geos = [s["geometry"] for s in r.json()["sections"]]
    assert len(geos) == 8
    for i, a in enumerate(geos):
        for b in geos[i + 1 :]:
            assert not layout.overlaps(a, b), (a, b)


def test_api_overlapping_sections_are_refused(api_client, staff, unchanged):
    api_client.as_user(staff)
    r = api_client.post(
        "/api/venues",
        {
            "name": "Overlap",
            "city": "Berlin",
            "country": "DE",
            "timezone": "Europe/Berlin",
            "sections": [
                {
                    "name": "A",
                    "rows": "A",
                    "seats_per_row": 5,
                    "geometry": {"x": 0, "y": 0, "width": 200, "height": 100},
                },
                {
                    "name": "B",
                    "rows": "A",
                    "seats_per_row": 5,
                    "geometry": {"x": 150, "y": 50, "width": 200, "height": 100},
                },
            ],
        },
    )
    assert r.status_code == 422
    assert "overlap" in r.json()["message"]


def test_rotated_rectangles_overlap_by_area_not_bounding_box():
    a = {"x": 0, "y": 0, "width": 100, "height": 10, "rotation": 45}
    assert layout.overlaps(a, {"x": 45, "y": 0, "width": 10, "height": 10})
    assert not layout.overlaps(a, {"x": 0, "y": -40, "width": 10, "height": 10})
    assert not layout.overlaps(
        {"x": 0, "y": 0, "width": 10, "height": 10}, {"x": 10, "y": 0, "width": 10, "height": 10}
    )


def test_seat_generator_numbering_aisles_and_curve():
    geo = {"x": 0, "y": 0, "width": 100, "height": 40, "rotation": 0}
    plan = layout.RowPlan(rows=[("A", 4), ("B", 4)], numbering="rtl", aisles_after=(2,), curve=1)
    seats = layout.seat_positions(geo, plan)
    row_a = [s for s in seats if s["row_label"] == "A"]
    assert [s["label"] for s in row_a] == ["4", "3", "2", "1"]
    xs = [s["x"] for s in row_a]
    assert xs[2] - xs[1] > xs[1] - xs[0]  # the aisle
    assert row_a[0]["y"] < row_a[1]["y"]  # curved: the ends are nearer the stage


# --- The database refuses ------------------------------------------------------------------


def test_database_refuses_on_sale_without_inventory():
    event = make_event(publish=False)
    with pytest.raises(IntegrityError, match="event_on_sale_has_inventory"), transaction.atomic():
        raw("UPDATE events_event SET status = 'on_sale' WHERE id = %s", [event.pk])
    # Nor may it point at a seat that has no inventory row of this event.
    seat_id = event.venue.sections.get().seats.first().pk
    with pytest.raises(IntegrityError, match="event_on_sale_inventory_fk"), transaction.atomic():
        raw(
            "UPDATE events_event SET status = 'on_sale', inventory_seat_id = %s WHERE id = %s",
            [seat_id, event.pk],
        )
    # Another event's inventory does not count either.
    other = make_event(venue=event.venue)
    with pytest.raises(IntegrityError, match="event_on_sale_inventory_fk"), transaction.atomic():
        raw(
            "UPDATE events_event SET status = 'on_sale', inventory_seat_id = %s WHERE id = %s",
            [other.inventory_seat_id, event.pk],
        )
    # Nor can its inventory be deleted away from under it.
    with pytest.raises(IntegrityError, match="event_on_sale_inventory_fk"), transaction.atomic():
        raw("DELETE FROM checkout_seatinventory WHERE event_id = %s", [other.pk])
    event.refresh_from_db()
    assert event.status == EventStatus.DRAFT


def test_publishing_sets_the_anchor():
    event = make_event(publish=False)
    event = sales.event_publish(event_id=event.pk)
    assert SeatInventory.objects.filter(event=event, seat_id=event.inventory_seat_id).exists()


def test_database_refuses_a_price_for_another_venues_section():
    event = make_event(publish=False)
    other = make_venue()
    section = other.sections.get()
    with pytest.raises(IntegrityError, match="price_section_venue_fk"), transaction.atomic():
        raw(
            "INSERT INTO events_price (event_id, section_id, venue_id, amount, currency) "
            "VALUES (%s, %s, %s, 1, 'EUR')",
            [event.pk, section.pk, event.venue_id],
        )
    with pytest.raises(IntegrityError, match="price_event_venue_fk"), transaction.atomic():
        raw(
            "INSERT INTO events_price (event_id, section_id, venue_id, amount, currency) "
            "VALUES (%s, %s, %s, 1, 'EUR')",
            [event.pk, section.pk, other.pk],
        )
    assert not Price.objects.filter(section=section).exists()


def test_admin_form_refuses_on_sale_without_publishing(admin_client):
    event = make_event(publish=False)
    r = admin_client.post(
        f"/admin/events/event/{event.pk}/change/", admin_event_form(event, status="on_sale")
    )
    assert r.status_code == 200
    assert "only by publishing" in r.content.decode()
    event.refresh_from_db()
    assert event.status == EventStatus.DRAFT


def test_admin_price_inline_offers_only_the_venues_sections(admin_client):
    event = make_event(publish=False)
    other = make_venue()
    page = admin_client.get(f"/admin/events/event/{event.pk}/change/")
    options = page.context["inline_admin_formsets"][0].formset.empty_form.fields["section"].queryset
    assert set(options) == set(event.venue.sections.all())
    price = event.prices.get()
    data = admin_event_form(
        event,
        **{
            "prices-TOTAL_FORMS": "1",
            "prices-INITIAL_FORMS": "1",
            "prices-0-id": str(price.pk),
            "prices-0-event": str(event.pk),
            "prices-0-section": str(other.sections.get().pk),
            "prices-0-amount": "10.00",
            "prices-0-currency": "EUR",
        },
    )
    r = admin_client.post(f"/admin/events/event/{event.pk}/change/", data)
    assert r.status_code == 200
    price.refresh_from_db()
    assert price.section.venue_id == event.venue_id


def test_section_spec_problems_are_all_listed():
    spec = venues.SectionSpec(name="", kind="reserved", rows=[("A", 0), ("A", 3)], numbering="up", curve=3)
    assert len(venues.section_problems(spec)) == 5
