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
