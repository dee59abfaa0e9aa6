from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from checkout.models import SeatInventory
from events.models import Event, Seat, Venue
from tests.factories import UserFactory, make_venue

pytestmark = pytest.mark.django_db

VENUE = {
    "name": "Hall",
    "city": "Vienna",
    "country": "AT",
    "timezone": "Europe/Vienna",
    "sections": [
        {
            "name": "Parterre",
            "rows": "A-C",
            "seats_per_row": 10,
            "geometry": {"x": 0, "y": 0, "width": 400, "height": 100},
        },
        {"name": "Gallery", "row_list": [{"label": "G1", "seats": 4}, {"label": "G2", "seats": 6}]},
        {"name": "Floor", "kind": "general", "capacity": 50},
    ],
}


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code
    assert body["message"]
    return body


def test_staff_creates_venue_event_and_publishes(api_client, staff):
    api_client.as_user(staff)
    r = api_client.post("/api/venues", VENUE)
    assert r.status_code == 201, r.content
    venue = r.json()
    assert [s["seat_count"] for s in venue["sections"]] == [30, 10, 50]

    starts = (timezone.now() + dt.timedelta(days=7)).replace(microsecond=0)
    payload = {
        "venue_id": venue["id"],
        "title": "Opening night",
        "category": "theatre",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(hours=2)).isoformat(),
        "prices": [{"section_id": s["id"], "amount": "25.50"} for s in venue["sections"]],
    }
    r = api_client.post("/api/events", payload)
    assert r.status_code == 201, r.content
    event = r.json()
    assert event["status"] == "draft"
    assert event["timezone"] == "Europe/Vienna"

    r = api_client.post(f"/api/events/{event['id']}/publish")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "on_sale"
    assert SeatInventory.objects.filter(event_id=event["id"]).count() == 90

    r = api_client.post("/api/events", payload)
    assert_error(r, 409, "DUPLICATE_EVENT")


def test_ordinary_user_gets_403_and_anonymous_401(api_client):
    r = api_client.post("/api/venues", VENUE)
    assert_error(r, 401, "UNAUTHENTICATED")
    api_client.as_user(UserFactory())
    r = api_client.post("/api/venues", VENUE)
    assert_error(r, 403, "FORBIDDEN")
    assert not Venue.objects.exists()


@pytest.mark.parametrize(
    "change, code",
    [
        ({"timezone": "Nowhere/Land"}, "VALIDATION_ERROR"),
        ({"sections": [{"name": "X", "rows": "A-B"}]}, "VALIDATION_ERROR"),
        ({"sections": [{"name": "X", "capacity": 10, "rows": "A", "seats_per_row": 3}]}, "VALIDATION_ERROR"),
        (
            {"sections": [{"name": "X", "rows": "A-C", "seats_per_row": 2}, {"name": "X", "capacity": 3}]},
            "VALIDATION_ERROR",
        ),
        ({"country": "Austria"}, "VALIDATION_ERROR"),
    ],
)
def test_bad_venue_is_a_422_that_writes_nothing(api_client, staff, change, code, unchanged):
    api_client.as_user(staff)
    with unchanged():
        r = api_client.post("/api/venues", {**VENUE, **change})
    assert_error(r, 422, code)
    assert not Seat.objects.exists()


def test_malformed_json_is_a_stable_error(api_client, staff):
    api_client.as_user(staff)
    r = api_client.generic(
        "POST",
        "/api/venues",
        "{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_client.token}",
    )
    assert r.status_code in (400, 422)
    assert set(r.json()) == {"code", "message", "extra"}


def test_event_for_missing_venue_is_404(api_client, staff):
    api_client.as_user(staff)
    starts = timezone.now() + dt.timedelta(days=1)
    r = api_client.post(
        "/api/events",
        {
            "venue_id": 999999,
            "title": "Ghost",
            "category": "music",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + dt.timedelta(hours=1)).isoformat(),
        },
    )
    assert_error(r, 404, "NOT_FOUND")
    assert not Event.objects.exists()


def test_publish_without_prices_is_refused(api_client, staff):
    api_client.as_user(staff)
    venue = make_venue()
    starts = timezone.now() + dt.timedelta(days=1)
    r = api_client.post(
        "/api/events",
        {
            "venue_id": venue.id,
            "title": "Unpriced",
            "category": "music",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + dt.timedelta(hours=1)).isoformat(),
        },
    )
    r = api_client.post(f"/api/events/{r.json()['id']}/publish")
    body = assert_error(r, 409, "EVENT_NOT_READY")
    assert body["extra"]["problems"]
    assert not SeatInventory.objects.exists()


def test_openapi_docs_are_served_locally(client):
    r = client.get("/api/docs")
    assert r.status_code == 200
    assert b"cdn." not in r.content and b"unpkg" not in r.content
    assert client.get("/api/openapi.json").status_code == 200
