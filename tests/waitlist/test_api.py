"""Waitlist API: POST /api/events/{id}/waitlist, GET /api/waitlist, DELETE /api/waitlist/{id}."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory, make_event
from tests.waitlist.inventory import free_seats, hold_seats, rows
from waitlist import services
from waitlist.models import EntryStatus, WaitlistEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold_out():
    event = make_event()
    hold_seats(event)
    return event


def test_join_returns_the_entry_with_its_place_in_line(api_client, sold_out):
    services.waitlist_join(user=UserFactory(), event_id=sold_out.id, quantity=1)
    me = UserFactory()

    response = api_client.as_user(me).post(f"/api/events/{sold_out.id}/waitlist", {"quantity": 3})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "waiting" and body["quantity"] == 3 and body["position"] == 2
    assert body["offer"] is None
    assert WaitlistEntry.objects.get(pk=body["id"]).user == me


def test_join_with_seats_free_is_409_seats_available(api_client, user, unchanged):
    event = make_event()
    client = api_client.as_user(user)
    with unchanged():
        response = client.post(f"/api/events/{event.id}/waitlist", {"quantity": 1})
    assert response.status_code == 409
    assert response.json()["code"] == "SEATS_AVAILABLE"
    assert response.json()["extra"] == {"free": 10}


def test_second_join_is_409_already_waiting(api_client, user, sold_out):
    client = api_client.as_user(user)
    assert client.post(f"/api/events/{sold_out.id}/waitlist", {"quantity": 1}).status_code == 201
    response = client.post(f"/api/events/{sold_out.id}/waitlist", {"quantity": 2})
    assert response.status_code == 409 and response.json()["code"] == "ALREADY_WAITING"
    assert WaitlistEntry.objects.filter(user=user).count() == 1


@pytest.mark.parametrize("quantity", [0, 11])
def test_join_quantity_out_of_range_is_422(api_client, user, sold_out, quantity):
    response = api_client.as_user(user).post(f"/api/events/{sold_out.id}/waitlist", {"quantity": quantity})
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR"


def test_join_unknown_event_is_404(api_client, user):
    response = api_client.as_user(user).post("/api/events/999999/waitlist", {"quantity": 1})
    assert response.status_code == 404


def test_waitlist_needs_sign_in(api_client, sold_out):
    assert api_client.post(f"/api/events/{sold_out.id}/waitlist", {"quantity": 1}).status_code == 401
    assert api_client.get("/api/waitlist").status_code == 401


def test_my_waitlist_shows_positions_and_open_offers(api_client, sold_out, django_assert_max_num_queries):
    ahead = services.waitlist_join(user=UserFactory(), event_id=sold_out.id, quantity=1)
    me = UserFactory()
    mine = services.waitlist_join(user=me, event_id=sold_out.id, quantity=1)
    other_event = make_event()
    hold_seats(other_event)
    services.waitlist_join(user=me, event_id=other_event.id, quantity=2)
    client = api_client.as_user(me)

    body = client.get("/api/waitlist").json()
    assert [(e["event_id"], e["position"]) for e in body] == [(other_event.id, 1), (sold_out.id, 2)]

    services.waitlist_leave(user=ahead.user, entry_id=ahead.id)
    seat_ids = free_seats(rows(sold_out, "B2"))
    services.waitlist_seats_released(event_id=sold_out.id, seat_ids=seat_ids, reason="released")

    with django_assert_max_num_queries(8):
        body = client.get("/api/waitlist").json()
    offered = next(e for e in body if e["id"] == mine.id)
    assert offered["status"] == "offered" and offered["position"] is None
    assert offered["offer"]["seat_ids"] == seat_ids


def test_leave_is_204_and_the_entry_shows_as_left(api_client, user, sold_out):
    entry = services.waitlist_join(user=user, event_id=sold_out.id, quantity=1)
    client = api_client.as_user(user)

    assert client.delete(f"/api/waitlist/{entry.id}").status_code == 204
    assert client.delete(f"/api/waitlist/{entry.id}").status_code == 204

    (shown,) = client.get("/api/waitlist").json()
    assert shown["status"] == EntryStatus.LEFT and shown["position"] is None


def test_leaving_someone_elses_entry_is_404(api_client, user, sold_out, unchanged):
    entry = services.waitlist_join(user=UserFactory(), event_id=sold_out.id, quantity=1)
    client = api_client.as_user(user)
    with unchanged():
        assert client.delete(f"/api/waitlist/{entry.id}").status_code == 404
    entry.refresh_from_db()
    assert entry.status == EntryStatus.WAITING
