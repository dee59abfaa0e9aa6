"""The event websocket (waitlist/consumers.py) over the real PostgreSQL channel layer."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from tests.factories import UserFactory, make_event
from tests.waitlist.inventory import free_seats, hold_seats, rows
from tests.websocket import (
    WAIT,
    after_commit,
    listener_up,
    open_socket,
    receive,
    receive_many,
    run,
    sorted_messages,
)
from waitlist import services

# Consumers close connections between handlers (channels.db), so data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def release_seats(event, *labels):
    seat_ids = free_seats(rows(event, *labels))
    return services.waitlist_seats_released(event_id=event.id, seat_ids=seat_ids, reason="released")


def free_and_announce(event, *labels):
    """Release seats through checkout (its after-commit push), without an offer run."""
    return free_seats(rows(event, *labels))


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # A sold-out event here is one buyer per seat: skip the deliberately slow password hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def sold_out():
    event = make_event()
    hold_seats(event)
    return event


def test_a_foreign_origin_is_rejected(sold_out):
    async def scenario():
        socket, connected, _ = await open_socket(sold_out.id, origin=b"https://evil.example")
        assert not connected
        await socket.disconnect()

    run(scenario)


def test_an_unknown_or_draft_event_is_refused():
    draft = make_event(publish=False)

    async def scenario():
        for event_id in (draft.id, 999999):
            socket, connected, _ = await open_socket(event_id)
            # Accepted first (the handshake never waits on the database), then closed.
            assert connected
            assert await socket.receive_output(timeout=WAIT) == {"type": "websocket.close", "code": 4404}
            await socket.disconnect()

    run(scenario)


def test_anonymous_viewer_gets_seat_updates_but_no_offers(sold_out):
    waiting = services.waitlist_join(user=UserFactory(), event_id=sold_out.id, quantity=1)
    section_id = sold_out.venue.sections.get().id

    async def scenario():
        socket, connected, _ = await open_socket(sold_out.id)
        assert connected
        hello = await receive(socket)
        assert hello == {
            "type": "stream.hello",
            "event_id": sold_out.id,
            "sections": [[section_id, 0, 10]],
            "waitlist": None,
        }
        await listener_up()

        offers = await after_commit(release_seats, sold_out, "A2")
        assert [o.entry_id for o in offers] == [waiting.id]

        # This viewer sees the seat come back and be taken by the offer (two commits, two
        # pushes); the offer itself goes to the user's group only.
        (a2,) = offers[0].seat_ids
        assert await receive_many(socket, 4) == sorted_messages(
            {"type": "seats.update", "event_id": sold_out.id, "free": [a2], "taken": []},
            {"type": "sections.update", "event_id": sold_out.id, "sections": [[section_id, 1, 10]]},
            {"type": "seats.update", "event_id": sold_out.id, "free": [], "taken": [a2]},
            {"type": "sections.update", "event_id": sold_out.id, "sections": [[section_id, 0, 10]]},
        )

        (b5,) = await after_commit(free_and_announce, sold_out, "B5")
        assert await receive(socket) == {
            "type": "seats.update",
            "event_id": sold_out.id,
            "free": [b5],
            "taken": [],
        }
        await socket.disconnect()

    run(scenario)


def test_the_waiting_user_gets_the_offer_and_the_next_in_line_their_new_place(sold_out):
    first_user, second_user = UserFactory(), UserFactory()
    first = services.waitlist_join(user=first_user, event_id=sold_out.id, quantity=2)
    second = services.waitlist_join(user=second_user, event_id=sold_out.id, quantity=2)

    async def scenario():
        a, connected_a, _ = await open_socket(sold_out.id, user=first_user)
        b, connected_b, _ = await open_socket(sold_out.id, user=second_user)
        assert connected_a and connected_b
        assert (await receive(a))["waitlist"] == {
            "entry_id": first.id,
            "status": "waiting",
            "quantity": 2,
            "position": 1,
        }
        assert (await receive(b))["waitlist"]["position"] == 2
        await listener_up()

        (offer,) = await after_commit(release_seats, sold_out, "A4", "A5")

        # The seat map's pushes (release, then offer) and the user's own messages may come in
        # any order.
        got_a = await receive_many(a, 5)
        assert sorted(m["type"] for m in got_a) == [
            "seats.update",
            "seats.update",
            "sections.update",
            "sections.update",
            "waitlist.offer",
        ]
        assert [m for m in got_a if m["type"] == "waitlist.offer"] == [
            {
                "type": "waitlist.offer",
                "event_id": sold_out.id,
                "entry_id": first.id,
                "hold_id": offer.hold_id,
                "seat_ids": offer.seat_ids,
                "expires_at": offer.expires_at.isoformat(),
            }
        ]

        got_b = await receive_many(b, 5)
        assert sorted(m["type"] for m in got_b) == [
            "seats.update",
            "seats.update",
            "sections.update",
            "sections.update",
            "waitlist.position",
        ]
        assert [m for m in got_b if m["type"] == "waitlist.position"] == [
            {"type": "waitlist.position", "event_id": sold_out.id, "entry_id": second.id, "position": 1}
        ]
        # Nothing else was queued for B before this later seat change: no offer reached B.
        (a1,) = await after_commit(free_and_announce, sold_out, "A1")
        assert (await receive(b))["free"] == [a1]
        await a.disconnect()
        await b.disconnect()

    run(scenario)


def test_a_user_who_joins_while_watching_is_told_their_place_and_moves_up(sold_out):
    ahead_user, me = UserFactory(), UserFactory()
    ahead = services.waitlist_join(user=ahead_user, event_id=sold_out.id, quantity=1)

    async def scenario():
        socket, connected, _ = await open_socket(sold_out.id, user=me)
        assert connected
        assert (await receive(socket))["waitlist"] is None
        await listener_up()

        mine = await after_commit(services.waitlist_join, user=me, event_id=sold_out.id, quantity=1)
        joined = await receive(socket)
        assert (joined["type"], joined["entry_id"], joined["position"]) == ("waitlist.joined", mine.id, 2)

        await after_commit(services.waitlist_leave, user=ahead_user, entry_id=ahead.id)
        moved = await receive(socket)
        assert (moved["type"], moved["position"]) == ("waitlist.position", 1)
        await socket.disconnect()

    run(scenario)


def test_after_the_layer_reconnects_viewers_are_told_to_resync(sold_out):
    import psycopg

    from ticketing.server.channel_layer import django_conninfo

    user = UserFactory()
    entry = services.waitlist_join(user=user, event_id=sold_out.id, quantity=1)

    def terminate(pid):
        with psycopg.connect(django_conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])

    async def scenario():
        socket, connected, _ = await open_socket(sold_out.id, user=user)
        assert connected
        await receive(socket)
        await listener_up()
        layer = get_channel_layer()
        old_pid = layer.status()["backend_pid"]

        await database_sync_to_async(terminate)(old_pid)

        resync = await receive(socket)
        assert resync == {
            "type": "stream.resync",
            "event_id": sold_out.id,
            "waitlist": {"entry_id": entry.id, "status": "waiting", "quantity": 1, "position": 1},
        }
        assert layer.status()["backend_pid"] != old_pid
        await socket.disconnect()

    run(scenario)


def test_open_connections_are_counted_in_the_gauge(sold_out):
    from prometheus_client import REGISTRY

    def gauge() -> float:
        return REGISTRY.get_sample_value("ticketing_websocket_connections") or 0.0

    start = gauge()
    viewer = UserFactory()

    async def scenario():
        first, connected, _ = await open_socket(sold_out.id)
        second, connected_too, _ = await open_socket(sold_out.id, user=viewer)
        assert connected and connected_too
        # The connection is counted once its event is known, just before the hello.
        assert (await receive(first))["type"] == "stream.hello"
        assert (await receive(second))["type"] == "stream.hello"
        assert gauge() == start + 2
        refused, _, _ = await open_socket(999999)
        assert await refused.receive_output(timeout=WAIT) == {"type": "websocket.close", "code": 4404}
        await refused.disconnect()
        assert gauge() == start + 2  # a connection to no event was never counted
        await first.disconnect()
        assert gauge() == start + 1
        await second.disconnect()

    run(scenario)
    assert gauge() == start


def test_viewers_are_told_when_the_event_is_cancelled_and_waiting_users_that_their_place_closed(sold_out):
    from checkout.services.sales import event_cancel
    from tests.factories import staff_user

    me, staff = UserFactory(), staff_user()
    mine = services.waitlist_join(user=me, event_id=sold_out.id, quantity=1)

    async def scenario():
        socket, connected, _ = await open_socket(sold_out.id, user=me)
        assert connected
        assert (await receive(socket))["waitlist"]["entry_id"] == mine.id
        await listener_up()
        await after_commit(event_cancel, event_id=sold_out.id, actor=staff, refund_inline=True)
        seen = {}
        while not {"event.cancelled", "waitlist.closed"} <= set(seen):
            message = await receive(socket)
            seen[message["type"]] = message
        assert seen["event.cancelled"] == {"type": "event.cancelled", "event_id": sold_out.id}
        assert seen["waitlist.closed"] == {
            "type": "waitlist.closed",
            "event_id": sold_out.id,
            "entry_id": mine.id,
            "reason": "event_cancelled",
        }
        await socket.disconnect()

    run(scenario)
