"""The waiting room's admission check: checkout's half of the queue.

Checkout owns the rule "starting a hold on this event needs a turn" and the count of who is
checking out; the queue (who is next) is the waitlist's, which checkout may not import. So the
waitlist asks for passes through ``passes_grant`` (handing in how to pick the next buyers), and
checkout tells it a slot came free through ``hooks.admission_freed`` on commit.

Lock order: the room row (``passes_grant``, ``room_update``), then pass rows; ``hold_create``
takes its buyer's pass before any seat; ending a hold touches its pass with ``SKIP LOCKED``
(the count reads the hold's state anyway, so a skipped write can only be late, never wrong).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from checkout.errors import QueueRequired, WaitingRoomNotFound
from checkout.models import AdmissionPass, PassState, WaitingRoom
from checkout.selectors.admission import LIVE_PASS_SQL, grant_count, live_params
from checkout.services import hooks
from events.errors import EventNotFound
from events.models import Event
from ticketing.core import sql
from ticketing.core.errors import ValidationFailed
from ticketing.core.locks import busy_on_lock_timeout, lock_one, lock_rows, lock_rows_sql, set_lock_timeout

# Pick the next buyers: given how many may be admitted, return their user ids, in order.
Picker = Callable[[int], list[int]]


def room_update(
    *,
    event_id: int,
    enabled: bool | None = None,
    checkout_limit: int | None = None,
    paused: bool | None = None,
    now: dt.datetime | None = None,
) -> WaitingRoom:
    """Create or change the event's waiting room (staff). ``None`` leaves a field as it is.

    A raised limit, a resume or turning the room on lets the queue admit at once (after
    commit). Lowering the limit admits no one until fewer than the new limit check out; no
    turn already given is taken back. Raises ``EventNotFound``, ``ValidationFailed``, ``Busy``.
    """
    now = now or timezone.now()
    if checkout_limit is not None and checkout_limit < 1:
        raise ValidationFailed("checkout_limit must be at least 1.", extra={"fields": {"checkout_limit": []}})
    if not Event.objects.filter(pk=event_id).exists():
        raise EventNotFound(extra={"event_id": event_id})
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        WaitingRoom.objects.bulk_create(
            [WaitingRoom(event_id=event_id, checkout_limit=settings.TICKETING_WAITING_ROOM_CHECKOUT_LIMIT)],
            ignore_conflicts=True,
        )
        room = lock_one(WaitingRoom.objects.filter(event_id=event_id))
        for field, value in (("enabled", enabled), ("checkout_limit", checkout_limit), ("paused", paused)):
            if value is not None:
                setattr(room, field, value)
        room.updated_at = now
        room.save()
        transaction.on_commit(partial(hooks.admission_freed, event_id=event_id, room_changed=True))
    return room


def room_require(*, event_id: int) -> WaitingRoom:
    room = WaitingRoom.objects.filter(event_id=event_id).first()
    if room is None:
        raise WaitingRoomNotFound(extra={"event_id": event_id})
    return room


class RoomBusy(Exception):
    """``passes_grant(wait=False)`` found another grant of the event running (its room row locked)."""


def passes_grant(
    *, event_id: int, pick: Picker, now: dt.datetime | None, wait: bool = True
) -> list[AdmissionPass]:
    """Admit as many buyers as there are free slots: ``pick(n)`` names them, in queue order.

    Precondition: inside the caller's transaction (the queue's, which also marks its entries).
    Takes the room's row lock, so grants of one event run one at a time and the count cannot
    go stale between reading it and adding passes: admissions never exceed the limit. Grants
    nothing while the room is off or paused. Buyers who already hold a usable pass are skipped.
    Returns the new passes (``admitted_until`` = now + ``TICKETING_WAITING_ROOM_ADMIT_SECONDS``).

    ``wait=False``: raise ``RoomBusy`` instead of queueing behind a grant that holds the room's
    row. A join or a finished checkout only hints that a slot may be free; thousands of them at
    an on-sale waiting for that one row, each on a thread and a connection, was what made joins
    take tens of seconds (bench/results/waiting-room-latest.md). The caller retries later.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("passes_grant needs the caller's transaction.")
    rows = lock_rows(WaitingRoom.objects.filter(event_id=event_id), skip_locked=not wait)
    if not rows and not wait and WaitingRoom.objects.filter(event_id=event_id).exists():
        raise RoomBusy(event_id)
    room = rows[0] if rows else None
    if room is None:
        return []
    # ``now=None``: the time the lock was granted. Grants then carry their times in the order
    # they were made, however long each waited for the row (a ``now`` read before the wait made
    # a later grant look earlier: admission order is checked by these times).
    now = now or timezone.now()
    enabled, paused, limit = room.enabled, room.paused, room.checkout_limit
    if not enabled or paused:
        return []
    # Unused turns that lapsed are closed first, so that a hold still binding one (its ``now``
    # read just before the lapse) finds it closed; one such hold has it locked, and it counts.
    sql.execute(
        "UPDATE checkout_admissionpass SET state = %s, ended_at = %s WHERE id IN ("
        " SELECT id FROM checkout_admissionpass WHERE event_id = %s AND state = 'admitted'"
        " AND admitted_until <= %s FOR UPDATE SKIP LOCKED)",
        [PassState.EXPIRED, now, event_id, now],
    )
    free = limit - grant_count(event_id=event_id, now=now)
    if free <= 0:
        return []
    user_ids = pick(free)[:free]
    if not user_ids:
        return []
    until = now + dt.timedelta(seconds=settings.TICKETING_WAITING_ROOM_ADMIT_SECONDS)
    # A pass of the same buyer that lapsed is closed first (the unique index allows one usable).
    _lapsed_close(event_id=event_id, user_ids=user_ids, now=now)
    inserted = sql.rows(
        "INSERT INTO checkout_admissionpass (event_id, user_id, state, admitted_at, admitted_until)"
        " SELECT %s, u, 'admitted', %s, %s FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(u, i)"
        " ORDER BY i ON CONFLICT DO NOTHING RETURNING id, user_id",
        [event_id, now, until, user_ids],
    )
    by_user = {user_id: pid for pid, user_id in inserted}
    return [
        AdmissionPass(
            pk=by_user[u],
            event_id=event_id,
            user_id=u,
            state=PassState.ADMITTED,
            admitted_at=now,
            admitted_until=until,
        )
        for u in user_ids
        if u in by_user
    ]


def _lapsed_close(*, event_id: int, user_ids: list[int], now: dt.datetime) -> None:
    sql.execute(
        f"""UPDATE checkout_admissionpass SET state = %s, ended_at = %s WHERE id IN (
              SELECT p.id FROM checkout_admissionpass p LEFT JOIN checkout_hold h ON h.id = p.hold_id
               WHERE p.event_id = %s AND p.user_id = ANY(%s) AND p.state IN ('admitted', 'checking_out')
                 AND NOT {LIVE_PASS_SQL})""",
        [PassState.EXPIRED, now, event_id, user_ids, *live_params(now)],
    )


def pass_take(*, user: Any, event_id: int, now: dt.datetime) -> int:
    """Lock ``user``'s unused pass for the event and return its id; ``hold_create`` binds it.

    Precondition: inside the hold's transaction, before any seat is locked. A pass being used
    by a concurrent hold of the same buyer is waited for, and is then no longer unused: one
    pass, one hold. Raises ``QueueRequired`` (no pass, or it lapsed, or it is in use).
    """
    found = lock_rows_sql(
        table="checkout_admissionpass",
        columns="checkout_admissionpass.id",
        where="checkout_admissionpass.user_id = %s AND checkout_admissionpass.event_id = %s"
        " AND checkout_admissionpass.state = 'admitted' AND checkout_admissionpass.admitted_until > %s",
        params=[getattr(user, "pk", user), event_id, now],
    )
    if not found:
        raise QueueRequired(extra={"event_id": event_id, "queue": f"/api/events/{event_id}/queue"})
    return found[0][0]


def pass_bind(*, pass_id: int, hold_id: int) -> None:
    """The pass now lasts as long as the hold (same transaction as the hold's insert)."""
    sql.execute(
        "UPDATE checkout_admissionpass SET state = %s, hold_id = %s WHERE id = %s",
        [PassState.CHECKING_OUT, hold_id, pass_id],
    )


# Passes bound to the holds in the array: ended, unless another transaction has the row.
PASSES_END_SQL = """
    UPDATE checkout_admissionpass SET state = %s, ended_at = %s WHERE id IN (
      SELECT id FROM checkout_admissionpass WHERE hold_id = ANY(%s) AND state = 'checking_out'
         FOR UPDATE SKIP LOCKED)
    RETURNING event_id
"""


def passes_end(*, hold_ids: Collection[int], state: str, now: dt.datetime) -> None:
    """End the passes of holds that just ended (released: ``done``; expired: ``expired``), and
    let the queue admit the next buyers after commit. Precondition: inside the transaction that
    ends the holds."""
    ended = sql.rows(PASSES_END_SQL, [state, now, list(hold_ids)])
    passes_freed(event_ids={event_id for (event_id,) in ended})


def passes_freed(*, event_ids: Collection[int]) -> None:
    """Register the after-commit ``admission_freed`` hook for each event (turns ended)."""
    for event_id in sorted(event_ids):
        transaction.on_commit(partial(hooks.admission_freed, event_id=event_id))


def passes_expire_due(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Tidy up: mark passes that stopped counting (unused past ``admitted_until``, or whose hold
    ended or expired) as ended, and let their queues admit. Returns how many. They stopped
    counting when their time came; this only writes it down and wakes the queue."""
    now = now or timezone.now()
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        ended = sql.rows(
            f"""UPDATE checkout_admissionpass SET ended_at = %s,
                       state = CASE WHEN q.hold_status IN ('converted', 'released') THEN 'done'
                                    ELSE 'expired' END
                  FROM (SELECT p.id, h.status AS hold_status FROM checkout_admissionpass p
                          LEFT JOIN checkout_hold h ON h.id = p.hold_id
                         WHERE p.state IN ('admitted', 'checking_out') AND NOT {LIVE_PASS_SQL}
                         ORDER BY p.id LIMIT %s FOR UPDATE OF p SKIP LOCKED) q
                 WHERE checkout_admissionpass.id = q.id
             RETURNING checkout_admissionpass.event_id""",
            [now, *live_params(now), limit],
        )
        passes_freed(event_ids={event_id for (event_id,) in ended})
    return len(ended)


def pass_give_back(*, pass_id: int, now: dt.datetime) -> bool:
    """The buyer gives an unused turn back (left the queue after admission): it ends now and
    the next buyer is admitted after commit. A pass already bound to a hold is left alone.
    Precondition: inside a transaction. Returns True if it ended."""
    ended = sql.rows(
        "UPDATE checkout_admissionpass SET state = 'done', ended_at = %s"
        " WHERE id = %s AND state = 'admitted' RETURNING event_id",
        [now, pass_id],
    )
    passes_freed(event_ids={event_id for (event_id,) in ended})
    return bool(ended)
