"""The waiting room over the event websocket: one "now serving" broadcast per change to every
viewer, a buyer's admission to that buyer only, the queue closing to everyone at once."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from checkout.services import admission
from tests.factories import UserFactory, make_event
from tests.websocket import listener_up, open_socket, receive, receive_type, run
from waitlist import queue_services

pytestmark = pytest.mark.django_db(transaction=True)


def test_now_serving_to_all_and_the_turn_to_its_buyer_only():
    event = make_event()
    admission.room_update(event_id=event.id, enabled=True, checkout_limit=1, paused=True)
    first, second = UserFactory(), UserFactory()
    queue_services.queue_join(user=first, event_id=event.id)
    queue_services.queue_join(user=second, event_id=event.id)

    async def scenario():
        mine, connected, _ = await open_socket(event.id, user=first, query="?view=queue")
        other, connected_too, _ = await open_socket(event.id, user=second, query="?view=queue")
        assert connected and connected_too
        for socket in (mine, other):
            assert (await receive(socket)) == {"type": "stream.hello", "event_id": event.id, "view": "queue"}
        await listener_up()
        await database_sync_to_async(admission.room_update)(event_id=event.id, paused=False)
        admitted = await receive_type(mine, "queue.admitted")
        assert (admitted["event_id"], admitted["number"]) == (event.id, 1)
        moved = await receive_type(other, "queue.moved")
        assert (moved["event_id"], moved["now_serving"]) == (event.id, 1)
        # The other buyer is told the number moved, and nothing about the first buyer's turn.
        await database_sync_to_async(queue_services.queue_close)(event_id=event.id)
        closed = await receive(other)
        assert closed["type"] == "queue.closed" and closed["waitlist"] == f"/api/events/{event.id}/waitlist"
        await mine.disconnect()
        await other.disconnect()

    run(scenario)


def test_a_buyer_joins_over_the_socket_and_errors_come_in_the_api_shape():
    """The page's way in: ``queue.join`` on its socket (signed in by the session at the
    handshake) answers the place as the API would; a second join, the same entry; leaving then
    joining again is the cooldown, as the API's error."""
    event = make_event()
    admission.room_update(event_id=event.id, enabled=True, checkout_limit=1)
    queue_services.queue_join(user=UserFactory(), event_id=event.id)  # takes the only slot
    buyer = UserFactory()

    async def scenario():
        socket, connected, _ = await open_socket(event.id, user=buyer, query="?view=queue")
        assert connected
        await receive_type(socket, "stream.hello")
        await socket.send_json_to({"type": "queue.join"})
        joined = await receive_type(socket, "queue.joined")
        assert joined == {
            "type": "queue.joined",
            "created": True,
            "number": 2,
            "state": "waiting",
            "now_serving": 1,
            "ahead": 0,
            "eta_seconds": joined["eta_seconds"],
            "admitted_until": None,
        }
        await socket.send_json_to({"type": "queue.join"})
        again = await receive_type(socket, "queue.joined")
        assert (again["created"], again["number"]) == (False, 2)
        await database_sync_to_async(queue_services.queue_leave)(user=buyer, event_id=event.id)
        await socket.send_json_to({"type": "queue.join"})
        refused = await receive_type(socket, "queue.error")
        assert refused["code"] == "QUEUE_COOLDOWN" and "until" in refused["extra"]
        await socket.disconnect()

    run(scenario)


def test_an_anonymous_socket_cannot_join():
    event = make_event()
    admission.room_update(event_id=event.id, enabled=True, checkout_limit=1)

    async def scenario():
        socket, connected, _ = await open_socket(event.id, query="?view=queue")
        assert connected
        await receive_type(socket, "stream.hello")
        await socket.send_json_to({"type": "queue.join"})
        refused = await receive_type(socket, "queue.error")
        assert refused["code"] == "UNAUTHENTICATED"
        await socket.disconnect()

    run(scenario)
