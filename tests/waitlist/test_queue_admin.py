"""Staff run a waiting room from the admin: the room's switch and limit, the queue's figures."""

from __future__ import annotations

import pytest

from checkout.models import WaitingRoom
from checkout.selectors.dashboard import event_dashboard
from checkout.services import admission
from tests.factories import UserFactory, make_event, staff_user
from waitlist import queue_services

pytestmark = pytest.mark.django_db


def test_staff_turn_a_room_on_and_see_the_queue(client):
    event = make_event()
    client.force_login(staff_user(is_superuser=True))
    added = client.post(
        "/admin/checkout/waitingroom/add/",
        {"event": event.id, "enabled": "on", "checkout_limit": 1, "paused": ""},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    room = WaitingRoom.objects.get(event=event)
    assert room.enabled and room.checkout_limit == 1
    for _ in range(3):
        queue_services.queue_join(user=UserFactory(), event_id=event.id)
    page = client.get("/admin/waitlist/eventqueue/")
    assert page.status_code == 200
    text = page.content.decode().lower()
    assert "checking out" in text and "admitted / minute" in text
    paused = client.post("/admin/waitlist/eventqueue/", {"action": "pause", "_selected_action": [event.id]})
    assert paused.status_code == 302 and WaitingRoom.objects.get(event=event).paused
    assert client.get("/admin/waitlist/queueentry/").status_code == 200
    assert client.get("/admin/checkout/admissionpass/").status_code == 200


def test_the_dashboard_shows_the_queue(db):
    event = make_event()
    admission.room_update(event_id=event.id, enabled=True, checkout_limit=1)
    for _ in range(3):
        queue_services.queue_join(user=UserFactory(), event_id=event.id)
    figures = dict(event_dashboard(event=event).extra)
    assert figures["waiting in the queue"] == 2
    assert figures["admitted (no hold yet)"] == 1
    assert figures["checking out"] == 0
