"""The waiting-room API: buyer's join/get/leave, staff's room controls, errors, OpenAPI."""

from __future__ import annotations

import pytest

from checkout.services import admission
from tests.factories import UserFactory, make_event, staff_user

pytestmark = pytest.mark.django_db

FIELDS = {"number", "state", "now_serving", "ahead", "eta_seconds", "admitted_until"}


@pytest.fixture
def event(db):
    event = make_event()
    admission.room_update(event_id=event.id, enabled=True, checkout_limit=1)
    return event


def test_join_201_then_200_get_and_leave(api_client, event, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.as_user(UserFactory()).post(f"/api/events/{event.id}/queue")
    assert first.status_code == 201 and first.json()["state"] == "admitted"
    client = api_client.as_user(UserFactory())
    joined = client.post(f"/api/events/{event.id}/queue")
    assert joined.status_code == 201
    body = joined.json()
    assert set(body) == FIELDS
    assert body | {"eta_seconds": None} == {
        "number": 2,
        "state": "waiting",
        "now_serving": 1,
        "ahead": 0,
        "eta_seconds": None,
        "admitted_until": None,
    }
    assert client.post(f"/api/events/{event.id}/queue").status_code == 200
    assert client.get(f"/api/events/{event.id}/queue").json()["number"] == 2
    left = client.delete(f"/api/events/{event.id}/queue")
    assert left.status_code == 200 and left.json()["state"] == "left"
    again = client.post(f"/api/events/{event.id}/queue")
    assert again.status_code == 429
    assert again.json()["code"] == "QUEUE_COOLDOWN" and "until" in again.json()["extra"]
    assert int(again["Retry-After"]) > 0


def test_get_when_not_in_the_queue_is_404(api_client, event):
    response = api_client.as_user(UserFactory()).get(f"/api/events/{event.id}/queue")
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


def test_join_needs_sign_in(api_client, event):
    assert api_client.post(f"/api/events/{event.id}/queue").status_code == 401


def test_join_without_a_room_is_409(api_client, db):
    other = make_event()
    response = api_client.as_user(UserFactory()).post(f"/api/events/{other.id}/queue")
    assert response.status_code == 409 and response.json()["code"] == "WAITING_ROOM_OFF"


def test_joins_are_rate_limited_per_account(api_client, event, settings):
    settings.TICKETING_THROTTLE_RATES = {**settings.TICKETING_THROTTLE_RATES, "queue_user": "2/min"}
    from django.core.cache import cache

    cache.clear()
    client = api_client.as_user(UserFactory())
    codes = [client.post(f"/api/events/{event.id}/queue").status_code for _ in range(3)]
    assert codes == [201, 200, 429]


def test_joins_are_rate_limited_per_address(api_client, event, settings):
    settings.TICKETING_THROTTLE_RATES = {**settings.TICKETING_THROTTLE_RATES, "queue_ip": "2/min"}
    from django.core.cache import cache

    cache.clear()
    codes = [
        api_client.as_user(UserFactory())
        .post(f"/api/events/{event.id}/queue", REMOTE_ADDR="203.0.113.9")
        .status_code
        for _ in range(3)
    ]
    assert codes == [201, 201, 429]


def test_staff_pause_resume_limit_and_switch(api_client, event):
    client = api_client.as_user(staff_user())
    paused = client.post(f"/api/events/{event.id}/queue/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert client.post(f"/api/events/{event.id}/queue/resume").json()["paused"] is False
    changed = client.patch(f"/api/events/{event.id}/queue", {"checkout_limit": 5})
    assert changed.status_code == 200 and changed.json()["checkout_limit"] == 5
    assert client.patch(f"/api/events/{event.id}/queue", {"checkout_limit": 0}).status_code == 422
    off = client.patch(f"/api/events/{event.id}/queue", {"enabled": False})
    assert off.json()["enabled"] is False
    stats = client.get(f"/api/events/{event.id}/queue/stats").json()
    assert {"waiting", "admitted", "checking_out", "admitted_per_minute"} <= set(stats)


def test_staff_turns_a_room_on_for_an_event(api_client, db):
    other = make_event()
    client = api_client.as_user(staff_user())
    assert client.post(f"/api/events/{other.id}/queue/pause").status_code == 404
    on = client.patch(f"/api/events/{other.id}/queue", {"enabled": True})
    assert on.status_code == 200 and on.json()["enabled"] is True and on.json()["checkout_limit"] == 200


def test_staff_endpoints_refuse_buyers(api_client, event):
    client = api_client.as_user(UserFactory())
    assert client.post(f"/api/events/{event.id}/queue/pause").status_code == 403
    assert client.patch(f"/api/events/{event.id}/queue", {"checkout_limit": 9}).status_code == 403
    assert client.get(f"/api/events/{event.id}/queue/stats").status_code == 403


def test_the_queue_is_in_the_openapi_document(api_client):
    schema = api_client.get("/api/openapi.json").json()
    queue = schema["paths"]["/api/events/{event_id}/queue"]
    assert {"post", "get", "delete", "patch"} <= set(queue)
    assert {"200", "201", "409", "429", "401"} <= set(queue["post"]["responses"])
    assert "403" in queue["patch"]["responses"]
    assert "/api/events/{event_id}/queue/pause" in schema["paths"]
    assert "/api/events/{event_id}/queue/resume" in schema["paths"]
