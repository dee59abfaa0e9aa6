"""Reads of the waitlist: places in line and a user's entries. Seat availability is checkout's
(``checkout.selectors.availability``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q

from checkout.models import LIVE_HOLD_STATUSES
from checkout.selectors.buyer import holds_seat_ids
from waitlist.models import EntryStatus, WaitlistEntry


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
    seats = holds_seat_ids(hold_ids=offered_holds)
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


def waitlist_dashboard_figures(event_id: int) -> list[tuple[str, object]]:
    """The waitlist's figures on checkout's organizer dashboard (``dashboard.panel_register``)."""
    counts = WaitlistEntry.objects.filter(event_id=event_id).aggregate(
        waiting=Count("id", filter=Q(status=EntryStatus.WAITING)),
        fulfilled=Count("id", filter=Q(status=EntryStatus.FULFILLED)),
    )
    return [
        ("waiting on the waitlist", counts["waiting"]),
        ("waitlist entries that bought", counts["fulfilled"]),
    ]
