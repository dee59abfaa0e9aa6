"""checkout/services/holds.py: claims, best available, extend, release, expiry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from checkout.errors import (
    ExtensionLimit,
    HoldExists,
    HoldExpired,
    HoldNotFound,
    SalesClosed,
    SeatsNotFound,
    SeatsUnavailable,
    TooManySeats,
)
from checkout.models import AuditLog, Hold, HoldStatus, InventoryVersion, SeatInventory
from checkout.services import holds
from checkout.services.best_available import Spot, best_blocks
from checkout.services.holds import hold_claim_seats, hold_create
from events.services.venues import SectionSpec
from tests.checkout.conftest import seat_ids
from tests.factories import UserFactory, make_event, make_venue
from ticketing.core.errors import ValidationFailed
from ticketing.core.locks import lock_rows

pytestmark = pytest.mark.django_db


def held_seats(hold: Hold) -> list[int]:
    return sorted(SeatInventory.objects.filter(hold=hold, status="held").values_list("seat_id", flat=True))


def version_total(event) -> int:
    return sum(InventoryVersion.objects.filter(event=event).values_list("version", flat=True))


def test_hold_named_seats(event, user, django_capture_on_commit_callbacks):
    ids = seat_ids(event)[:3]
    before = version_total(event)
    now = timezone.now()
    with django_capture_on_commit_callbacks() as callbacks:
        hold = hold_create(user=user, event_id=event.id, seat_ids=ids, now=now)
    assert hold.status == HoldStatus.ACTIVE
    assert hold.expires_at == now + dt.timedelta(seconds=300)
    assert held_seats(hold) == sorted(ids)
    rows = SeatInventory.objects.filter(hold=hold)
    assert {r.hold_expires_at for r in rows} == {hold.expires_at}
    assert version_total(event) == before + 1
    assert AuditLog.objects.filter(action="hold_created", hold_id_ref=hold.pk).count() == 1
    assert len(callbacks) == 2  # seats_changed and the holds-created metric, after commit


def test_all_or_nothing_names_the_taken_seats(event, user, inventory_unchanged):
    ids = seat_ids(event)
    hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[1:3])
    with inventory_unchanged() as audit, pytest.raises(SeatsUnavailable) as exc:
        hold_create(user=user, event_id=event.id, seat_ids=ids[:4])
    assert exc.value.extra["seat_ids"] == sorted(ids[1:3])
    assert audit == ["hold_refused"]
    assert AuditLog.objects.get(action="hold_refused").reason == "SEATS_UNAVAILABLE"


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"seat_ids": list(range(1, 12))}, TooManySeats),
        ({"section_id": 1, "quantity": 11}, TooManySeats),
        ({"section_id": 1, "quantity": 0}, ValidationFailed),
        ({"seat_ids": []}, ValidationFailed),
        ({}, ValidationFailed),
    ],
)
def test_bad_requests_write_nothing(event, user, inventory_unchanged, kwargs, error):
    with inventory_unchanged() as audit, pytest.raises(error):
        hold_create(user=user, event_id=event.id, **kwargs)
    assert audit == []


def test_unknown_seat_and_section(event, user, inventory_unchanged):
    other = make_event()
    with inventory_unchanged(), pytest.raises(SeatsNotFound) as exc:
        hold_create(user=user, event_id=event.id, seat_ids=[seat_ids(other)[0]])
    assert exc.value.extra["seat_ids"] == [seat_ids(other)[0]]
    with inventory_unchanged(), pytest.raises(SeatsNotFound):
        hold_create(user=user, event_id=event.id, section_id=other.venue.sections.get().id, quantity=1)


def test_one_live_hold_per_buyer_and_event(event, user, inventory_unchanged):
    first = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1])
    with inventory_unchanged() as audit, pytest.raises(HoldExists) as exc:
        hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[5:6])
    assert exc.value.extra["hold_id"] == first.pk
    assert audit == ["hold_refused"]


def test_own_expired_hold_is_retired_by_the_next_hold(event, user):
    now = timezone.now()
    ids = seat_ids(event)
    old = hold_create(user=user, event_id=event.id, seat_ids=ids[:2], now=now)
    later = now + dt.timedelta(seconds=301)
    new = hold_create(user=user, event_id=event.id, seat_ids=ids[1:3], now=later)
    old.refresh_from_db()
    assert old.status == HoldStatus.EXPIRED and old.ended_at == later
    assert held_seats(new) == sorted(ids[1:3])
    assert SeatInventory.objects.get(seat_id=ids[0], event=event).status == "available"
    assert AuditLog.objects.filter(action="hold_expired", hold_id_ref=old.pk).count() == 1


def test_seat_of_an_expired_hold_is_free_before_the_sweeper(event, user, django_capture_on_commit_callbacks):
    now = timezone.now()
    ids = seat_ids(event)
    other = UserFactory()
    stale = hold_create(user=other, event_id=event.id, seat_ids=ids[:3], now=now)
    later = now + dt.timedelta(seconds=300)  # the expiry instant itself: free
    with django_capture_on_commit_callbacks() as callbacks:
        mine = hold_create(user=user, event_id=event.id, seat_ids=[ids[1]], now=later)
    stale.refresh_from_db()
    assert stale.status == HoldStatus.EXPIRED
    assert held_seats(mine) == [ids[1]]
    # The stale hold's other seats are free again, and announced (changed + released).
    assert set(
        SeatInventory.objects.filter(seat_id__in=[ids[0], ids[2]]).values_list("status", flat=True)
    ) == {"available"}
    assert len(callbacks) == 5  # per hold: seats_changed (+ seats_released) and its metric
    # A second claim by the first buyer works: its expired hold no longer blocks it.
    assert hold_create(user=other, event_id=event.id, seat_ids=[ids[0]], now=later)


def test_sales_window_and_status_are_enforced(user, inventory_unchanged):
    now = timezone.now()
    draft = make_event(publish=False)
    not_yet = make_event(sales_open_at=now + dt.timedelta(days=1))
    closed = make_event(
        sales_close_at=now - dt.timedelta(minutes=1), sales_open_at=now - dt.timedelta(days=1)
    )
    for ev in (draft, not_yet, closed):
        with inventory_unchanged(), pytest.raises(SalesClosed):
            hold_create(user=user, event_id=ev.id, section_id=ev.venue.sections.get().id, quantity=1, now=now)
    started = make_event()
    with pytest.raises(SalesClosed):
        hold_create(user=user, event_id=started.id, seat_ids=seat_ids(started)[:1], now=started.starts_at)


def test_extend_twice_then_limit(event, user, inventory_unchanged):
    now = timezone.now()
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2], now=now)
    for n in (1, 2):
        hold = holds.hold_extend(user=user, hold_id=hold.pk, now=now)
        assert hold.expires_at == now + dt.timedelta(seconds=300 + 300 * n)
        assert set(SeatInventory.objects.filter(hold=hold).values_list("hold_expires_at", flat=True)) == {
            hold.expires_at
        }
    with inventory_unchanged(), pytest.raises(ExtensionLimit):
        holds.hold_extend(user=user, hold_id=hold.pk, now=now)
    assert AuditLog.objects.filter(action="hold_extended").count() == 2


def test_extend_expired_or_foreign_hold(event, user, inventory_unchanged):
    now = timezone.now()
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1], now=now)
    stranger = UserFactory()
    with inventory_unchanged(), pytest.raises(HoldExpired):
        holds.hold_extend(user=user, hold_id=hold.pk, now=now + dt.timedelta(seconds=300))
    with inventory_unchanged(), pytest.raises(HoldNotFound):
        holds.hold_extend(user=stranger, hold_id=hold.pk, now=now)


def test_release_frees_seats_and_is_repeatable(event, user, django_capture_on_commit_callbacks):
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:2])
    with django_capture_on_commit_callbacks() as callbacks:
        released = holds.hold_release(user=user, hold_id=hold.pk)
    assert released.status == HoldStatus.RELEASED
    assert not SeatInventory.objects.filter(hold=hold).exists()
    assert len(callbacks) == 3  # seats_changed + seats_released (waitlist) + metric
    assert holds.hold_release(user=user, hold_id=hold.pk).status == HoldStatus.RELEASED
    assert AuditLog.objects.filter(action="hold_released").count() == 1
    with pytest.raises(HoldNotFound):
        holds.hold_release(user=UserFactory(), hold_id=hold.pk)


def test_sweeper_expires_due_holds_only(event, user):
    now = timezone.now()
    ids = seat_ids(event)
    due = hold_create(user=user, event_id=event.id, seat_ids=ids[:2], now=now - dt.timedelta(seconds=301))
    fresh = hold_create(user=UserFactory(), event_id=event.id, seat_ids=ids[2:3], now=now)
    assert holds.holds_expire_due(now=now) == 1
    due.refresh_from_db()
    fresh.refresh_from_db()
    assert (due.status, fresh.status) == (HoldStatus.EXPIRED, HoldStatus.ACTIVE)
    assert SeatInventory.objects.filter(status="held").count() == 1
    assert holds.holds_expire_due(now=now) == 0


def test_sweeper_leaves_paying_hold_alone_during_its_window(event, user):
    now = timezone.now()
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1], now=now)
    Hold.objects.filter(pk=hold.pk).update(status=HoldStatus.PAYING)
    assert holds.holds_expire_due(now=hold.expires_at - dt.timedelta(microseconds=1)) == 0
    assert holds.holds_expire_due(now=hold.expires_at) == 1


def test_sweeper_frees_seats_left_behind_by_an_ended_hold(event, user):
    now = timezone.now()
    hold = hold_create(user=user, event_id=event.id, seat_ids=seat_ids(event)[:1], now=now)
    Hold.objects.filter(pk=hold.pk).update(status=HoldStatus.EXPIRED, ended_at=now)
    assert SeatInventory.objects.filter(status="held").count() == 1
    holds.holds_expire_due(now=hold.expires_at)
    assert SeatInventory.objects.filter(status="held").count() == 0


def test_hold_claim_seats_creates_an_offer_inside_the_callers_transaction(event, user):
    now = timezone.now()
    ids = seat_ids(event)[:2]
    with transaction.atomic():
        rows = lock_rows(SeatInventory.objects.filter(event=event, seat_id__in=ids))
        offer = hold_claim_seats(
            user=user,
            event=event,
            seats_rows=rows,
            kind="offer",
            expires_at=now + dt.timedelta(minutes=10),
            now=now,
        )
    assert offer.kind == "offer" and held_seats(offer) == sorted(ids)
    assert AuditLog.objects.filter(action="offer_created", hold_id_ref=offer.pk).exists()


# --- best available -------------------------------------------------------------------


def spots(layout: str, rank: int = 0, taken: str = "x") -> list[Spot]:
    """One row from a picture: '.' free, 'x' taken."""
    now = timezone.now()
    return [
        Spot(
            pk=100 * rank + i,
            seat_id=i,
            status="sold" if c == taken else "available",
            hold_expires_at=None,
            row_rank=rank,
            row_label=str(rank),
            position=i,
        )
        for i, c in enumerate(layout)
        if now
    ]


def pick(rows: list[Spot], quantity: int) -> list[int]:
    return best_blocks(rows, quantity, timezone.now())[0]


def test_best_available_prefers_better_rows_and_adjacent_seats():
    # Row 0 has no two seats together; in row 1 the pair on the centre line wins.
    assert pick(spots("x..x......", 1) + spots("x.x.x.", 0), 2) == [104, 105]
    assert pick(spots("..........", 1) + spots("x.x.x.", 0), 1) == [3]


def test_best_available_never_strands_a_single_seat_when_avoidable():
    # Taking seats 1-2 would leave seat 3 alone between taken seats; 3-4... is fine.
    assert pick(spots("x...x....", 0), 2) == [5, 6]
    assert pick(spots("x.....x", 0), 2) == [1, 2]
    # Row 0 can only be used by stranding a seat; a worse row that strands nothing wins.
    assert pick(spots("x...x", 0) + spots("..", 1), 2) == [100, 101]


def test_best_available_splits_only_when_no_row_has_room():
    assert pick(spots(".x.x.", 0) + spots("x.x", 1), 3) == [0, 2, 4]


def test_best_available_hold_in_a_real_section(user):
    venue = make_venue(rows=3, seats_per_row=6)
    ev = make_event(venue=venue)
    section = venue.sections.get()
    hold = hold_create(user=user, event_id=ev.id, section_id=section.id, quantity=4)
    rows = SeatInventory.objects.filter(hold=hold).select_related("seat").order_by("seat__position")
    assert {r.seat.row_rank for r in rows} == {0}
    assert [r.seat.position for r in rows] == [0, 1, 2, 3]


def test_best_available_sold_out_only_when_not_enough_free(user, inventory_unchanged):
    venue = make_venue(sections=[SectionSpec(name="Box", rows=[("A", 3)])])
    ev = make_event(venue=venue)
    section = venue.sections.get()
    hold_create(user=UserFactory(), event_id=ev.id, section_id=section.id, quantity=2)
    with inventory_unchanged(), pytest.raises(SeatsUnavailable) as exc:
        hold_create(user=user, event_id=ev.id, section_id=section.id, quantity=2)
    assert exc.value.extra["available"] == 1
    assert hold_create(user=user, event_id=ev.id, section_id=section.id, quantity=1)


def test_query_budget_of_a_hold(event, user, django_assert_max_num_queries):
    ids, other, section_id = seat_ids(event)[:4], UserFactory(), event.venue.sections.get().id
    # Savepoint, event, seats, own holds, hold, seats held, version + audit, release.
    with django_assert_max_num_queries(8):
        hold_create(user=user, event_id=event.id, seat_ids=ids)
    # The first best-available hold of a section in a process also reads its seat layout; a
    # block of several seats is tried in a savepoint.
    with django_assert_max_num_queries(12):
        hold_create(user=other, event_id=event.id, section_id=section_id, quantity=4)
    third = UserFactory()
    with django_assert_max_num_queries(9):
        hold_create(user=third, event_id=event.id, section_id=section_id, quantity=1)
