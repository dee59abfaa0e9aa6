"""Waitlist writes: join, leave, and offering released seats first come, first served.

Lock order, everywhere: the event's ``EventWaitlist`` row, then holds, then seat inventory
rows (pk order, via ``ticketing.core.locks``), then waitlist entries. Checkout never takes the
waitlist row, so it never waits on it while holding holds or seats. Inventory is checkout's
alone: free seats are locked with ``seats_lock_free``, offers claimed with
``hold_claim_seats(kind="offer")`` and declined with ``holds_end``, so offers follow every
rule of regular holds (versions, audit, pushes). Checkout calls back through the hooks this
app subscribes to in ``waitlist/apps.py`` (released seats, a bought offer, a cancelled event).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from checkout.models import LIVE_HOLD_STATUSES, Hold, HoldKind, HoldStatus, SeatInventory
from checkout.selectors.availability import free_seat_count
from checkout.services.holds import hold_claim_seats, holds_end, seats_lock_free
from events.errors import EventNotFound
from events.models import Event, Section
from ticketing.core import realtime
from ticketing.core.errors import ApplicationError, ValidationFailed
from ticketing.core.locks import busy_on_lock_timeout, lock_one, lock_rows, set_lock_timeout
from ticketing.ops import metrics
from waitlist.errors import AlreadyWaiting, EntryNotFound, SeatsAvailable, SectionNotFound, WaitlistClosed
from waitlist.models import MAX_WAITLIST_QUANTITY, EntryStatus, EventWaitlist, WaitlistEntry
from waitlist.selectors import entry_position

logger = logging.getLogger(__name__)

# Free seats considered by one offer run; a sold-out event with a waitlist has few.
OFFER_CANDIDATE_LIMIT = 2000
# Waiting entries looked at by one offer run; the rest wait for the next release.
OFFER_ENTRY_SCAN_LIMIT = 500


def _waitlist_lock(*, event_id: int) -> None:
    """Lock the event's waitlist row (creating it first); serialises waitlist writes per event."""
    EventWaitlist.objects.bulk_create([EventWaitlist(event_id=event_id)], ignore_conflicts=True)
    lock_one(EventWaitlist.objects.filter(event_id=event_id))


def waitlist_join(
    *,
    user,
    event_id: int,
    quantity: int,
    section_id: int | None = None,
    now: dt.datetime | None = None,
) -> WaitlistEntry:
    """Put ``user`` in line for ``quantity`` seats of an event (in ``section_id`` if given).

    Raises ``EventNotFound``, ``SectionNotFound``, ``ValidationFailed`` (quantity),
    ``WaitlistClosed`` (event not selling), ``AlreadyWaiting`` (an active entry exists),
    ``SeatsAvailable`` (there are seats to buy now; expired holds count as free), ``Busy``.
    """
    now = now or timezone.now()
    if not 1 <= quantity <= MAX_WAITLIST_QUANTITY:
        raise ValidationFailed(
            gettext("quantity: wait for 1 to %(most)s seats.") % {"most": MAX_WAITLIST_QUANTITY}
        )
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise EventNotFound()
    if section_id is not None and not Section.objects.filter(pk=section_id, venue_id=event.venue_id).exists():
        raise SectionNotFound()
    if not event.sales_open(now):
        raise WaitlistClosed()
    with transaction.atomic():
        set_lock_timeout()
        _waitlist_lock(event_id=event_id)
        if WaitlistEntry.objects.filter(
            user=user, event_id=event_id, status__in=[EntryStatus.WAITING, EntryStatus.OFFERED]
        ).exists():
            raise AlreadyWaiting()
        # Read after taking the waitlist lock: a release that committed before is seen here,
        # and one that commits later runs its offer after we commit, and sees this entry.
        free = free_seat_count(event_id=event_id, section_id=section_id, now=now)
        if free:
            raise SeatsAvailable(extra={"free": free})
        entry = WaitlistEntry.objects.create(
            event_id=event_id,
            section_id=section_id,
            user=user,
            quantity=quantity,
            created_at=now,
            updated_at=now,
        )
        position = entry_position(entry=entry)
        transaction.on_commit(
            partial(
                realtime.user_notify,
                user_id=user.pk,
                message={
                    "type": "waitlist.joined",
                    "event_id": event_id,
                    "entry_id": entry.pk,
                    "quantity": quantity,
                    "section_id": section_id,
                    "position": position,
                },
            )
        )
    return entry


def waitlist_leave(*, user, entry_id: int, now: dt.datetime | None = None) -> WaitlistEntry:
    """Take ``user``'s entry out of line; an open offer is declined and its seats go to the next.

    Leaving an entry that already ended changes nothing. Raises ``EntryNotFound`` (not the
    user's), ``Busy``.
    """
    now = now or timezone.now()
    entry = WaitlistEntry.objects.filter(pk=entry_id, user=user).first()
    if entry is None:
        raise EntryNotFound()
    with transaction.atomic():
        set_lock_timeout()
        _waitlist_lock(event_id=entry.event_id)
        if entry.offer_hold_id:
            # Hold and seats before the entry (the lock order); the offer may have ended meanwhile.
            # The freed seats are announced, and offered to the next in line, after commit.
            _offer_hold_release(hold_id=entry.offer_hold_id, user=user, now=now)
        entry = lock_one(WaitlistEntry.objects.filter(pk=entry_id))
        if entry.status not in (EntryStatus.WAITING, EntryStatus.OFFERED):
            return entry
        was_waiting = entry.status == EntryStatus.WAITING
        entry.status = EntryStatus.LEFT
        entry.ended_at = entry.updated_at = now
        entry.save(update_fields=["status", "ended_at", "updated_at"])
        event_id = entry.event_id
        if was_waiting:
            transaction.on_commit(partial(waitlist_moved, event_id=event_id, left_entry_ids=[entry.pk]))
        transaction.on_commit(
            partial(
                realtime.user_notify,
                user_id=user.pk,
                message={"type": "waitlist.left", "event_id": event_id, "entry_id": entry.pk},
            )
        )
    return entry


@dataclass(frozen=True)
class Offer:
    entry_id: int
    user_id: int
    hold_id: int
    seat_ids: list[int]
    expires_at: dt.datetime


def waitlist_seats_released(
    *, event_id: int, seat_ids: list[int], reason: str, now: dt.datetime | None = None
) -> list[Offer]:
    """Offer the event's free seats to waiting entries, first come first served.

    Runs after a release committed (expired or released hold, cancellation, lapsed offer).
    Settles offers whose hold ended (bought -> fulfilled, otherwise lapsed), then walks the
    line in order: the first entry whose quantity fits the free seats (of its section, if
    chosen; adjacent seats when possible) gets them as an offer hold lasting
    ``TICKETING_OFFER_SECONDS``; later entries may fit what is left. Entries that do not
    fit keep their place. With nobody waiting, seats simply stay free.

    Every seat free at ``now`` is a candidate, including seats of expired holds the sweeper
    has not reached: checkout's ``hold_claim_seats`` retires such a hold (expired, audited,
    its other seats freed and announced) in the same transaction as the offer.
    ``seat_ids`` says what triggered the run; every free seat of the event is considered.
    Raises ``Busy`` when the waitlist lock could not be had in time.
    """
    now = now or timezone.now()
    if not WaitlistEntry.objects.filter(
        event_id=event_id, status__in=[EntryStatus.WAITING, EntryStatus.OFFERED]
    ).exists():
        return []
    offers: list[Offer] = []
    with transaction.atomic():
        set_lock_timeout()
        _waitlist_lock(event_id=event_id)
        _offers_settle(event_id=event_id, now=now)
        waiting = list(
            WaitlistEntry.objects.filter(event_id=event_id, status=EntryStatus.WAITING)
            .select_related("user")
            .order_by("id")[:OFFER_ENTRY_SCAN_LIMIT]
        )
        if not waiting:
            return []
        event = Event.objects.get(pk=event_id)
        if not event.sales_open(now):
            # Cancelled, started or closed: nothing to sell, so nothing to offer.
            return []
        pool = seats_lock_free(event_id=event_id, now=now, limit=OFFER_CANDIDATE_LIMIT)
        _after_candidates_locked([r.seat_id for r in pool])
        busy_users = set(
            Hold.objects.filter(
                event_id=event_id,
                status__in=LIVE_HOLD_STATUSES,
                expires_at__gt=now,
                user_id__in=[e.user_id for e in waiting],
            ).values_list("user_id", flat=True)
        )
        expires_at = now + dt.timedelta(seconds=settings.TICKETING_OFFER_SECONDS)
        for entry in waiting:
            if not pool:
                break
            if entry.user_id in busy_users:
                # One live hold per buyer per event: they are buying already; keep their place.
                continue
            offer, pool = _offer_to(entry=entry, event=event, pool=pool, expires_at=expires_at, now=now)
            if offer is not None:
                offers.append(offer)
        if offers:
            transaction.on_commit(partial(_offers_announce, event_id=event_id, offers=offers))
            transaction.on_commit(partial(metrics.waitlist_offer, outcome="sent", count=len(offers)))
    return offers


def _offer_to(
    *,
    entry: WaitlistEntry,
    event: Event,
    pool: list[SeatInventory],
    expires_at: dt.datetime,
    now: dt.datetime,
) -> tuple[Offer | None, list[SeatInventory]]:
    """Offer ``entry`` seats from ``pool`` if they fit; returns the offer and what is left.

    Precondition: inside the offer run's transaction, holding the waitlist lock and the
    pool's row locks. A refused claim (the user started buying meanwhile, ``HOLD_EXISTS``, or a
    seat was taken) rolls back only its savepoint; the entry keeps its place and the seats
    reported taken leave the pool.
    """
    candidates = [r for r in pool if entry.section_id in (None, r.section_id)]
    chosen = choose_seats(candidates, entry.quantity)
    if not chosen:
        return None, pool
    try:
        with transaction.atomic():
            hold = hold_claim_seats(
                user=entry.user,
                event=event,
                seats_rows=chosen,
                kind=HoldKind.OFFER,
                expires_at=expires_at,
                now=now,
            )
    except ApplicationError as exc:
        logger.info("Offer to waitlist entry %s refused: %s", entry.pk, exc.code)
        taken = set(exc.extra.get("seat_ids") or ())
        return None, [r for r in pool if r.seat_id not in taken]
    chosen_ids = {r.pk for r in chosen}
    locked = lock_one(WaitlistEntry.objects.filter(pk=entry.pk, status=EntryStatus.WAITING))
    if locked is None:  # cannot happen under the waitlist lock; refuse to guess
        raise RuntimeError(f"waitlist entry {entry.pk} changed under the waitlist lock")
    locked.status = EntryStatus.OFFERED
    locked.offer_hold = hold
    locked.offered_at = locked.updated_at = now
    locked.save(update_fields=["status", "offer_hold", "offered_at", "updated_at"])
    offer = Offer(
        entry_id=entry.pk,
        user_id=entry.user_id,
        hold_id=hold.pk,
        seat_ids=sorted(r.seat_id for r in chosen),
        expires_at=expires_at,
    )
    return offer, [r for r in pool if r.pk not in chosen_ids]


def _after_candidates_locked(seat_ids: list[int]) -> None:
    """A seam for race tests: runs after the candidate seats are read and locked."""


def waitlist_event_close(*, event_id: int, reason: str, now: dt.datetime | None = None) -> int:
    """Close every open entry of an event that will sell no more (cancelled); returns how many.

    Waiting and offered entries end as ``lapsed``; each user is told on their websocket
    (``waitlist.closed`` with ``reason``) and by e-mail, after commit. Precondition: the event
    no longer sells and its offer holds were ended (``event_cancel`` does both first).
    Idempotent. Raises ``Busy`` when the waitlist lock could not be had in time.
    """
    from django_q.tasks import async_task

    now = now or timezone.now()
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        _waitlist_lock(event_id=event_id)
        entries = lock_rows(
            WaitlistEntry.objects.filter(
                event_id=event_id, status__in=[EntryStatus.WAITING, EntryStatus.OFFERED]
            )
        )
        if not entries:
            return 0
        WaitlistEntry.objects.filter(pk__in=[e.pk for e in entries]).update(
            status=EntryStatus.LAPSED, ended_at=now, updated_at=now
        )
        closed = [(e.pk, e.user_id) for e in entries]

        def tell() -> None:
            for entry_id, user_id in closed:
                realtime.user_notify(
                    user_id=user_id,
                    message={
                        "type": "waitlist.closed",
                        "event_id": event_id,
                        "entry_id": entry_id,
                        "reason": reason,
                    },
                )
                try:
                    async_task(
                        "waitlist.tasks.closed_email_send", entry_id, reason, group="waitlist-closed-email"
                    )
                except Exception:
                    logger.exception("Could not queue the closing e-mail of entry %s.", entry_id)

        transaction.on_commit(tell)
    return len(closed)


def choose_seats(rows: list[SeatInventory], quantity: int) -> list[SeatInventory]:
    """Pick ``quantity`` seats: adjacent in one row if possible, else best in one section, else any.

    Adjacent means consecutive ``position`` in one row (section, ``row_rank``); better rows
    (lower ``row_rank``) and lower positions win. Returns ``[]`` when too few are free.
    """
    if len(rows) < quantity:
        return []
    ordered = sorted(rows, key=lambda r: (r.section_id, r.seat.row_rank, r.seat.position, r.pk))
    for i in range(len(ordered) - quantity + 1):
        run = ordered[i : i + quantity]
        first = run[0]
        if all(
            r.section_id == first.section_id
            and r.seat.row_rank == first.seat.row_rank
            and r.seat.position == first.seat.position + k
            for k, r in enumerate(run)
        ):
            return run
    by_section: dict[int, list[SeatInventory]] = {}
    for r in ordered:
        by_section.setdefault(r.section_id, []).append(r)
    for section_rows in by_section.values():
        if len(section_rows) >= quantity:
            return section_rows[:quantity]
    return ordered[:quantity]


def waitlist_offers_settle(*, event_id: int, now: dt.datetime | None = None) -> None:
    """Settle the event's offered entries whose offer ended (see ``_offers_settle``).

    Checkout calls this after an offer hold was bought. Raises ``Busy``.
    """
    now = now or timezone.now()
    if not WaitlistEntry.objects.filter(event_id=event_id, status=EntryStatus.OFFERED).exists():
        return
    with transaction.atomic():
        set_lock_timeout()
        _waitlist_lock(event_id=event_id)
        _offers_settle(event_id=event_id, now=now)


def _offers_settle(*, event_id: int, now: dt.datetime) -> None:
    """Close offered entries whose offer ended: bought -> fulfilled, anything else -> lapsed.

    An offer hold past its expiry has ended even before the sweeper (or a claim) retires it:
    it can no longer be bought. No audit row here: the transaction that ends the hold
    (checkout's ``holds_end``) writes exactly one (``offer_lapsed``, or ``hold_released``
    when declined). Precondition: caller holds the event's waitlist lock.
    """
    ended = list(
        WaitlistEntry.objects.filter(event_id=event_id, status=EntryStatus.OFFERED)
        .filter(~Q(offer_hold__status__in=LIVE_HOLD_STATUSES) | Q(offer_hold__expires_at__lte=now))
        .values_list("pk", flat=True)
    )
    for entry_id in ended:
        entry = lock_one(WaitlistEntry.objects.filter(pk=entry_id).select_related("offer_hold"))
        bought = entry.offer_hold.status == HoldStatus.CONVERTED
        entry.status = EntryStatus.FULFILLED if bought else EntryStatus.LAPSED
        entry.ended_at = entry.updated_at = now
        entry.save(update_fields=["status", "ended_at", "updated_at"])
        if not bought:
            # "taken" is counted by checkout when the offer hold is bought.
            transaction.on_commit(partial(metrics.waitlist_offer, outcome="lapsed"))
        transaction.on_commit(
            partial(
                realtime.user_notify,
                user_id=entry.user_id,
                message={
                    "type": "waitlist.fulfilled" if bought else "waitlist.lapsed",
                    "event_id": event_id,
                    "entry_id": entry.pk,
                },
            )
        )


def _offers_announce(*, event_id: int, offers: list[Offer]) -> None:
    """After commit: tell each offered user at once, queue their e-mail, move the line up."""
    from django_q.tasks import async_task

    for offer in offers:
        realtime.user_notify(
            user_id=offer.user_id,
            message={
                "type": "waitlist.offer",
                "event_id": event_id,
                "entry_id": offer.entry_id,
                "hold_id": offer.hold_id,
                "seat_ids": offer.seat_ids,
                "expires_at": offer.expires_at.isoformat(),
            },
        )
    waitlist_moved(event_id=event_id, left_entry_ids=[o.entry_id for o in offers])
    for offer in offers:
        try:
            async_task("waitlist.tasks.offer_email_send", offer.entry_id, group="waitlist-offer-email")
        except Exception:
            logger.exception("Could not queue the offer e-mail of entry %s.", offer.entry_id)


def _offer_hold_release(*, hold_id: int, user, now: dt.datetime) -> bool:
    """Decline a live offer through checkout's ``holds_end``; ``False`` if it had ended.

    Only an ``active`` offer is released: a ``paying`` one is mid-purchase and leaving the
    waitlist must not pull the seats from under it. One past its expiry ends as expired.
    After commit the seats are announced and offered to the next in line.
    Precondition: inside the caller's transaction, holding no hold or seat locks.
    """
    # Waited for (unlike holds_end's SKIP LOCKED): a purchase or sweep holding it decides first.
    hold = lock_one(Hold.objects.filter(pk=hold_id, status=HoldStatus.ACTIVE))
    if hold is None:
        return False
    expired = hold.expires_at <= now
    holds_end(
        hold_ids=[hold.pk],
        status=HoldStatus.EXPIRED if expired else HoldStatus.RELEASED,
        now=now,
        reason="expired" if expired else "offer_declined",
        actor=user,
    )
    return True


def waitlist_moved(*, event_id: int, left_entry_ids: list[int]) -> None:
    """After commit: entries left the line (offered, left), so consumers behind them move up."""
    if left_entry_ids:
        for message in realtime.split_message(
            {"type": "waitlist.moved", "event_id": event_id, "left": sorted(left_entry_ids)}, ("left",)
        ):
            realtime.push(realtime.waitlist_group(event_id), message)


def waitlist_offer_bought(*, event_id: int, hold_id: int) -> None:
    """Checkout's ``offer_bought`` hook: settle the bought offer's entry as fulfilled."""
    waitlist_offers_settle(event_id=event_id)
