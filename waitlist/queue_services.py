"""Waiting-room queue writes: join, check in, leave, open (the pre-open shuffle), admit, close.

Checkout owns the turn (``checkout.services.admission``: the pass a hold needs, the count of who
is checking out, the room's lock); this module owns the line: numbers, order, expiry, cooldown
and what buyers are told. Lock order: the queue row (sequence, opening, closing), then the
room row (inside ``passes_grant``), then entry rows, then pass rows. A join holds the queue
row only for the statement that takes its number.

Rules decided here (docs/waiting-room.md):
* one entry per buyer per event; joining again while waiting or admitted returns it;
* leaving while waiting, or lapsing (no check-in for the TTL), starts a cooldown before the
  buyer may join again, at the back;
* a buyer whose turn came and went (bought, released, or let the pass or hold lapse) has had
  their turn: they may join again at once, at the back. No cooldown: it would only punish a
  buyer for a failed card, and at the back they overtake no one.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from checkout.selectors import admission as admission_selectors
from checkout.services import admission
from checkout.services.announce import Coalescer
from events.errors import EventNotFound
from events.models import Event, EventStatus
from ticketing.core import realtime, sql
from ticketing.core.locks import (
    busy_on_lock_timeout,
    lock_one,
    lock_rows,
    lock_rows_sql,
    set_lock_timeout,
)
from waitlist import queue_joins
from waitlist.errors import QueueClosed, QueueCooldown, QueueNotFound, WaitingRoomOff
from waitlist.models import EventQueue, QueueEntry, QueueState
from waitlist.queue_selectors import QueueView, entry_lapsed, entry_ttl, queue_view

logger = logging.getLogger(__name__)

# A check-in is written at most this often per entry: polling every few seconds is not a write each.
CHECK_IN_EVERY = dt.timedelta(seconds=30)


def _cooldown() -> dt.timedelta:
    return dt.timedelta(seconds=settings.TICKETING_WAITING_ROOM_COOLDOWN_SECONDS)


@dataclass(frozen=True)
class Joined:
    view: QueueView
    created: bool


class _Taken(Exception):
    """The buyer's entry was inserted by a concurrent join: roll back the number we took."""


# The event's next number, taken from its queue row's counter (the row stays locked to commit).
_NEXT_NUMBER_CTE = """
    WITH n AS (
        UPDATE waitlist_eventqueue SET last_number = last_number + 1 WHERE event_id = %(event)s
        RETURNING last_number
    )
"""
_JOIN_SQL = (
    _NEXT_NUMBER_CTE
    + """
    INSERT INTO waitlist_queueentry (event_id, user_id, number, state, early, joined_at, last_seen_at)
    SELECT %(event)s, %(user)s, n.last_number, 'waiting', %(early)s, %(now)s, %(now)s FROM n
    ON CONFLICT (user_id, event_id) DO NOTHING
    RETURNING id
"""
)
_REJOIN_SQL = (
    _NEXT_NUMBER_CTE
    + """
    UPDATE waitlist_queueentry SET number = n.last_number, state = 'waiting', early = %(early)s,
           joined_at = %(now)s, last_seen_at = %(now)s, admitted_at = NULL, admission_pass_id = NULL,
           ended_at = NULL, cooldown_until = NULL
      FROM n WHERE waitlist_queueentry.id = %(entry)s
"""
)


# The event, whether its room is on, its queue (if any yet) and the buyer's entry id: one
# round trip per join.
_JOIN_READ_SQL = f"""
    SELECT e.status, e.starts_at, e.sales_open_at, e.sales_close_at, e.sold_out,
           q.event_id IS NOT NULL, q.opened_at, q.closed_at,
           (SELECT x.id FROM waitlist_queueentry x WHERE x.user_id = %s AND x.event_id = e.id),
           {admission_selectors.ROOM_ENABLED_SQL}
      FROM events_event e LEFT JOIN waitlist_eventqueue q ON q.event_id = e.id
     WHERE e.id = %s
"""


@dataclass(frozen=True)
class _JoinRead:
    sales_open_at: dt.datetime | None
    opened: bool
    entry_id: int | None


def _join_read(*, user_id: int, event_id: int, now: dt.datetime) -> _JoinRead:
    found = sql.row(_JOIN_READ_SQL, [user_id, event_id])
    if found is None:
        raise EventNotFound(extra={"event_id": event_id})
    (
        status,
        starts_at,
        sales_open_at,
        sales_close_at,
        sold_out,
        has_queue,
        opened_at,
        closed_at,
        entry_id,
        room_on,
    ) = found
    if not room_on:
        raise WaitingRoomOff(extra={"event_id": event_id})
    if closed_at is not None or sold_out:
        raise QueueClosed(extra={"event_id": event_id, "waitlist": f"/api/events/{event_id}/waitlist"})
    selling = status == EventStatus.ON_SALE and now < starts_at
    if not selling or (sales_close_at and now >= sales_close_at):
        raise QueueClosed("This event is not on sale.", extra={"event_id": event_id, "event_status": status})
    if not has_queue:
        _queue_get(event_id)
    return _JoinRead(sales_open_at=sales_open_at, opened=opened_at is not None, entry_id=entry_id)


def _queue_get(event_id: int) -> EventQueue:
    EventQueue.objects.bulk_create([EventQueue(event_id=event_id)], ignore_conflicts=True)
    return EventQueue.objects.get(event_id=event_id)


def queue_join(*, user, event_id: int, now: dt.datetime | None = None) -> Joined:
    """Take a number in the event's queue, or get back the entry the buyer already has.

    Before the sale opens the number is provisional (shuffled at the opening). Raises
    ``EventNotFound``, ``WaitingRoomOff``, ``QueueClosed`` (sold out or not on sale; ``extra``
    names the waitlist), ``QueueCooldown`` (``extra["until"]``), ``Busy``.
    """
    now = now or timezone.now()
    # The common join (new, or already waiting) in one statement, as the event loop does it.
    simple = queue_joins.joins_simple(event_id=event_id, user_ids=[user.pk], now=now)[0]
    if simple.view is not None:
        if simple.admits:
            queue_admit_soon(event_id=event_id, now=now)
        return Joined(view=simple.view, created=simple.created)
    read = _join_read(user_id=user.pk, event_id=event_id, now=now)
    early = read.sales_open_at is not None and now < read.sales_open_at
    created = False
    if read.entry_id is None:
        created = _entry_insert(user_id=user.pk, event_id=event_id, early=early, now=now)
    elif _rejoin_allowed(QueueEntry.objects.get(pk=read.entry_id), now):
        created = _entry_renumber(entry_id=read.entry_id, event_id=event_id, early=early, now=now)
    if created and not early:
        _after_join(event_id=event_id, now=now, opened=read.opened)
    view = queue_view(user_id=user.pk, event_id=event_id, now=now)
    return Joined(view=view, created=created)


def _entry_insert(*, user_id: int, event_id: int, early: bool, now: dt.datetime) -> bool:
    params = {"event": event_id, "user": user_id, "early": early, "now": now}
    try:
        with busy_on_lock_timeout(), transaction.atomic():
            # The counter first, as every join takes it (``queue_joins.JOIN_LOCK_SQL``).
            sql.execute(queue_joins.JOIN_LOCK_SQL, queue_joins.join_lock_params(event_id))
            if sql.row(_JOIN_SQL, params) is None:
                # Joined twice at once: the other join's entry stands, and our number goes back.
                raise _Taken
    except _Taken:
        return False
    return True


def _rejoin_allowed(entry: QueueEntry, now: dt.datetime) -> bool:
    """Whether a known buyer's join starts a new place at the back (else: same entry back).

    Raises ``QueueCooldown`` while a cooldown runs (left, or lapsed while waiting)."""
    until = None
    if entry.state == QueueState.WAITING:
        if not entry_lapsed(last_seen_at=entry.last_seen_at, now=now):
            return False
        until = entry.last_seen_at + entry_ttl() + _cooldown()
    elif entry.state in (QueueState.LEFT, QueueState.EXPIRED):
        until = entry.cooldown_until
    elif entry.state == QueueState.ADMITTED:
        turn = (
            admission_selectors.pass_view(pass_id=entry.admission_pass_id, now=now)
            if entry.admission_pass_id
            else None
        )
        if turn is not None and turn.state in ("admitted", "checking_out"):
            return False
    if until is not None and until > now:
        raise QueueCooldown(
            extra={"until": until.isoformat()},
            headers={"Retry-After": str(max(1, int((until - now).total_seconds())))},
        )
    return True


def _entry_renumber(*, entry_id: int, event_id: int, early: bool, now: dt.datetime) -> bool:
    with busy_on_lock_timeout(), transaction.atomic():
        # The queue row before the entry, in the module's lock order (the opening's shuffle
        # takes them in that order too).
        sql.execute(queue_joins.JOIN_LOCK_SQL, queue_joins.join_lock_params(event_id))
        locked = lock_rows(QueueEntry.objects.filter(pk=entry_id))
        if not locked or not _rejoin_allowed(locked[0], now):
            return False  # a concurrent rejoin of the same buyer came first
        sql.execute(_REJOIN_SQL, {"event": event_id, "early": early, "now": now, "entry": entry_id})
    return True


def _after_join(*, event_id: int, now: dt.datetime, opened: bool) -> None:
    try:
        if not opened:
            queue_open(event_id=event_id, now=now)
        queue_admit_soon(event_id=event_id, now=now)
    except Exception:
        # The join committed; the sweep admits on its next tick.
        logger.exception("admitting after a join failed for event %s", event_id)


def queue_check_in(*, user, event_id: int, now: dt.datetime | None = None) -> QueueView:
    """The buyer's page or client is still here: keep the waiting entry alive; return the view.

    A lapsed entry is not revived (it lapsed; the cooldown applies). Raises ``QueueNotFound``.
    """
    now = now or timezone.now()
    sql.execute(
        "UPDATE waitlist_queueentry SET last_seen_at = %s WHERE user_id = %s AND event_id = %s"
        " AND state = 'waiting' AND last_seen_at < %s AND last_seen_at > %s",
        [now, user.pk, event_id, now - CHECK_IN_EVERY, now - entry_ttl()],
    )
    view = queue_view(user_id=user.pk, event_id=event_id, now=now)
    if view is None:
        raise QueueNotFound(extra={"event_id": event_id})
    return view


def queue_leave(*, user, event_id: int, now: dt.datetime | None = None) -> QueueView:
    """Leave the queue. Waiting: the place is given up and the cooldown starts. Admitted and not
    yet holding seats: the turn is given back to the next buyer. Holding seats: the hold is
    left alone (release it to end the turn). Leaving twice changes nothing.
    Raises ``QueueNotFound``, ``Busy``."""
    now = now or timezone.now()
    entry = QueueEntry.objects.filter(user=user, event_id=event_id).first()
    if entry is None:
        raise QueueNotFound(extra={"event_id": event_id})
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        state = lock_rows_sql(
            table="waitlist_queueentry",
            columns="waitlist_queueentry.state, waitlist_queueentry.admission_pass_id",
            where="waitlist_queueentry.id = %s",
            params=[entry.pk],
        )[0]
        if state[0] == QueueState.WAITING:
            QueueEntry.objects.filter(pk=entry.pk).update(
                state=QueueState.LEFT, ended_at=now, cooldown_until=now + _cooldown()
            )
        elif state[0] == QueueState.ADMITTED and state[1]:
            admission.pass_give_back(pass_id=state[1], now=now)
    return queue_view(user_id=user.pk, event_id=event_id, now=now)


def queue_open(*, event_id: int, now: dt.datetime | None = None, rng: random.Random | None = None) -> bool:
    """Open the queue once the sale has opened: the numbers of everyone who joined before are
    shuffled among them (arriving early, or a script at the opening second, gains nothing),
    then everyone after is first come, first served. Idempotent; returns True if it opened.

    ``rng`` is the random source (tests pass a seeded ``random.Random``).
    """
    now = now or timezone.now()
    event = Event.objects.filter(pk=event_id).first()
    if event is None or not event.sales_open(now):
        return False
    rng = rng or random.SystemRandom()
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        _queue_get(event_id)
        if lock_one(EventQueue.objects.filter(event_id=event_id)).opened_at is not None:
            return False
        early = list(
            QueueEntry.objects.filter(event_id=event_id, state=QueueState.WAITING, early=True)
            .order_by("number")
            .values_list("pk", "number")
        )
        numbers = [number for _, number in early]
        ids = [pk for pk, _ in early]
        rng.shuffle(ids)
        if ids:
            sql.execute(
                "UPDATE waitlist_queueentry e SET number = t.number, early = false"
                " FROM unnest(%s::bigint[], %s::int[]) AS t(id, number) WHERE e.id = t.id",
                [ids, numbers],
            )
        EventQueue.objects.filter(event_id=event_id).update(opened_at=now)
    return True


def queue_admit_soon(*, event_id: int, now: dt.datetime | None = None) -> None:
    """Admit now if no other admission of the event is running, else shortly after it.

    For the hints (a join, a finished checkout): most joins of a rush find every slot taken
    (one cheap read, no lock, then nothing); one that finds a slot while another admission
    holds the room leaves it to this process's retry (``TICKETING_WAITING_ROOM_ADMIT_RETRY_MS``
    later, one per event however many asked), which waits its turn and picks up every entry
    committed by then. Nobody is missed: whoever finds the room busy schedules the retry.
    """
    try:
        queue_admit_next(event_id=event_id, now=now, only_if_free=True, wait=False)
    except admission.RoomBusy:
        _admit_retry.add(event_id, [])


def queue_admit_later(*, event_id: int) -> bool:
    """Leave admitting to this process's retry thread (within ``TICKETING_WAITING_ROOM_ADMIT_RETRY_MS``,
    one run however many asked): for callers that must not block, the event loop's batched
    joins. Returns False when the retry is off (0): the caller admits on a thread of its own."""
    if _admit_retry.interval <= 0:
        return False
    _admit_retry.add(event_id, [])
    return True


def queue_admit_next(
    *, event_id: int, now: dt.datetime | None = None, only_if_free: bool = False, wait: bool = True
) -> list[int]:
    """Admit the next waiting numbers while fewer than the limit are checking out.

    Entries that lapsed are passed over. A candidate whose row is being changed (a check-in, a
    leave) is waited for, not skipped: skipping it let a higher number in first (the benchmark
    saw such inversions while 2,000 pages checked in); one that left meanwhile is dropped.
    Returns the numbers admitted. After commit: one coalesced "now serving" broadcast to the
    event, and each admitted buyer told privately.
    ``only_if_free``: first look (without a lock) whether a slot is free at all. ``wait=False``:
    raise ``checkout.services.admission.RoomBusy`` if another admission of the event is running.
    """
    given, now = now, now or timezone.now()
    if only_if_free and not admission_selectors.room_has_free_slot(event_id=event_id, now=now):
        return []
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        queue = EventQueue.objects.filter(event_id=event_id).values_list("opened_at", "closed_at").first()
        if queue is None or queue[0] is None or queue[1] is not None:
            return []
        picked: dict[int, tuple[int, int]] = {}

        def pick(n: int) -> list[int]:
            candidates = [
                pk
                for (pk,) in sql.rows(
                    "SELECT id FROM waitlist_queueentry WHERE event_id = %s AND state = 'waiting'"
                    " AND last_seen_at > %s ORDER BY number LIMIT %s",
                    [event_id, now - entry_ttl(), n],
                )
            ]
            if not candidates:
                return []
            locked = lock_rows_sql(
                table="waitlist_queueentry",
                columns="waitlist_queueentry.id, waitlist_queueentry.user_id, waitlist_queueentry.number",
                where="waitlist_queueentry.id = ANY(%s) AND waitlist_queueentry.state = 'waiting'",
                params=[candidates],
            )
            for pk, user_id, number in sorted(locked, key=lambda r: r[2]):
                picked[user_id] = (pk, number)
            return list(picked)

        # Without a ``now`` from the caller the grant is timed when it holds the room's row.
        passes = admission.passes_grant(event_id=event_id, pick=pick, now=given, wait=wait)
        if not passes:
            return []
        now = passes[0].admitted_at
        rows = [(picked[p.user_id][0], p.pk) for p in passes]
        sql.execute(
            "UPDATE waitlist_queueentry e SET state = 'admitted', admitted_at = %s, admission_pass_id = t.id2"
            " FROM unnest(%s::bigint[], %s::bigint[]) AS t(id, id2) WHERE e.id = t.id",
            [now, [r[0] for r in rows], [r[1] for r in rows]],
        )
        numbers = sorted(picked[p.user_id][1] for p in passes)
        rate = admission_selectors.admitted_per_minute(event_id=event_id, now=now)
        for p in passes:
            message = {
                "type": "queue.admitted",
                "event_id": event_id,
                "number": picked[p.user_id][1],
                "admitted_until": p.admitted_until.isoformat(),
            }
            transaction.on_commit(partial(realtime.user_notify, user_id=p.user_id, message=message))
        # "Now serving" moves after commit, in a statement of its own: this transaction holds
        # the room and entry locks, and taking the queue row last would invert the lock order of
        # opening and closing (queue row, then entries) - a deadlock the benchmark found.
        transaction.on_commit(partial(_serving_advance, event_id, numbers[-1], rate))
    return numbers


def _serving_advance(event_id: int, number: int, rate: float) -> None:
    sql.execute(
        "UPDATE waitlist_eventqueue SET now_serving = GREATEST(now_serving, %s), admitted_per_minute = %s"
        " WHERE event_id = %s",
        [number, rate, event_id],
    )
    _moved_note(event_id, number)


# Per event: when the oldest and the newest admission not yet announced by this process
# committed (wall clock, seconds). ``since`` in the message is the oldest, so a client can tell
# how long "now serving" took to reach it.
_moved_pending: dict[int, tuple[float, float]] = {}
_pending_lock = threading.Lock()


def _moved_note(event_id: int, number: int) -> None:
    at = time.time()
    with _pending_lock:
        oldest, _ = _moved_pending.get(event_id, (at, at))
        _moved_pending[event_id] = (oldest, at)
    _moved_coalescer.add(event_id, [number])


def _moved_flush(event_id: int, numbers: set[int]) -> None:
    """Push "now serving" unless any process pushed it less than an interval ago. Such a push
    read the row after it, so it carried every move noted before it; a move noted after it is
    pushed one interval later, so the last move is never left unsent."""
    interval = dt.timedelta(milliseconds=settings.TICKETING_WAITING_ROOM_PUSH_MS)
    now = timezone.now()
    # Read at send time: a late message is never staler than the row.
    row = sql.row(
        "UPDATE waitlist_eventqueue SET pushed_at = %s WHERE event_id = %s"
        " AND (pushed_at IS NULL OR pushed_at <= %s) RETURNING now_serving, admitted_per_minute",
        [now, event_id, now - interval],
    )
    if row is None:
        pushed = EventQueue.objects.filter(event_id=event_id).values_list("pushed_at", flat=True).first()
        with _pending_lock:
            oldest, newest = _moved_pending.get(event_id, (0.0, 0.0))
            if pushed is None or pushed.timestamp() >= newest:
                _moved_pending.pop(event_id, None)  # all carried by the other push
                return
            _moved_pending[event_id] = (max(oldest, pushed.timestamp()), newest)
        if interval:
            _moved_coalescer.add(event_id, list(numbers))
        return
    with _pending_lock:
        since = _moved_pending.pop(event_id, (None, None))[0]
    message = {
        "type": "queue.moved",
        "event_id": event_id,
        "now_serving": row[0],
        "admitted_per_minute": row[1],
    }
    realtime.push(realtime.queue_group(event_id), {**message, "since": since})


# How often, per push interval, a process looks whether it may push. The database's
# ``pushed_at`` keeps pushes to one per interval across all processes; the coalescer only gathers.
PUSH_TRIES_PER_INTERVAL = 4


class _QueueCoalescer(Coalescer):
    @property
    def interval(self) -> float:
        # A quarter of the push interval, not all of it: gathering for the whole interval, and
        # for another whole one after another process's push refused this one, let the oldest
        # admission wait up to two intervals before its push went out (the waiting-room
        # benchmark's "now serving" p99 of 1.1-1.7 s). Now it waits at most about one interval
        # plus a quarter, and the pushes stay as rare as before.
        return settings.TICKETING_WAITING_ROOM_PUSH_MS / 1000 / PUSH_TRIES_PER_INTERVAL


_moved_coalescer = _QueueCoalescer(_moved_flush, name="queue-push-coalescer")


class _AdmitRetry(Coalescer):
    @property
    def interval(self) -> float:
        return settings.TICKETING_WAITING_ROOM_ADMIT_RETRY_MS / 1000


# Its own thread: waiting for the room's row there holds up no request.
_admit_retry = _AdmitRetry(
    lambda event_id, _: queue_admit_next(event_id=event_id, only_if_free=True), name="queue-admit-retry"
)


def queue_close(*, event_id: int, now: dt.datetime | None = None) -> int:
    """The event sold out: close its queue; everyone still waiting is told at once (one
    broadcast to the event) and pointed at the sold-out waitlist. Returns the entries closed.
    Buyers already admitted keep their turn. Idempotent."""
    now = now or timezone.now()
    if not EventQueue.objects.filter(event_id=event_id, closed_at__isnull=True).exists():
        return 0
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        queue = lock_one(EventQueue.objects.filter(event_id=event_id))
        if queue is None or queue.closed_at is not None:
            return 0
        EventQueue.objects.filter(event_id=event_id).update(closed_at=now)
        closed = QueueEntry.objects.filter(event_id=event_id, state=QueueState.WAITING).update(
            state=QueueState.CLOSED, ended_at=now
        )
        message = {
            "type": "queue.closed",
            "event_id": event_id,
            "at": time.time(),
            "reason": "sold_out",
            "waitlist": f"/api/events/{event_id}/waitlist",
        }
        transaction.on_commit(partial(realtime.push, realtime.queue_group(event_id), message))
    return closed


def queue_entries_expire(*, event_id: int, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Tidy up: waiting entries that lapsed (no check-in for the TTL) become ``expired`` with
    their cooldown written down. They stopped counting when they lapsed; this records it."""
    now = now or timezone.now()
    ttl = entry_ttl()
    return sql.execute(
        "UPDATE waitlist_queueentry SET state = 'expired', ended_at = last_seen_at + %s,"
        " cooldown_until = last_seen_at + %s WHERE id IN (SELECT id FROM waitlist_queueentry"
        " WHERE event_id = %s AND state = 'waiting' AND last_seen_at <= %s ORDER BY id LIMIT %s"
        " FOR UPDATE SKIP LOCKED)",
        [ttl, ttl + _cooldown(), event_id, now - ttl, limit],
    )


def queue_tick(*, now: dt.datetime | None = None) -> int:
    """One round of the sweep for every open waiting room: open queues whose sale has opened,
    expire lapsed entries, admit. Returns the numbers admitted. Correctness never waits for it:
    every count reads the times; this catches up what no request triggered."""
    now = now or timezone.now()
    admitted = 0
    events = EventQueue.objects.filter(closed_at__isnull=True).values_list("event_id", "opened_at")
    for event_id, opened_at in events:
        if not admission_selectors.room_enabled(event_id=event_id):
            continue
        try:
            if opened_at is None:
                queue_open(event_id=event_id, now=now)
            queue_entries_expire(event_id=event_id, now=now)
            admitted += len(queue_admit_next(event_id=event_id, now=now))
        except Exception:
            logger.exception("queue tick failed for event %s", event_id)
    return admitted


# --- checkout's hooks (subscribed in waitlist/apps.py) ----------------------------------


def queue_admission_freed(*, event_id: int, room_changed: bool = False) -> None:
    """A turn ended or the room changed: admit the next buyers now (or right after the
    admission that is running: the buyer whose purchase freed the slot does not wait for it).

    When the room changed (turned on, say) the queue is made ready first: its row exists, and
    it is open if the sale is. Then the first joins of the opening find a queue they can join
    in a batch (``queue_joins``) instead of each taking the full path to open it."""
    if room_changed:
        _queue_get(event_id)
        queue_open(event_id=event_id)
    # Left to the process's retry thread (within ``TICKETING_WAITING_ROOM_ADMIT_RETRY_MS``): the
    # purchase that freed the slot answers without an admission in its request (a transaction,
    # its notifications, "now serving"), and every turn that ended meanwhile is one admission.
    if not queue_admit_later(event_id=event_id):
        queue_admit_soon(event_id=event_id)


def queue_sold_out(*, event_id: int) -> None:
    queue_close(event_id=event_id)
