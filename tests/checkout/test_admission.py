"""The waiting room's admission check (checkout/services/admission.py): a hold on an event with
the room on needs the buyer's own unused turn; the turn lasts as long as the hold."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from checkout import payments
from checkout.errors import QueueRequired
from checkout.models import AdmissionPass, Hold, PassState
from checkout.selectors import admission as selectors
from checkout.services import admission, hooks
from checkout.services.holds import hold_create, hold_release, holds_expire_due
from checkout.services.orders import order_purchase
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(event):
    return admission.room_update(event_id=event.id, enabled=True, checkout_limit=2)


def grant(event, *users, now=None):
    now = now or timezone.now()
    return admission.passes_grant(event_id=event.id, pick=lambda n: [u.pk for u in users][:n], now=now)


@pytest.fixture
def freed(monkeypatch):
    """The events whose ``admission_freed`` hook ran."""
    calls: list[int] = []
    monkeypatch.setattr(hooks, "_notify", lambda topic, **kw: calls.append((topic, kw["event_id"])))
    return calls


def test_no_turn_no_hold_and_nothing_written(event, room, inventory_unchanged):
    buyer = UserFactory()
    with inventory_unchanged(), pytest.raises(QueueRequired) as caught:
        hold_create(user=buyer, event_id=event.id, seat_ids=seat_ids(event)[:1])
    assert caught.value.status == 403 and caught.value.code == "QUEUE_REQUIRED"
    assert caught.value.extra["queue"] == f"/api/events/{event.id}/queue"


def test_room_off_needs_no_turn(event):
    admission.room_update(event_id=event.id, enabled=False)
    hold = hold_create(user=UserFactory(), event_id=event.id, seat_ids=seat_ids(event)[:1])
    assert hold.pk and not AdmissionPass.objects.exists()


def test_a_turn_is_bound_to_one_hold_and_cannot_be_used_again(event, room):
    buyer = UserFactory()
    (turn,) = grant(event, buyer)
    hold = hold_create(user=buyer, event_id=event.id, seat_ids=seat_ids(event)[:1])
    turn.refresh_from_db()
    assert (turn.state, turn.hold_id) == (PassState.CHECKING_OUT, hold.pk)
    hold_release(user=buyer, hold_id=hold.pk)
    turn.refresh_from_db()
    assert turn.state == PassState.DONE and turn.ended_at
    with pytest.raises(QueueRequired):
        hold_create(user=buyer, event_id=event.id, seat_ids=seat_ids(event)[1:2])


def test_a_turn_cannot_be_used_by_another_buyer(event, room):
    admitted, other = UserFactory(), UserFactory()
    grant(event, admitted)
    with pytest.raises(QueueRequired):
        hold_create(user=other, event_id=event.id, seat_ids=seat_ids(event)[:1])
    assert not Hold.objects.exists()
    assert AdmissionPass.objects.get().state == PassState.ADMITTED


def test_an_unused_turn_lapses_after_the_admission_window(event, room, settings):
    buyer = UserFactory()
    now = timezone.now()
    grant(event, buyer, now=now)
    later = now + dt.timedelta(seconds=settings.TICKETING_WAITING_ROOM_ADMIT_SECONDS)
    assert selectors.live_count(event_id=event.id, now=later - dt.timedelta(seconds=1)) == 1
    assert selectors.live_count(event_id=event.id, now=later) == 0
    with pytest.raises(QueueRequired):
        hold_create(user=buyer, event_id=event.id, seat_ids=seat_ids(event)[:1], now=later)


def test_an_expired_hold_stops_counting_at_once_before_any_sweep(event, room):
    buyer = UserFactory()
    now = timezone.now()
    grant(event, buyer, now=now)
    hold = hold_create(user=buyer, event_id=event.id, seat_ids=seat_ids(event)[:1], now=now)
    assert selectors.live_count(event_id=event.id, now=hold.expires_at - dt.timedelta(seconds=1)) == 1
    assert selectors.live_count(event_id=event.id, now=hold.expires_at) == 0
    view = selectors.pass_view(pass_id=AdmissionPass.objects.get().pk, now=hold.expires_at)
    assert view.state == PassState.EXPIRED


def test_the_sweeper_ends_the_turn_and_wakes_the_queue(
    event, room, freed, django_capture_on_commit_callbacks
):
    buyer = UserFactory()
    now = timezone.now()
    grant(event, buyer, now=now)
    hold = hold_create(user=buyer, event_id=event.id, seat_ids=seat_ids(event)[:1], now=now)
    freed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        holds_expire_due(now=hold.expires_at)
    assert AdmissionPass.objects.get().state == PassState.EXPIRED
    assert (hooks.ADMISSION_FREED, event.id) in freed


def test_an_unused_lapsed_turn_is_tidied_by_passes_expire_due(
    event, room, freed, settings, django_capture_on_commit_callbacks
):
    now = timezone.now()
    grant(event, UserFactory(), now=now)
    later = now + dt.timedelta(seconds=settings.TICKETING_WAITING_ROOM_ADMIT_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert admission.passes_expire_due(now=later) == 1
    assert AdmissionPass.objects.get().state == PassState.EXPIRED
    assert (hooks.ADMISSION_FREED, event.id) in freed


def test_buying_ends_the_turn(event, room, freed, django_capture_on_commit_callbacks):
    buyer = UserFactory()
    grant(event, buyer)
    hold = hold_create(user=buyer, event_id=event.id, seat_ids=seat_ids(event)[:1])
    freed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        order_purchase(
            user=buyer,
            hold_id=hold.pk,
            buyer_name="B",
            buyer_email="b@example.com",
            card_number=payments.CARD_APPROVE,
            idempotency_key="k-admission",
        )
    assert AdmissionPass.objects.get().state == PassState.DONE
    assert (hooks.ADMISSION_FREED, event.id) in freed


def test_grants_never_exceed_the_limit_and_stop_while_paused(event, room):
    users = [UserFactory() for _ in range(4)]
    assert len(grant(event, *users)) == 2
    assert grant(event, *users[2:]) == []
    admission.room_update(event_id=event.id, checkout_limit=3, paused=True)
    assert grant(event, *users[2:]) == []
    admission.room_update(event_id=event.id, paused=False)
    assert [p.user_id for p in grant(event, *users[2:])] == [users[2].pk]
    assert selectors.live_count(event_id=event.id, now=timezone.now()) == 3


def test_lowering_the_limit_takes_no_turn_back_and_admits_no_one(event, room):
    users = [UserFactory() for _ in range(3)]
    grant(event, *users[:2])
    admission.room_update(event_id=event.id, checkout_limit=1)
    assert grant(event, users[2]) == []
    assert selectors.live_count(event_id=event.id, now=timezone.now()) == 2


def test_hold_api_without_a_turn_is_403_queue_required(api_client, event, room):
    client = api_client.as_user(UserFactory())
    response = client.post(f"/api/events/{event.id}/holds", {"seat_ids": seat_ids(event)[:1]})
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "QUEUE_REQUIRED" and set(body) == {"code", "message", "extra"}


def test_limit_must_be_positive(event):
    from ticketing.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        admission.room_update(event_id=event.id, checkout_limit=0)
