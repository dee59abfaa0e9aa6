"""Waiting-room joins answered on the event loop (waitlist/queue_loop.py), on real PostgreSQL.

Through the deployed ASGI application: the common join is answered without Django (the
metric says where), with the body and status Django would give; every other join is handed on
to Django unchanged and answered there.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from tests.asgi import request
from tests.factories import UserFactory, api_token, make_event
from tests.waitlist.conftest import room_event, wait_until_admitted
from ticketing.models import ApiToken
from ticketing.ops import metrics
from waitlist import queue_services
from waitlist.models import EventQueue, QueueEntry
from waitlist.queue_loop import JoinBatcher

# The batcher has its own connection: the data must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = {"number", "state", "now_serving", "ahead", "eta_seconds", "admitted_until"}


def answered(kind: str) -> float:
    return metrics.QUEUE_JOINS.labels(answered=kind)._value.get()


def join(event_id: int, token: str | None) -> tuple[int, dict, dict]:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    status, out_headers, body = request("POST", f"/api/events/{event_id}/queue", headers=headers)
    return status, out_headers, json.loads(body)


@pytest.fixture
def opened_room():
    """A room with every slot taken (limit 1, one buyer admitted): later joins wait."""
    event = room_event(1)
    queue_services.queue_join(user=UserFactory(), event_id=event.id)
    assert EventQueue.objects.get(event=event).opened_at is not None
    return event


def test_a_join_is_answered_on_the_loop_as_django_would(opened_room):
    token = api_token(UserFactory())
    loop_before, passed_before = answered("loop"), answered("passed")
    status, headers, body = join(opened_room.id, token)
    assert (answered("loop") - loop_before, answered("passed") - passed_before) == (1, 0)
    assert status == 201
    assert body == {
        "number": 2,
        "state": "waiting",
        "now_serving": 1,
        "ahead": 0,
        "eta_seconds": body["eta_seconds"],
        "admitted_until": None,
    }
    assert headers["content-type"] == ["application/json; charset=utf-8"]
    assert headers["x-content-type-options"] == ["nosniff"]
    # Again: the same entry, 200, still on the loop.
    status, _, again = join(opened_room.id, token)
    assert status == 200 and again["number"] == 2
    assert answered("loop") - loop_before == 2


def test_the_same_join_through_django_gives_the_same_answer(opened_room, settings):
    settings.TICKETING_WAITING_ROOM_LOOP_JOINS = False
    passed_before = answered("loop")
    status, _, body = join(opened_room.id, api_token(UserFactory()))
    assert answered("loop") == passed_before
    assert status == 201 and set(body) == FIELDS
    assert (body["number"], body["state"], body["now_serving"]) == (2, "waiting", 1)


def test_joins_at_once_share_batches_and_get_distinct_numbers_without_gaps(opened_room):
    users = [UserFactory() for _ in range(60)]
    hashes = [ApiToken.hash_key(api_token(u)) for u in users]
    batcher = JoinBatcher()

    async def scenario():
        try:
            return await asyncio.gather(
                *[batcher.join(event_id=opened_room.id, key_hash=h, allowed=lambda _: True) for h in hashes]
            )
        finally:
            await batcher.aclose()

    outcomes = async_to_sync(scenario)()
    assert all(o is not None and o.created and o.view.state == "waiting" for o in outcomes)
    assert sorted(o.view.number for o in outcomes) == list(range(2, 62))
    # The first join goes out alone; the other 59 gather while it is out.
    assert batcher.batches <= 3
    numbers = sorted(QueueEntry.objects.filter(event=opened_room).values_list("number", flat=True))
    assert numbers == list(range(1, 62))


def test_loop_and_request_path_joins_of_the_same_buyers_at_once_give_one_entry_each(opened_room):
    """Ten buyers join twice at the same moment, once on the event loop and once through
    Django on a thread: ten entries, numbers without gaps (both take the counter first)."""
    users = [UserFactory() for _ in range(10)]
    hashes = [ApiToken.hash_key(api_token(u)) for u in users]
    batcher = JoinBatcher()
    go = threading.Barrier(2)
    errors = []

    def through_django():
        try:
            go.wait(timeout=30)
            for user in users:
                queue_services.queue_join(user=user, event_id=opened_room.id)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    async def scenario():
        go.wait(timeout=30)
        try:
            return await asyncio.gather(
                *[batcher.join(event_id=opened_room.id, key_hash=h, allowed=lambda _: True) for h in hashes]
            )
        finally:
            await batcher.aclose()

    thread = threading.Thread(target=through_django)
    thread.start()
    async_to_sync(scenario)()
    thread.join(timeout=60)
    assert errors == []
    assert QueueEntry.objects.filter(event=opened_room).count() == 11
    numbers = sorted(QueueEntry.objects.filter(event=opened_room).values_list("number", flat=True))
    assert numbers == list(range(1, 12))


@pytest.mark.parametrize("retry_ms", [0, 20], ids=["on-a-thread", "by-the-admit-retry"])
def test_a_new_number_with_a_free_slot_is_admitted(settings, retry_ms):
    settings.TICKETING_WAITING_ROOM_ADMIT_RETRY_MS = retry_ms
    event = room_event(5)
    queue_services.queue_join(user=UserFactory(), event_id=event.id)  # opens the queue
    buyer = UserFactory()
    assert join(event.id, api_token(buyer))[0] == 201
    # The admission runs on a thread right after the answer.
    assert wait_until_admitted(QueueEntry.objects.get(user=buyer), seconds=10).state == "admitted"


def test_what_the_loop_does_not_answer_django_does(opened_room):
    passed_before = answered("passed")
    # Unknown token: Django's 401.
    status, _, body = join(opened_room.id, "not-a-token")
    assert status == 401 and body["code"] == "UNAUTHENTICATED"
    # No room: Django's 409 in the error shape.
    status, _, body = join(make_event().id, api_token(UserFactory()))
    assert status == 409 and body["code"] == "WAITING_ROOM_OFF"
    # Left, then joining again during the cooldown: Django's 429.
    user = UserFactory()
    token = api_token(user)
    assert join(opened_room.id, token)[0] == 201
    queue_services.queue_leave(user=user, event_id=opened_room.id)
    status, headers, body = join(opened_room.id, token)
    assert status == 429 and body["code"] == "QUEUE_COOLDOWN" and "retry-after" in headers
    assert answered("passed") - passed_before == 3
    # No bearer token at all: never the loop's (Django answers, 401).
    assert join(opened_room.id, None)[0] == 401


def test_throttles_count_a_join_once_whichever_path_answers(opened_room, settings):
    settings.TICKETING_THROTTLE_RATES = {**settings.TICKETING_THROTTLE_RATES, "queue_user": "2/min"}
    from django.core.cache import cache

    cache.clear()
    user = UserFactory()
    token = api_token(user)
    assert join(opened_room.id, token)[0] == 201  # loop, counted once
    queue_services.queue_leave(user=user, event_id=opened_room.id)
    assert join(opened_room.id, token)[0] == 429  # counted on the loop, handed on: cooldown
    status, _, body = join(opened_room.id, token)  # the third in a minute: throttled
    assert status == 429 and body["code"] == "RATE_LIMITED"


def test_a_failed_batch_hands_its_joins_to_django(opened_room, monkeypatch):
    async def broken(self):
        raise ConnectionError("database unreachable from the loop")

    monkeypatch.setattr(JoinBatcher, "_connection", broken)
    passed_before = answered("passed")
    status, _, body = join(opened_room.id, api_token(UserFactory()))
    assert status == 201 and body["number"] == 2
    assert answered("passed") - passed_before == 1
