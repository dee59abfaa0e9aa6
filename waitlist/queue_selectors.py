"""Reads of the waiting-room queue: a buyer's place in O(1), and staff's figures.

A place is arithmetic on two numbers, never a count of the people ahead: ``ahead = number -
now_serving - 1`` (an upper bound: people ahead who left still count until they are passed).
The estimate divides it by the recent admission rate stored on the queue row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from checkout.selectors import admission
from ticketing.core import sql
from waitlist.models import EventQueue, QueueEntry, QueueState


@dataclass(frozen=True)
class QueueView:
    event_id: int
    number: int | None
    state: str
    now_serving: int
    ahead: int | None
    eta_seconds: int | None
    admitted_until: dt.datetime | None
    hold_id: int | None = None


def entry_ttl() -> dt.timedelta:
    return dt.timedelta(seconds=settings.TICKETING_WAITING_ROOM_ENTRY_TTL_SECONDS)


def entry_lapsed(*, last_seen_at: dt.datetime, now: dt.datetime) -> bool:
    """A waiting entry lapses when its page or client has not checked in for the TTL."""
    return last_seen_at + entry_ttl() <= now


_VIEW_SQL = """
    SELECT e.number, e.state, e.early, e.last_seen_at, e.admission_pass_id,
           q.now_serving, q.admitted_per_minute, q.opened_at, q.closed_at
      FROM waitlist_queueentry e JOIN waitlist_eventqueue q ON q.event_id = e.event_id
     WHERE e.user_id = %s AND e.event_id = %s
"""


def place_fields(view: QueueView) -> dict:
    """What a buyer is shown of their place (the API's ``QueueOut``, the socket's ``queue.joined``)."""
    return {
        "number": view.number,
        "state": view.state,
        "now_serving": view.now_serving,
        "ahead": view.ahead,
        "eta_seconds": view.eta_seconds,
        "admitted_until": view.admitted_until,
    }


def queue_view(*, user_id: int, event_id: int, now: dt.datetime) -> QueueView | None:
    """The buyer's entry as the API and the page show it (one read; two once admitted)."""
    found = sql.row(_VIEW_SQL, [user_id, event_id])
    if found is None:
        return None
    number, state, early, last_seen, pass_id, serving, rate, opened_at, closed_at = found
    return view_from(
        event_id=event_id,
        number=number,
        state=state,
        early=early,
        last_seen_at=last_seen,
        pass_id=pass_id,
        now_serving=serving,
        rate=rate,
        opened=opened_at is not None,
        closed=closed_at is not None,
        now=now,
    )


def view_from(
    *,
    event_id: int,
    number: int,
    state: str,
    early: bool,
    last_seen_at: dt.datetime,
    pass_id: int | None,
    now_serving: int,
    rate: float,
    opened: bool,
    closed: bool,
    now: dt.datetime,
) -> QueueView:
    admitted_until = hold_id = None
    shown = state
    if state == QueueState.WAITING:
        if closed:
            shown = QueueState.CLOSED
        elif entry_lapsed(last_seen_at=last_seen_at, now=now):
            shown = QueueState.EXPIRED
    elif state == QueueState.ADMITTED and pass_id is not None:
        turn = admission.pass_view(pass_id=pass_id, now=now)
        if turn is not None:
            shown = turn.state
            hold_id = turn.hold_id
            admitted_until = turn.hold_ends_at if turn.state == "checking_out" else turn.admitted_until
    # Before the opening an early number is provisional: the shuffle reassigns it.
    known = None if early and not opened else number
    ahead = eta = None
    if shown == QueueState.WAITING and known is not None:
        ahead = max(0, known - now_serving - 1)
        if ahead == 0:
            eta = 0
        elif rate > 0:
            eta = int(ahead * 60 / rate)
    return QueueView(
        event_id=event_id,
        number=known,
        state=shown,
        now_serving=now_serving,
        ahead=ahead,
        eta_seconds=eta,
        admitted_until=admitted_until,
        hold_id=hold_id,
    )


def queue_stats(*, event_id: int, now: dt.datetime) -> dict:
    """Staff's view: waiting, admitted, checking out, admitted per minute, now serving."""
    queue = EventQueue.objects.filter(event_id=event_id).first()
    cutoff = now - entry_ttl()
    waiting = QueueEntry.objects.filter(
        event_id=event_id, state=QueueState.WAITING, last_seen_at__gt=cutoff
    ).count()
    room = admission.room_get(event_id=event_id)
    return {
        "event_id": event_id,
        "enabled": bool(room and room.enabled),
        "paused": bool(room and room.paused),
        "checkout_limit": room.checkout_limit if room else settings.TICKETING_WAITING_ROOM_CHECKOUT_LIMIT,
        "waiting": waiting,
        **admission.room_stats(event_id=event_id, now=now),
        "now_serving": queue.now_serving if queue else 0,
        "last_number": queue.last_number if queue else 0,
        "opened": bool(queue and queue.opened_at),
        "closed": bool(queue and queue.closed_at),
    }


def queue_dashboard_figures(event_id: int) -> list[tuple[str, object]]:
    """The waiting room's figures on checkout's organizer dashboard (``dashboard.panel_register``);
    none for an event without a room."""
    from django.utils import timezone

    if admission.room_get(event_id=event_id) is None:
        return []
    stats = queue_stats(event_id=event_id, now=timezone.now())
    state = "paused" if stats["paused"] else ("on" if stats["enabled"] else "off")
    return [
        ("waiting room", f"{state}, limit {stats['checkout_limit']}"),
        ("waiting in the queue", stats["waiting"]),
        ("admitted (no hold yet)", stats["admitted"]),
        ("checking out", stats["checking_out"]),
        ("admitted per minute", stats["admitted_per_minute"]),
        ("now serving", stats["now_serving"]),
    ]
