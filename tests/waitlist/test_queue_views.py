"""The waiting-room page (waitlist/views.py: queue_page) and the event page's redirect to it."""

from __future__ import annotations

import pytest

from checkout.services import admission
from tests.factories import UserFactory, make_event
from waitlist import queue_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(db):
    event = make_event()
    admission.room_update(event_id=event.id, enabled=True, checkout_limit=1)
    return event


def test_the_event_page_sends_buyers_to_the_waiting_room(client, event):
    response = client.get(f"/events/{event.id}/")
    assert response.status_code == 302 and response["Location"] == f"/events/{event.id}/queue/"
    # The seat map alone stays open for browsing.
    assert client.get(f"/events/{event.id}/seats/").status_code == 200


def test_without_a_room_the_event_page_is_as_before_and_the_queue_page_sends_back(client, db):
    other = make_event()
    assert client.get(f"/events/{other.id}/").status_code == 200
    assert client.get(f"/events/{other.id}/queue/")["Location"] == f"/events/{other.id}/"


def test_anonymous_visitors_are_asked_to_log_in(client, event):
    page = client.get(f"/events/{event.id}/queue/").content.decode()
    assert "Log in to join the queue" in page and "waiting-room.js" in page


def test_a_waiting_buyer_sees_the_queue_and_an_admitted_one_the_seat_map(client, event):
    first, second = UserFactory(), UserFactory()
    queue_services.queue_join(user=first, event_id=event.id)
    queue_services.queue_join(user=second, event_id=event.id)
    client.force_login(second)
    waiting = client.get(f"/events/{event.id}/queue/").content.decode()
    assert "data-queue-number>2<" in waiting and 'aria-live="polite"' in waiting
    assert "seat-picker" not in waiting
    client.force_login(first)
    turn = client.get(f"/events/{event.id}/queue/").content.decode()
    assert "It is your turn" in turn and 'id="seat-picker"' in turn and "data-turn-countdown" in turn
