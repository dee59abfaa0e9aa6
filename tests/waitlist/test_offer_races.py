"""Offer runs racing each other and regular buyers, on real concurrent connections."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from checkout.errors import SeatsUnavailable
from checkout.models import Hold, HoldKind, SeatInventory, SeatStatus
from checkout.services import holds
from checkout.services.holds import hold_create, hold_release
from tests.factories import UserFactory, make_event
from tests.waitlist.inventory import free_seats, hold_seats, rows
from waitlist import services
from waitlist.models import EntryStatus, WaitlistEntry

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]
WAIT = 30  # seconds: a deadline against hanging, not a timing assertion


def concurrently(*calls):
    """Run the calls in threads started together; returns (results, errors) in call order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait(timeout=WAIT)
            results[i] = call()
        except Exception as exc:
            errors[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 4)
    return results, errors


@pytest.fixture
def waiting_for_pairs(settings):
    """A sold-out event, three entries waiting for 2 seats each, and A1-A3 just released."""
    # Generous: the loser of a race waits for the winner's commit on a loaded machine.
    settings.TICKETING_LOCK_TIMEOUT_MS = WAIT * 1000
    event = make_event()
    hold_seats(event)
    entries = [services.waitlist_join(user=UserFactory(), event_id=event.id, quantity=2) for _ in range(3)]
    seat_ids = free_seats(rows(event, "A1", "A2", "A3"))
    return event, entries, seat_ids


def release_run(event, seat_ids):
    return lambda: services.waitlist_seats_released(event_id=event.id, seat_ids=seat_ids, reason="released")


def test_two_releases_at_once_never_offer_a_seat_twice(waiting_for_pairs, monkeypatch):
    event, entries, seat_ids = waiting_for_pairs
    seen: list[list[int]] = []
    monkeypatch.setattr(services, "_after_candidates_locked", seen.append)

    results, errors = concurrently(release_run(event, seat_ids), release_run(event, seat_ids))

    assert errors == [None, None]
    offers = [o for r in results for o in r]
    assert len(offers) == 1 and offers[0].entry_id == entries[0].id
    # The run that went second saw only the seat the first one left.
    assert sorted(len(s) for s in seen) == [1, 3]
    held = SeatInventory.objects.filter(event=event, seat_id__in=seat_ids, status=SeatStatus.HELD)
    assert held.count() == 2 and held.values("hold").distinct().count() == 1
    assert Hold.objects.filter(event=event, kind=HoldKind.OFFER).count() == 1
    assert WaitlistEntry.objects.filter(event=event, status=EntryStatus.OFFERED).count() == 1


def test_control_without_the_locks_both_runs_pick_the_same_seats(waiting_for_pairs, monkeypatch):
    """The race is real: unlocked, both runs read the same free seats for the same entry."""
    event, _entries, seat_ids = waiting_for_pairs
    both_read = threading.Barrier(2)
    seen: list[list[int]] = []

    def record_then_wait(ids):
        seen.append(ids)
        both_read.wait(timeout=WAIT)

    monkeypatch.setattr(services, "_waitlist_lock", lambda **kwargs: None)
    # The offer run locks its candidate seats through checkout's seats_lock_free.
    monkeypatch.setattr(holds, "lock_rows", lambda qs, skip_locked=False, **kw: list(qs))
    monkeypatch.setattr(services, "_after_candidates_locked", record_then_wait)

    results, errors = concurrently(release_run(event, seat_ids), release_run(event, seat_ids))

    assert errors == [None, None]
    assert len(seen) == 2 and seen[0] == seen[1] == sorted(seat_ids)
    # Checkout's one-live-hold-per-user constraint turns the second offer to the first entry
    # away, but the loser then offers the seats it read as free to the next entry: two
    # offers for the same seats (the first offer hold silently loses them).
    first, second = (o for r in results for o in r)
    assert set(first.seat_ids) & set(second.seat_ids)


def test_two_real_releases_at_once_never_offer_a_seat_twice(settings):
    """Two buyers release their holds at the same moment; each release's after-commit hook
    runs an offer run over every free seat of the event."""
    settings.TICKETING_LOCK_TIMEOUT_MS = WAIT * 1000
    event = make_event()
    hold_seats(event)
    entries = [services.waitlist_join(user=UserFactory(), event_id=event.id, quantity=1) for _ in range(3)]
    released = rows(event, "A1", "A2")
    a1, a2 = (Hold.objects.select_related("user").get(pk=r.hold_id) for r in released)

    _results, errors = concurrently(
        lambda: hold_release(user=a1.user, hold_id=a1.id), lambda: hold_release(user=a2.user, hold_id=a2.id)
    )

    assert errors == [None, None]
    offered = WaitlistEntry.objects.filter(event=event, status=EntryStatus.OFFERED).order_by("id")
    assert [e.id for e in offered] == [entries[0].id, entries[1].id]
    # Every offer hold holds exactly its one seat; the two seats went to two different offers.
    for entry in offered:
        assert SeatInventory.objects.filter(hold=entry.offer_hold, status=SeatStatus.HELD).count() == 1
    freed = SeatInventory.objects.filter(pk__in=[r.pk for r in released])
    assert {r.hold_id for r in freed} == {e.offer_hold_id for e in offered}
    assert Hold.objects.filter(event=event, kind=HoldKind.OFFER).count() == 2


def test_an_offer_and_a_regular_buyer_never_both_get_a_seat(settings):
    settings.TICKETING_LOCK_TIMEOUT_MS = WAIT * 1000
    event = make_event()
    hold_seats(event)
    entry = services.waitlist_join(user=UserFactory(), event_id=event.id, quantity=2)
    pair = rows(event, "B1", "B2")
    free_seats(pair)
    buyer = UserFactory()

    def buy():
        # Checkout's own hold, racing the offer run for the same two seats.
        try:
            return hold_create(user=buyer, event_id=event.id, seat_ids=[r.seat_id for r in pair])
        except SeatsUnavailable:
            return None

    (bought, offers), errors = concurrently(buy, release_run(event, [r.seat_id for r in pair]))

    assert errors == [None, None]
    holders = set(SeatInventory.objects.filter(pk__in=[r.pk for r in pair]).values_list("hold_id", flat=True))
    assert len(holders) == 1
    entry.refresh_from_db()
    if bought is not None:
        assert holders == {bought.id} and offers == [] and entry.status == EntryStatus.WAITING
    else:
        assert holders == {offers[0].hold_id} and entry.status == EntryStatus.OFFERED
