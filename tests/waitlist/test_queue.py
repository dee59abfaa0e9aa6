"""The waiting-room queue (waitlist/queue_services.py, queue_selectors.py, queue_api.py)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from checkout.models import AdmissionPass, PassState
from checkout.services import admission
from checkout.services.holds import hold_create, hold_release
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_event
from waitlist import queue_services as services
from waitlist.errors import QueueClosed, QueueCooldown, WaitingRoomOff
from waitlist.models import EventQueue, QueueEntry, QueueState

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(db):
    event = make_event()
    admission.room_update(event_id=event.id, enabled=True, checkout_limit=2)
    return event


@pytest.fixture
def pushes(monkeypatch, settings):
    """Every websocket push: ``(group, message)``; coalescing off so they are sent at once."""
    settings.TICKETING_REALTIME_COALESCE_MS = 0
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr("ticketing.core.realtime.push", lambda group, message: sent.append((group, message)))
    return sent


def join(user, event, now=None):
    return services.queue_join(user=user, event_id=event.id, now=now or timezone.now())


def test_join_twice_returns_the_same_entry(event):
    buyer = UserFactory()
    first = join(buyer, event)
    again = join(buyer, event)
    assert first.created and not again.created
    assert first.view.number == again.view.number == 1
    assert QueueEntry.objects.count() == 1


def test_the_first_numbers_are_admitted_at_once_the_rest_wait_in_order(
    event, pushes, django_capture_on_commit_callbacks
):
    users = [UserFactory() for _ in range(4)]
    with django_capture_on_commit_callbacks(execute=True):
        for u in users:
            join(u, event)
    views = [services.queue_check_in(user=u, event_id=event.id) for u in users]
    assert [v.state for v in views] == ["admitted", "admitted", "waiting", "waiting"]
    assert [v.number for v in views] == [1, 2, 3, 4]
    assert views[3].now_serving == 2 and views[3].ahead == 1
    assert views[2].ahead == 0 and views[2].eta_seconds == 0
    assert views[0].admitted_until is not None
    admitted = [m for g, m in pushes if m["type"] == "queue.admitted"]
    assert [(m["number"], g) for m in admitted for g in [g for g, mm in pushes if mm is m]] == [
        (1, f"user-{users[0].pk}"),
        (2, f"user-{users[1].pk}"),
    ]
    moved = [m for g, m in pushes if m["type"] == "queue.moved"]
    assert moved and moved[-1]["now_serving"] == 2
    assert all(g == f"queue-{event.id}" for g, m in pushes if m["type"] == "queue.moved")


def test_a_turn_ending_admits_the_next_number(event, pushes, django_capture_on_commit_callbacks):
    users = [UserFactory() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        for u in users:
            join(u, event)
    hold = hold_create(user=users[0], event_id=event.id, seat_ids=seat_ids(event)[:1])
    assert services.queue_check_in(user=users[0], event_id=event.id).state == "checking_out"
    with django_capture_on_commit_callbacks(execute=True):
        hold_release(user=users[0], hold_id=hold.pk)
    assert services.queue_check_in(user=users[0], event_id=event.id).state == "done"
    third = services.queue_check_in(user=users[2], event_id=event.id)
    assert third.state == "admitted" and third.now_serving == 3


def test_join_without_a_room_is_refused(db):
    event = make_event()
    with pytest.raises(WaitingRoomOff):
        join(UserFactory(), event)


def test_leaving_starts_a_cooldown_then_the_buyer_rejoins_at_the_back(event, settings):
    admission.room_update(event_id=event.id, paused=True)
    buyer, other = UserFactory(), UserFactory()
    now = timezone.now()
    join(buyer, event, now)
    join(other, event, now)
    assert services.queue_leave(user=buyer, event_id=event.id, now=now).state == "left"
    with pytest.raises(QueueCooldown) as caught:
        join(buyer, event, now + dt.timedelta(minutes=5))
    until = now + dt.timedelta(seconds=settings.TICKETING_WAITING_ROOM_COOLDOWN_SECONDS)
    assert caught.value.status == 429 and caught.value.extra["until"] == until.isoformat()
    assert int(caught.value.headers["Retry-After"]) > 3000
    again = join(buyer, event, until)
    assert again.created and again.view.number == 3 and again.view.state == "waiting"
    assert QueueEntry.objects.filter(user=buyer).count() == 1


def test_a_waiting_entry_lapses_without_check_ins_and_then_cools_down(event, settings):
    admission.room_update(event_id=event.id, paused=True)
    buyer = UserFactory()
    now = timezone.now()
    join(buyer, event, now)
    ttl = dt.timedelta(seconds=settings.TICKETING_WAITING_ROOM_ENTRY_TTL_SECONDS)
    # A check-in keeps it alive...
    assert services.queue_check_in(user=buyer, event_id=event.id, now=now + ttl / 2).state == "waiting"
    # ...and the lapse counts from the last one; a late check-in does not revive it.
    lapsed_at = now + ttl / 2 + ttl
    assert services.queue_check_in(user=buyer, event_id=event.id, now=lapsed_at).state == "expired"
    with pytest.raises(QueueCooldown):
        join(buyer, event, lapsed_at + dt.timedelta(minutes=1))
    assert services.queue_entries_expire(event_id=event.id, now=lapsed_at) == 1
    entry = QueueEntry.objects.get()
    assert entry.state == QueueState.EXPIRED and entry.cooldown_until > lapsed_at
    assert join(buyer, event, entry.cooldown_until).created


def test_a_lapsed_admission_may_rejoin_at_once_at_the_back(
    event, settings, django_capture_on_commit_callbacks
):
    """The rule (docs/waiting-room.md): a buyer whose turn came and lapsed unused has had the
    turn; no cooldown, a new number at the back, and the lapsed pass no longer counts."""
    users = [UserFactory() for _ in range(3)]
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        for u in users:
            join(u, event, now)
    later = now + dt.timedelta(seconds=settings.TICKETING_WAITING_ROOM_ADMIT_SECONDS)
    assert services.queue_check_in(user=users[0], event_id=event.id, now=later).state == "expired"
    again = join(users[0], event, later)
    # Both lapsed turns freed their slots: the third buyer and the returning one are admitted.
    assert again.created and again.view.number == 4 and again.view.state == "admitted"
    assert services.queue_check_in(user=users[2], event_id=event.id, now=later).state == "admitted"
    assert AdmissionPass.objects.filter(user=users[0], state=PassState.ADMITTED).count() == 1
    assert AdmissionPass.objects.filter(user=users[0], state=PassState.EXPIRED).count() == 1


def test_pre_open_arrivals_are_shuffled_at_the_opening_then_fifo(db):
    opens = timezone.now() + dt.timedelta(hours=1)
    event = make_event(sales_open_at=opens)
    admission.room_update(event_id=event.id, enabled=True, checkout_limit=1)
    early = [UserFactory() for _ in range(8)]
    before = opens - dt.timedelta(minutes=30)
    for u in early:
        view = join(u, event, before).view
        assert view.number is None and view.state == "waiting"
    services.queue_open(event_id=event.id, now=opens, rng=random.Random(7))
    expected = [e.pk for e in QueueEntry.objects.order_by("pk")]
    random.Random(7).shuffle(expected)
    assert list(QueueEntry.objects.order_by("number").values_list("pk", flat=True)) == expected
    assert sorted(QueueEntry.objects.values_list("number", flat=True)) == list(range(1, 9))
    # The control: without the shuffle the order would be arrival order.
    assert expected != sorted(expected)
    late = [UserFactory() for _ in range(3)]
    assert [join(u, event, opens).view.number for u in late] == [9, 10, 11]
    assert not services.queue_open(event_id=event.id, now=opens, rng=random.Random(1))  # once


def test_sold_out_closes_the_queue_with_one_broadcast(event, pushes, django_capture_on_commit_callbacks):
    admission.room_update(event_id=event.id, paused=True)
    users = [UserFactory() for _ in range(3)]
    for u in users:
        join(u, event)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.queue_close(event_id=event.id) == 3
    closed = [(g, {**m, "at": None}) for g, m in pushes if m["type"] == "queue.closed"]
    assert closed == [
        (
            f"queue-{event.id}",
            {
                "type": "queue.closed",
                "event_id": event.id,
                "at": None,
                "reason": "sold_out",
                "waitlist": f"/api/events/{event.id}/waitlist",
            },
        )
    ]
    assert services.queue_check_in(user=users[0], event_id=event.id).state == "closed"
    with pytest.raises(QueueClosed) as caught:
        join(UserFactory(), event)
    assert caught.value.extra["waitlist"] == f"/api/events/{event.id}/waitlist"
    assert services.queue_close(event_id=event.id) == 0


def test_selling_the_last_seat_closes_the_queue(event, django_capture_on_commit_callbacks):
    """Through checkout's sold-out hook (checkout never imports the waitlist)."""
    from checkout.models import SeatInventory

    admission.room_update(event_id=event.id, checkout_limit=1)
    buyer, waiting = UserFactory(), UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        join(buyer, event)
        join(waiting, event)
        hold_create(user=buyer, event_id=event.id, seat_ids=seat_ids(event))
    assert SeatInventory.objects.filter(event=event, status="held").count() == len(seat_ids(event))
    assert EventQueue.objects.get(event=event).closed_at is not None
    assert services.queue_check_in(user=waiting, event_id=event.id).state == "closed"
