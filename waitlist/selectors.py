"""Reads of the waitlist, and the availability reads it (and the live seat map) rely on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count

from checkout.models import LIVE_HOLD_STATUSES, SeatInventory, SeatStatus, free_q
from checkout.services.versions import inventory_version_read
from waitlist.models import EntryStatus, WaitlistEntry


def free_seat_count(*, event_id: int, now: dt.datetime, section_id: int | None = None) -> int:
    qs = SeatInventory.objects.filter(free_q(now), event_id=event_id)
    if section_id is not None:
        qs = qs.filter(section_id=section_id)
    return qs.count()


def section_availability(*, event_id: int, now: dt.datetime) -> dict[int, dict[str, int]]:
    """``{section_id: {"free": n, "total": n}}`` for one event, in one grouped scan."""
    rows = (
        SeatInventory.objects.filter(event_id=event_id)
        .values("section_id")
        .annotate(total=Count("id"), free=Count("id", filter=free_q(now)))
        .order_by("section_id")
    )
    return {r["section_id"]: {"free": r["free"], "total": r["total"]} for r in rows}


def section_availability_cached(*, event_id: int, now: dt.datetime) -> dict[int, dict[str, int]]:
    """``section_availability`` shared by every reader of one inventory version in one second.

    Thousands of viewers connect at an on-sale; one grouped scan per version per second per
    process serves them all. The second is part of the key because holds expire without a
    version change. The version is read before the data, so a cached value is never older
    than its key.
    """
    version = inventory_version_read(event_id=event_id)
    key = f"sections:{event_id}:{version}:{int(now.timestamp())}"
    value = cache.get(key)
    if value is None:
        value = section_availability(event_id=event_id, now=now)
        cache.set(key, value, timeout=5)
    return value


def seat_states(*, event_id: int, seat_ids: list[int], now: dt.datetime) -> tuple[list[int], list[int]]:
    """Split ``seat_ids`` (``events.Seat`` ids) into (free, taken) as of ``now``."""
    free, taken = [], []
    rows = SeatInventory.objects.filter(event_id=event_id, seat_id__in=seat_ids).values_list(
        "seat_id", "status", "hold_expires_at"
    )
    for seat_id, status, expires in sorted(rows):
        is_free = status == SeatStatus.AVAILABLE or (status == SeatStatus.HELD and expires <= now)
        (free if is_free else taken).append(seat_id)
    return free, taken


def entry_position(*, entry: WaitlistEntry) -> int | None:
    """1-based place in line of a waiting entry; ``None`` once it is no longer waiting."""
    if entry.status != EntryStatus.WAITING:
        return None
    return (
        WaitlistEntry.objects.filter(
            event_id=entry.event_id, status=EntryStatus.WAITING, id__lt=entry.id
        ).count()
        + 1
    )


def waiting_count(*, event_id: int) -> int:
    return WaitlistEntry.objects.filter(event_id=event_id, status=EntryStatus.WAITING).count()


@dataclass(frozen=True)
class EntryView:
    entry: WaitlistEntry
    position: int | None
    offer_seat_ids: list[int]
    offer_expires_at: dt.datetime | None


def user_entries(*, user_id: int, now: dt.datetime, limit: int = 50) -> list[EntryView]:
    """The user's entries, newest first, with place in line and the live offer if any.

    An offered entry whose offer hold was bought shows as fulfilled even before an offer
    run settles it, and one whose hold ended otherwise shows as lapsed.
    """
    entries = list(
        WaitlistEntry.objects.filter(user_id=user_id).select_related("offer_hold").order_by("-id")[:limit]
    )
    offered_holds = [e.offer_hold_id for e in entries if e.status == EntryStatus.OFFERED]
    seats: dict[int, list[int]] = {}
    for hold_id, seat_id in (
        SeatInventory.objects.filter(hold_id__in=offered_holds)
        .order_by("seat_id")
        .values_list("hold_id", "seat_id")
    ):
        seats.setdefault(hold_id, []).append(seat_id)
    views = []
    for entry in entries:
        if entry.status == EntryStatus.OFFERED:
            hold = entry.offer_hold
            if hold.status == "converted":
                entry.status = EntryStatus.FULFILLED
            elif hold.status not in LIVE_HOLD_STATUSES or hold.expires_at <= now:
                entry.status = EntryStatus.LAPSED
        live_offer = entry.status == EntryStatus.OFFERED
        views.append(
            EntryView(
                entry=entry,
                position=entry_position(entry=entry),
                offer_seat_ids=seats.get(entry.offer_hold_id, []) if live_offer else [],
                offer_expires_at=entry.offer_hold.expires_at if live_offer else None,
            )
        )
    return views


def active_entry(*, user_id: int, event_id: int) -> WaitlistEntry | None:
    return (
        WaitlistEntry.objects.filter(
            user_id=user_id, event_id=event_id, status__in=[EntryStatus.WAITING, EntryStatus.OFFERED]
        )
        .select_related("offer_hold")
        .first()
    )


def user_event_titles(*, user_id: int) -> dict[int, str]:
    """``{event_id: title}`` of every event the user has a waitlist entry for (one query):
    the "My waitlist" page names its entries without one request per event."""
    return dict(
        WaitlistEntry.objects.filter(user_id=user_id)
        .order_by()
        .values_list("event_id", "event__title")
        .distinct()
    )
