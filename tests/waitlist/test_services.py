"""Joining, leaving and offers (waitlist/services.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone
from django_q.models import OrmQ

from checkout.models import AuditAction, AuditLog, Hold, HoldKind, HoldStatus, SeatInventory, SeatStatus
from checkout.selectors.availability import inventory_version_read
from events.services.venues import SectionSpec
from tests.factories import UserFactory, make_event, make_venue
from tests.waitlist.inventory import expire_hold, free_seats, hold_seats, rows
from ticketing.core.errors import ValidationFailed
from waitlist import services
from waitlist.errors import AlreadyWaiting, SeatsAvailable, SectionNotFound, WaitlistClosed
from waitlist.models import EntryStatus, WaitlistEntry
from waitlist.selectors import entry_position

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold_out():
    """A 2 x 5 seat event whose every seat is held by someone else."""
    event = make_event()
    hold_seats(event)
    return event


def join(event, quantity=1, **kwargs):
    user = kwargs.pop("user", None) or UserFactory()
    return services.waitlist_join(user=user, event_id=event.id, quantity=quantity, **kwargs)


def release(event, *labels):
    seat_ids = free_seats(rows(event, *labels))
    return services.waitlist_seats_released(event_id=event.id, seat_ids=seat_ids, reason="released")


def offered_labels(entry) -> list[str]:
    entry.refresh_from_db()
    qs = SeatInventory.objects.filter(hold=entry.offer_hold).select_related("seat").order_by("seat__position")
    return [f"{r.seat.row_label}{r.seat.label}" for r in qs]


# --- join -------------------------------------------------------------------------------


def test_join_puts_users_in_line_first_come(sold_out):
    first, second, third = join(sold_out), join(sold_out, 3), join(sold_out, 10)
    assert [entry_position(entry=e) for e in (first, second, third)] == [1, 2, 3]
    assert second.status == EntryStatus.WAITING and second.quantity == 3


def test_join_refuses_when_a_seat_is_free(unchanged):
    event = make_event()
    hold_seats(event, rows(event, *[f"A{i}" for i in range(1, 6)], *[f"B{i}" for i in range(1, 5)]))
    user = UserFactory()
    with unchanged(), pytest.raises(SeatsAvailable) as err:
        join(event, user=user)
    assert err.value.extra == {"free": 1}
    assert err.value.status == 409


def test_join_counts_a_seat_of_an_expired_unswept_hold_as_free(unchanged):
    event = make_event()
    now = timezone.now()
    hold_seats(event, expires_at=now - dt.timedelta(seconds=1))
    user = UserFactory()
    with unchanged(), pytest.raises(SeatsAvailable):
        join(event, user=user, now=now)


def test_join_checks_only_the_chosen_section(unchanged):
    venue = make_venue(
        sections=[
            SectionSpec(name="Floor", rows=[("A", 2)]),
            SectionSpec(name="Balcony", rows=[("A", 2)]),
        ]
    )
    event = make_event(venue=venue)
    floor, balcony = venue.sections.order_by("name").reverse()
    hold_seats(event, list(SeatInventory.objects.filter(event=event, section=floor)))

    entry = join(event, section_id=floor.id)

    assert entry.section_id == floor.id
    user = UserFactory()
    with unchanged(), pytest.raises(SeatsAvailable):
        join(event, user=user, section_id=balcony.id)
    with unchanged(), pytest.raises(SeatsAvailable):
        join(event, user=user)


def test_one_active_entry_per_user_per_event(sold_out, user, unchanged):
    join(sold_out, user=user)
    with unchanged(), pytest.raises(AlreadyWaiting):
        join(sold_out, 2, user=user)


def test_user_can_join_again_after_leaving(sold_out, user):
    entry = join(sold_out, user=user)
    services.waitlist_leave(user=user, entry_id=entry.id)
    again = join(sold_out, user=user)
    assert again.id > entry.id and entry_position(entry=again) == 1


@pytest.mark.parametrize("quantity", [0, 11])
def test_join_quantity_is_1_to_10(sold_out, quantity, user, unchanged):
    with unchanged(), pytest.raises(ValidationFailed):
        join(sold_out, quantity, user=user)


def test_join_needs_an_event_on_sale(user, unchanged):
    draft = make_event(publish=False)
    with unchanged(), pytest.raises(WaitlistClosed):
        join(draft, user=user)


def test_join_refuses_a_section_of_another_venue(sold_out, user, unchanged):
    other = make_venue()
    with unchanged(), pytest.raises(SectionNotFound):
        join(sold_out, user=user, section_id=other.sections.get().id)


# --- leave ------------------------------------------------------------------------------


def test_leave_moves_the_line_up(sold_out):
    first, second = join(sold_out), join(sold_out)
    services.waitlist_leave(user=first.user, entry_id=first.id)
    first.refresh_from_db()
    assert first.status == EntryStatus.LEFT and first.ended_at is not None
    assert entry_position(entry=second) == 1


def test_leaving_twice_changes_nothing(sold_out):
    entry = join(sold_out)
    services.waitlist_leave(user=entry.user, entry_id=entry.id)
    ended_at = WaitlistEntry.objects.get(pk=entry.pk).ended_at
    services.waitlist_leave(user=entry.user, entry_id=entry.id)
    assert WaitlistEntry.objects.get(pk=entry.pk).ended_at == ended_at


# --- offers -----------------------------------------------------------------------------


def test_released_seats_go_to_the_first_entry_whose_quantity_fits(sold_out):
    pair, single = join(sold_out, 2), join(sold_out, 1)

    offers = release(sold_out, "A3")

    assert [o.entry_id for o in offers] == [single.id]
    single.refresh_from_db()
    pair.refresh_from_db()
    assert single.status == EntryStatus.OFFERED and offered_labels(single) == ["A3"]
    assert pair.status == EntryStatus.WAITING and entry_position(entry=pair) == 1

    offers = release(sold_out, "B1", "B2")
    assert [o.entry_id for o in offers] == [pair.id]
    assert offered_labels(pair) == ["B1", "B2"]


def test_offer_is_an_offer_hold_with_its_own_window(sold_out, settings):
    settings.TICKETING_OFFER_SECONDS = 123
    entry = join(sold_out)
    now = timezone.now()
    free_seats(rows(sold_out, "A1"))
    version = inventory_version_read(event_id=sold_out.id)

    (offer,) = services.waitlist_seats_released(event_id=sold_out.id, seat_ids=[], reason="released", now=now)

    hold = Hold.objects.get(pk=offer.hold_id)
    assert (hold.kind, hold.status, hold.user_id) == (HoldKind.OFFER, HoldStatus.ACTIVE, entry.user_id)
    assert hold.expires_at == now + dt.timedelta(seconds=123)
    row = rows(sold_out, "A1")[0]
    assert (row.status, row.hold_id, row.hold_expires_at) == (SeatStatus.HELD, hold.id, hold.expires_at)
    assert inventory_version_read(event_id=sold_out.id) == version + 1
    audit = AuditLog.objects.get(action=AuditAction.OFFER_CREATED)
    assert (audit.hold_id_ref, audit.actor_id, audit.data["seat_ids"]) == (
        hold.id,
        entry.user_id,
        [row.seat_id],
    )
    entry.refresh_from_db()
    assert (entry.status, entry.offer_hold_id, entry.offered_at) == (EntryStatus.OFFERED, hold.id, now)


def test_offer_prefers_adjacent_seats(sold_out):
    entry = join(sold_out, 2)
    release(sold_out, "A1", "A3", "B4", "B5")
    assert offered_labels(entry) == ["B4", "B5"]


def test_offer_falls_back_to_separate_seats_when_none_are_adjacent(sold_out):
    entry = join(sold_out, 2)
    release(sold_out, "A1", "A3")
    assert offered_labels(entry) == ["A1", "A3"]


def test_one_release_can_serve_several_entries_in_order(sold_out):
    a, b, c = join(sold_out, 2), join(sold_out, 2), join(sold_out, 2)
    offers = release(sold_out, "A1", "A2", "A3", "A4")
    assert [o.entry_id for o in offers] == [a.id, b.id]
    c.refresh_from_db()
    assert c.status == EntryStatus.WAITING


def test_no_offers_once_the_event_stopped_selling(sold_out):
    entry = join(sold_out)
    seat_ids = free_seats(rows(sold_out, "A1"))
    after_start = sold_out.starts_at + dt.timedelta(minutes=1)
    assert (
        services.waitlist_seats_released(
            event_id=sold_out.id, seat_ids=seat_ids, reason="released", now=after_start
        )
        == []
    )
    entry.refresh_from_db()
    assert entry.status == EntryStatus.WAITING


def test_no_waitlist_means_seats_simply_come_back(django_assert_max_num_queries):
    event = make_event()
    hold_seats(event)
    seat_ids = free_seats(rows(event, "A1"))
    with django_assert_max_num_queries(1):
        assert services.waitlist_seats_released(event_id=event.id, seat_ids=seat_ids, reason="released") == []
    assert rows(event, "A1")[0].status == SeatStatus.AVAILABLE


def test_offer_run_query_budget(sold_out, django_assert_max_num_queries):
    join(sold_out, 2)
    seat_ids = free_seats(rows(sold_out, "A1", "A2"))
    # About 10 fixed reads and locks, plus ~12 per offer (checkout's claim: its savepoints,
    # hold, seats, version, audit; then the entry).
    with django_assert_max_num_queries(24):
        services.waitlist_seats_released(event_id=sold_out.id, seat_ids=seat_ids, reason="released")


def test_an_offered_seat_is_not_offered_again(sold_out):
    join(sold_out)
    second = join(sold_out)
    release(sold_out, "A1")
    assert services.waitlist_seats_released(event_id=sold_out.id, seat_ids=[], reason="released") == []
    second.refresh_from_db()
    assert second.status == EntryStatus.WAITING


def test_a_user_who_is_buying_already_keeps_their_place():
    event = make_event()
    buyer_user = UserFactory()
    hold_seats(event, rows(event, "B5"), user=buyer_user)  # a live hold of their own (one per event)
    hold_seats(event)
    buyer, other = join(event, user=buyer_user), join(event)
    release(event, "A1")
    buyer.refresh_from_db()
    other.refresh_from_db()
    assert (buyer.status, other.status) == (EntryStatus.WAITING, EntryStatus.OFFERED)
    assert entry_position(entry=buyer) == 1


def test_a_lapsed_offer_passes_to_the_next_entry(sold_out):
    first, second = join(sold_out), join(sold_out)
    release(sold_out, "A1")
    first.refresh_from_db()

    # The sweeper expires the offer hold and announces the seats.
    seat_ids = expire_hold(first.offer_hold)
    offers = services.waitlist_seats_released(event_id=sold_out.id, seat_ids=seat_ids, reason="expired")

    first.refresh_from_db()
    assert first.status == EntryStatus.LAPSED and first.ended_at is not None
    assert [o.entry_id for o in offers] == [second.id]
    assert offered_labels(second) == ["A1"]
    # Exactly one audit row for the lapse, written by the transaction that ended the hold.
    assert (
        AuditLog.objects.filter(hold_id_ref=first.offer_hold_id)
        .exclude(action=AuditAction.OFFER_CREATED)
        .values_list("action", flat=True)
        .get()
        == AuditAction.OFFER_LAPSED
    )


def test_a_bought_offer_settles_as_fulfilled(sold_out):
    entry = join(sold_out)
    release(sold_out, "A1")
    entry.refresh_from_db()
    Hold.objects.filter(pk=entry.offer_hold_id).update(status=HoldStatus.CONVERTED, ended_at=timezone.now())

    release(sold_out, "A2")

    entry.refresh_from_db()
    assert entry.status == EntryStatus.FULFILLED


def test_leaving_with_an_offer_declines_it_and_the_next_entry_gets_the_seats(
    sold_out, django_capture_on_commit_callbacks
):
    first, second = join(sold_out), join(sold_out)
    release(sold_out, "A1")

    with django_capture_on_commit_callbacks(execute=True):
        services.waitlist_leave(user=first.user, entry_id=first.id)

    first.refresh_from_db()
    assert first.status == EntryStatus.LEFT
    assert first.offer_hold.status == HoldStatus.RELEASED
    second.refresh_from_db()
    assert second.status == EntryStatus.OFFERED and offered_labels(second) == ["A1"]


def test_offer_emails_the_user(sold_out, mailoutbox):
    from waitlist.tasks import offer_email_send

    entry = join(sold_out)
    release(sold_out, "A4")

    assert offer_email_send(entry.id) is True
    (mail,) = mailoutbox
    assert mail.to == [entry.user.email]
    assert "row A seat 4" in mail.body and f"/events/{sold_out.id}/" in mail.body


def test_offer_email_is_skipped_once_the_offer_ended(sold_out, mailoutbox):
    from waitlist.tasks import offer_email_send

    entry = join(sold_out)
    release(sold_out, "A4")
    services.waitlist_leave(user=entry.user, entry_id=entry.id)
    assert offer_email_send(entry.id) is False
    assert mailoutbox == []


def test_offer_announcements_run_only_after_commit(sold_out, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "ticketing.core.realtime.push", lambda group, message: sent.append((group, message["type"]))
    )
    waiting = join(sold_out)
    join(sold_out)
    seat_ids = free_seats(rows(sold_out, "A1"))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.waitlist_seats_released(event_id=sold_out.id, seat_ids=seat_ids, reason="released")
    assert sent == []
    for callback in callbacks:
        callback()

    assert (f"user-{waiting.user_id}", "waitlist.offer") in sent
    assert OrmQ.objects.count() == 1  # the offer e-mail, queued for the worker
    assert (f"waitlist-{sold_out.id}", "waitlist.moved") in sent
    assert (f"event-{sold_out.id}", "seats.update") in sent


def test_seats_of_an_expired_unswept_hold_are_offered_and_the_hold_retired():
    event = make_event()
    now = timezone.now()
    (stale,) = hold_seats(
        event, rows(event, "A3"), user=UserFactory(), expires_at=now + dt.timedelta(minutes=1)
    )
    hold_seats(event)
    entry = join(event, 2)
    later = now + dt.timedelta(minutes=2)  # A3's hold has expired; the sweeper has not run

    seat_ids = free_seats(rows(event, "A4"))
    (offer,) = services.waitlist_seats_released(
        event_id=event.id, seat_ids=seat_ids, reason="released", now=later
    )

    assert offered_labels(entry) == ["A3", "A4"]
    stale.refresh_from_db()
    assert (stale.status, stale.ended_at) == (HoldStatus.EXPIRED, later)
    # One row for its end, written by the offer's own claim.
    assert list(
        AuditLog.objects.filter(hold_id_ref=stale.id)
        .exclude(action=AuditAction.HOLD_CREATED)
        .values_list("action", flat=True)
    ) == [AuditAction.HOLD_EXPIRED]
    assert offer.expires_at == later + dt.timedelta(seconds=settings.TICKETING_OFFER_SECONDS)


def test_buying_an_offer_settles_the_entry_as_fulfilled(sold_out, django_capture_on_commit_callbacks):
    from checkout import payments
    from checkout.services.orders import order_purchase

    entry = join(sold_out)
    release(sold_out, "A1")
    entry.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        order_purchase(
            user=entry.user,
            hold_id=entry.offer_hold_id,
            buyer_name="Ada",
            buyer_email="ada@example.com",
            card_number=payments.CARD_APPROVE,
            idempotency_key="k",
        )

    entry.refresh_from_db()
    assert entry.status == EntryStatus.FULFILLED and entry.ended_at is not None
