"""Races of the waiting room on real PostgreSQL connections (threads, ``transaction=True``).

Each race has bounded loops and no sleeps; time moves through a shared fake clock that every
call reads, so turns and holds expire during the run without waiting for them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
from collections import Counter

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from checkout.errors import HoldExists, QueueRequired
from checkout.models import AdmissionPass, Hold, PassState, WaitingRoom
from checkout.selectors import admission as admission_selectors
from checkout.services import admission, hooks
from checkout.services.holds import hold_create, hold_release, holds_expire_due
from tests.checkout.conftest import race, retry_busy, seat_ids
from tests.factories import UserFactory, make_venue
from tests.waitlist.conftest import room_event, wait_until_admitted
from ticketing.core import sql
from waitlist import queue_joins, queue_services
from waitlist.models import EventQueue, QueueEntry

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]


def oks(results) -> list:
    return [value for kind, value in results if kind == "ok"]


def errors_of(results) -> Counter:
    return Counter(type(value).__name__ for kind, value in results if kind == "error")


def test_500_buyers_join_at_once_and_get_500_distinct_numbers_without_gaps(big_pool):
    event = room_event(200, paused=True)
    users = [UserFactory() for _ in range(500)]
    # 50 connections, 10 buyers each, all released by one barrier: 500 joins in flight at once.
    chunks = [users[i::50] for i in range(50)]
    results = race(
        [
            lambda chunk=chunk: [
                retry_busy(lambda u=u: queue_services.queue_join(user=u, event_id=event.id))() for u in chunk
            ]
            for chunk in chunks
        ]
    )
    assert errors_of(results) == Counter()
    views = [joined.view for chunk in oks(results) for joined in chunk]
    assert len(views) == 500 and all(v.state == "waiting" for v in views)
    numbers = sorted(QueueEntry.objects.filter(event=event).values_list("number", flat=True))
    assert numbers == list(range(1, 501))
    assert EventQueue.objects.get(event=event).last_number == 500


def test_control_a_read_then_write_sequence_hands_out_one_number_twice(big_pool, monkeypatch):
    """Without ``UPDATE ... RETURNING`` (a read of the counter, then a write) concurrent joins
    read the same number: the deferred unique constraint then refuses some joins at commit.
    Every join reads before any writes (a barrier), so the race happens on every run."""
    event = room_event(200, paused=True)
    buyers = 8
    users = [UserFactory() for _ in range(buyers)]
    everyone_read = threading.Barrier(buyers)

    def read_then_write(*, user_id, event_id, early, now):
        with transaction.atomic():
            number = sql.row(
                "SELECT last_number + 1 FROM waitlist_eventqueue WHERE event_id = %s", [event_id]
            )[0]
            everyone_read.wait(timeout=30)
            sql.execute(
                "UPDATE waitlist_eventqueue SET last_number = %s WHERE event_id = %s", [number, event_id]
            )
            sql.execute(
                "INSERT INTO waitlist_queueentry"
                " (event_id, user_id, number, state, early, joined_at, last_seen_at)"
                " VALUES (%s, %s, %s, 'waiting', %s, %s, %s)",
                [event_id, user_id, number, early, now, now],
            )
        return True

    monkeypatch.setattr(queue_services, "_entry_insert", read_then_write)
    # Every join takes the full path (the batch statement would take its number atomically).
    monkeypatch.setattr(
        queue_joins,
        "joins_simple",
        lambda *, event_id, user_ids, now: [
            queue_joins.BatchJoin(user_id=u, view=None, created=False, admits=False) for u in user_ids
        ],
    )
    results = race([lambda u=u: queue_services.queue_join(user=u, event_id=event.id) for u in users])
    numbers = list(QueueEntry.objects.filter(event=event).values_list("number", flat=True))
    assert errors_of(results)["IntegrityError"] > 0  # the race the atomic sequence prevents
    assert len(numbers) < len(users)


def test_one_buyer_joining_twice_at_once_gets_one_entry(big_pool):
    event = room_event(200, paused=True)
    buyer = UserFactory()
    results = race([lambda: queue_services.queue_join(user=buyer, event_id=event.id) for _ in range(10)])
    joined = oks(results)
    assert len(joined) == 10
    assert [j.created for j in joined].count(True) == 1
    assert {j.view.number for j in joined} == {1}
    assert QueueEntry.objects.filter(event=event).count() == 1
    # The losing joins gave their number back: no gap before the next buyer.
    assert EventQueue.objects.get(event=event).last_number == 1
    assert queue_services.queue_join(user=UserFactory(), event_id=event.id).view.number == 2


def test_one_turn_one_hold_even_when_the_buyer_tries_twice_at_once(big_pool):
    event = room_event(5, venue=make_venue(rows=2, seats_per_row=10))
    buyer = UserFactory()
    with transaction.atomic():
        admission.passes_grant(event_id=event.id, pick=lambda n: [buyer.pk], now=timezone.now())
    seats = seat_ids(event)
    results = race([lambda s=s: hold_create(user=buyer, event_id=event.id, seat_ids=[s]) for s in seats[:8]])
    assert len(oks(results)) == 1
    assert set(errors_of(results)) <= {"QueueRequired", "HoldExists"}
    turn = AdmissionPass.objects.get()
    assert turn.state == PassState.CHECKING_OUT and turn.hold_id == oks(results)[0].pk


def test_a_turn_cannot_be_used_by_other_buyers_racing_for_it(big_pool):
    event = room_event(5, venue=make_venue(rows=2, seats_per_row=10))
    owner, others = UserFactory(), [UserFactory() for _ in range(7)]
    with transaction.atomic():
        admission.passes_grant(event_id=event.id, pick=lambda n: [owner.pk], now=timezone.now())
    seats = seat_ids(event)
    buyers = [owner, *others]
    results = race(
        [
            lambda u=u, s=s: hold_create(user=u, event_id=event.id, seat_ids=[s])
            for u, s in zip(buyers, seats, strict=False)
        ]
    )
    assert [h.user_id for h in oks(results)] == [owner.pk]
    assert errors_of(results) == Counter({"QueueRequired": 7})
    assert Hold.objects.count() == 1


class FakeClock:
    """Every call is 50 ms later than the one before, in every thread."""

    def __init__(self) -> None:
        self.start = timezone.now()
        self.ticks = itertools.count()
        self.lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self.lock:
            return self.start + dt.timedelta(seconds=0.05 * next(self.ticks))


def test_admissions_never_exceed_the_limit_under_completions_expiries_and_staff_changes(
    big_pool, settings, monkeypatch
):
    """Admitters, buyers finishing or abandoning, sweepers and staff (pause, resume, raise the
    limit) all at once; a monitor counts who is checking out under the room's lock each round.

    The limit only rises here: lowering it keeps the turns already given (by design, see
    tests/checkout/test_admission.py), so "count <= limit" is only an invariant for rises.
    """
    settings.TICKETING_WAITING_ROOM_ADMIT_SECONDS = 4
    settings.TICKETING_HOLD_SECONDS = 6
    # Admission happens in the admitter threads here, not in the hooks of the other threads.
    monkeypatch.setitem(hooks._subscribers, hooks.ADMISSION_FREED, [])
    event = room_event(3, paused=True, venue=make_venue(rows=4, seats_per_row=50))
    users = [UserFactory() for _ in range(60)]
    for u in users:
        queue_services.queue_join(user=u, event_id=event.id)
    queue_services.queue_open(event_id=event.id)
    admission.room_update(event_id=event.id, paused=False)
    clock = FakeClock()
    section_id = event.venue.sections.first().id
    snapshots: list[tuple[int, int]] = []
    held: list[int] = []
    refused: list[str] = []

    def admitter():
        for _ in range(25):
            retry_busy(lambda: queue_services.queue_admit_next(event_id=event.id, now=clock()))()

    def buyers(mine: list, seed: int):
        rng = random.Random(seed)
        for _ in range(40):
            now = clock()
            for user in mine:
                if admission_selectors.user_pass(user_id=user.pk, event_id=event.id, now=now) is None:
                    continue
                choice = rng.random()
                if choice < 0.2:
                    continue  # lets the turn lapse
                try:
                    hold = retry_busy(
                        lambda u=user, n=now: hold_create(
                            user=u, event_id=event.id, section_id=section_id, quantity=1, now=n
                        )
                    )()
                except (QueueRequired, HoldExists) as exc:
                    refused.append(type(exc).__name__)
                    continue
                held.append(hold.pk)
                if choice < 0.7:
                    retry_busy(lambda u=user, h=hold: hold_release(user=u, hold_id=h.pk, now=clock()))()
                # else: the hold is left to expire

    def sweeper():
        for _ in range(20):
            retry_busy(lambda: holds_expire_due(now=clock()))()
            retry_busy(lambda: admission.passes_expire_due(now=clock()))()

    def staff():
        for i in range(12):
            if i % 3 == 0:
                admission.room_update(event_id=event.id, paused=True)
            elif i % 3 == 1:
                admission.room_update(event_id=event.id, paused=False)
            else:
                room = WaitingRoom.objects.get(event=event)
                admission.room_update(event_id=event.id, checkout_limit=min(room.checkout_limit + 1, 6))

    def monitor():
        for _ in range(40):
            with transaction.atomic():
                room = WaitingRoom.objects.select_for_update().get(event=event)
                # Read after the lock: later than every grant that committed before it.
                now = clock()
                snapshots.append(
                    (admission_selectors.live_count(event_id=event.id, now=now), room.checkout_limit)
                )

    groups = [users[i::4] for i in range(4)]
    results = race(
        [admitter, admitter, sweeper, staff, monitor]
        + [lambda g=g, i=i: buyers(g, i) for i, g in enumerate(groups)]
    )
    assert errors_of(results) == Counter(), [v for k, v in results if k == "error"]
    over = [(count, limit) for count, limit in snapshots if count > limit]
    assert over == []
    # The race really ran: many turns given, some used and ended, some lapsed.
    states = Counter(AdmissionPass.objects.filter(event=event).values_list("state", flat=True))
    assert AdmissionPass.objects.filter(event=event).count() > 6
    assert held, (refused, states)
    assert states[PassState.DONE] + states[PassState.EXPIRED] > 0
    assert max(count for count, _ in snapshots) > 0


def test_control_without_the_room_lock_grants_overshoot_the_limit(big_pool, monkeypatch):
    """The same grants with the room's lock reduced to a plain read, and every granter made to
    count before any writes: more turns than the limit. This is what the lock prevents."""
    event = room_event(2)
    users = [UserFactory() for _ in range(5)]
    everyone_counted = threading.Barrier(len(users))
    real_count = admission.grant_count
    monkeypatch.setattr(admission, "lock_rows", lambda qs, skip_locked=False: list(qs[:1]))

    def counted(**kwargs):
        value = real_count(**kwargs)
        everyone_counted.wait(timeout=30)
        return value

    monkeypatch.setattr(admission, "grant_count", counted)

    def grant(user):
        with transaction.atomic():
            return admission.passes_grant(event_id=event.id, pick=lambda n: [user.pk], now=timezone.now())

    race([lambda u=u: grant(u) for u in users])
    assert AdmissionPass.objects.filter(event=event).count() > 2


def test_with_the_room_lock_the_same_grants_stop_at_the_limit(big_pool):
    event = room_event(2)
    users = [UserFactory() for _ in range(5)]

    def grant(user):
        with transaction.atomic():
            return admission.passes_grant(event_id=event.id, pick=lambda n: [user.pk], now=timezone.now())

    race([lambda u=u: grant(u) for u in users])
    assert AdmissionPass.objects.filter(event=event).count() == 2


def test_no_integrity_error_leaks_from_double_joins(big_pool):
    """Twenty buyers joining twice each, all at once: forty joins, twenty entries, no errors."""
    event = room_event(200, paused=True)
    users = [UserFactory() for _ in range(20)]
    results = race([lambda u=u: queue_services.queue_join(user=u, event_id=event.id) for u in users * 2])
    assert errors_of(results) == Counter()
    assert sorted(QueueEntry.objects.values_list("number", flat=True)) == list(range(1, 21))
    assert not any(isinstance(v, IntegrityError) for _, v in results)


def test_a_join_does_not_wait_for_a_running_admission_and_is_admitted_right_after_it(settings):
    """Another admission holds the room's row (on its own connection) while a buyer joins with
    a slot free: the join answers without waiting for it, and the retry admits the buyer once
    that admission commits. Thousands of joins queueing on that row was a 60 s join at the
    benchmark's opening."""
    settings.TICKETING_WAITING_ROOM_ADMIT_RETRY_MS = 20
    event = room_event(5)
    buyer = UserFactory()
    locked, release, joined = threading.Event(), threading.Event(), threading.Event()

    def admission_running():
        with transaction.atomic():
            list(WaitingRoom.objects.select_for_update().filter(event_id=event.id))
            locked.set()
            # Held until the join has answered: if the join waited for this row, it never would.
            joined.wait(timeout=30)
            release.wait(timeout=30)
        connection.close()

    holder = threading.Thread(target=admission_running)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        view = queue_services.queue_join(user=buyer, event_id=event.id).view
        joined.set()
        assert view.state == "waiting"
        assert QueueEntry.objects.get(user=buyer).state == "waiting"
    finally:
        joined.set()
        release.set()
        holder.join(timeout=30)
    # The retry runs 20 ms after the join, then waits for the row.
    assert wait_until_admitted(QueueEntry.objects.get(user=buyer)).state == "admitted"


def test_control_a_join_that_waits_for_the_room_row_blocks_until_the_admission_ends(settings):
    """The unguarded form (``TICKETING_WAITING_ROOM_ADMIT_RETRY_MS = 0``: admit inline, waiting
    for the row) does wait: the join cannot answer while the other admission runs."""
    event = room_event(5)
    buyer = UserFactory()
    locked, release = threading.Event(), threading.Event()
    answered = threading.Event()

    def admission_running():
        with transaction.atomic():
            list(WaitingRoom.objects.select_for_update().filter(event_id=event.id))
            locked.set()
            release.wait(timeout=30)
        connection.close()

    def join():
        queue_services.queue_join(user=buyer, event_id=event.id)
        answered.set()
        connection.close()

    holder = threading.Thread(target=admission_running)
    holder.start()
    assert locked.wait(timeout=30)
    joiner = threading.Thread(target=join)
    joiner.start()
    try:
        # Bounded wait for something that must not happen while the row is held.
        assert not answered.wait(timeout=1.0)
    finally:
        release.set()
        holder.join(timeout=30)
        joiner.join(timeout=30)
    assert answered.is_set()
    assert QueueEntry.objects.get(user=buyer).state == "admitted"


def _admit_while_first_entry_is_being_checked_in(event) -> list[int]:
    """Numbers 1-3 wait (limit 2, paused); while number 1's row is locked by a check-in on
    another connection, the room resumes and admits. Returns the numbers admitted, in the order
    of their grants (their passes' ids)."""
    users = [UserFactory() for _ in range(3)]
    for user in users:
        queue_services.queue_join(user=user, event_id=event.id)
    first = QueueEntry.objects.get(user=users[0])
    locked, release = threading.Event(), threading.Event()

    def check_in_running():
        with transaction.atomic():
            QueueEntry.objects.filter(pk=first.pk).update(last_seen_at=timezone.now())
            locked.set()
            release.wait(timeout=30)
        connection.close()

    def resume():
        admission.room_update(event_id=event.id, paused=False)
        connection.close()

    holder = threading.Thread(target=check_in_running)
    holder.start()
    assert locked.wait(timeout=30)
    admitter = threading.Thread(target=resume)
    admitter.start()
    admitter.join(timeout=0.5)  # bounded: long enough for an admission that does not wait
    release.set()
    holder.join(timeout=30)
    admitter.join(timeout=30)
    admitted = QueueEntry.objects.filter(event=event, state="admitted").order_by("admission_pass_id")
    return list(admitted.values_list("number", flat=True))


def test_an_entry_being_checked_in_is_waited_for_not_overtaken(big_pool):
    event = room_event(2, paused=True)
    assert _admit_while_first_entry_is_being_checked_in(event) == [1, 2]


def test_control_skipping_locked_entries_lets_a_higher_number_in_first(big_pool, monkeypatch):
    from ticketing.core import locks

    real = locks.lock_rows_sql
    monkeypatch.setattr(
        queue_services, "lock_rows_sql", lambda **kwargs: real(**{**kwargs, "skip_locked": True})
    )
    event = room_event(2, paused=True)
    # Number 1 is passed over: 2 is let in ahead of it.
    assert _admit_while_first_entry_is_being_checked_in(event) == [2]
