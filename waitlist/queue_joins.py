"""The common join, for many buyers in one statement: what the request path and the event loop share.

A join that is simply a join (the room is on, the event selling, its queue open or the sale not
yet open; the buyer new to the queue, or already waiting) is one statement for any number of
buyers of one event: read the event and its queue, take consecutive numbers from the counter,
insert the entries, answer each buyer's place. Everything else (a rejoin after a turn, a
cooldown, an admitted buyer, an event that is not selling, a queue not yet opened) is left to
``queue_services.queue_join``'s full path, which explains itself with the right error. That
path runs this statement first too, so the rules below are the only statement of "a join is
simple" and the full path is reached only by what this one leaves.

At an on-sale's opening the event loop (``waitlist.queue_loop``) gathers thousands of joins into
a few of these statements; that is what keeps 2,000 buyers arriving in the same second from
queueing for request threads (docs/waiting-room.md, "Joins at the opening").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from checkout.selectors import admission as admission_selectors
from events.models import EventStatus
from ticketing.core import sql
from ticketing.core.locks import busy_on_lock_timeout, lock_timeout_value
from waitlist.models import QueueState
from waitlist.queue_selectors import QueueView, entry_lapsed, view_from

# Params: event, users (bigint[], the batch's buyers, distinct), now. One row per buyer, in order.
# Run right after ``JOIN_LOCK_SQL`` in the same transaction: this statement's snapshot is then
# taken with the queue's counter row locked, and every entry is inserted under that lock
# (joins, rejoins, the opening's shuffle), so ``have`` misses no entry of a buyer who joined
# concurrently and the numbers have no gaps.
JOIN_BATCH_SQL = f"""
    WITH ev AS (
        SELECT e.status, e.starts_at, e.sales_open_at, e.sales_close_at, e.sold_out,
               q.opened_at, q.closed_at, q.now_serving, q.admitted_per_minute,
               {admission_selectors.ROOM_ENABLED_SQL} AS room_on
          FROM events_event e JOIN waitlist_eventqueue q ON q.event_id = e.id
         WHERE e.id = %(event)s
    ), ok AS (
        SELECT (sales_open_at IS NOT NULL AND %(now)s < sales_open_at) AS early FROM ev
         WHERE room_on AND closed_at IS NULL AND NOT sold_out
           AND status = '{EventStatus.ON_SALE.value}' AND %(now)s < starts_at
           AND (sales_close_at IS NULL OR %(now)s < sales_close_at)
           AND (opened_at IS NOT NULL OR (sales_open_at IS NOT NULL AND %(now)s < sales_open_at))
    ), req AS (
        SELECT u AS user_id, i FROM unnest(%(users)s::bigint[]) WITH ORDINALITY AS t(u, i)
    ), have AS (
        SELECT x.user_id, x.number, x.state, x.early, x.last_seen_at
          FROM waitlist_queueentry x JOIN req ON req.user_id = x.user_id
         WHERE x.event_id = %(event)s
    ), fresh AS (
        SELECT req.user_id, row_number() OVER (ORDER BY req.i) AS k, ok.early
          FROM req CROSS JOIN ok
         WHERE NOT EXISTS (SELECT 1 FROM have WHERE have.user_id = req.user_id)
    ), n AS (
        UPDATE waitlist_eventqueue SET last_number = last_number + (SELECT count(*) FROM fresh)
         WHERE event_id = %(event)s AND EXISTS (SELECT 1 FROM fresh)
        RETURNING last_number - (SELECT count(*) FROM fresh) AS base
    ), ins AS (
        INSERT INTO waitlist_queueentry (event_id, user_id, number, state, early, joined_at, last_seen_at)
        SELECT %(event)s, fresh.user_id, n.base + fresh.k, 'waiting', fresh.early, %(now)s, %(now)s
          FROM fresh CROSS JOIN n ORDER BY fresh.k
        ON CONFLICT (user_id, event_id) DO NOTHING
        RETURNING user_id, number, early
    )
    SELECT req.user_id, ins.user_id IS NOT NULL, COALESCE(ins.number, have.number),
           COALESCE(ins.early, have.early), have.state, have.last_seen_at,
           EXISTS (SELECT 1 FROM ok), ev.now_serving, ev.admitted_per_minute, ev.opened_at IS NOT NULL
      FROM req LEFT JOIN ins ON ins.user_id = req.user_id LEFT JOIN have ON have.user_id = req.user_id
      LEFT JOIN ev ON true
     ORDER BY req.i
"""


@dataclass(frozen=True)
class BatchJoin:
    """One buyer's answer from ``JOIN_BATCH_SQL``: ``view`` is None when the full path must decide."""

    user_id: int
    view: QueueView | None
    created: bool
    # The entry was new and counts now (not a provisional pre-opening number): admit soon.
    admits: bool


def batch_outcomes(*, event_id: int, rows: list[tuple], now: dt.datetime) -> list[BatchJoin]:
    """Read ``JOIN_BATCH_SQL``'s rows."""
    out = []
    for (
        user_id,
        created,
        number,
        early,
        state,
        last_seen_at,
        takes_joins,
        serving,
        rate,
        opened,
    ) in rows:
        simple = takes_joins and (
            created or (state == QueueState.WAITING and not entry_lapsed(last_seen_at=last_seen_at, now=now))
        )
        view = None
        if simple:
            view = view_from(
                event_id=event_id,
                number=number,
                state=QueueState.WAITING,
                early=early,
                last_seen_at=now if created else last_seen_at,
                pass_id=None,
                now_serving=serving,
                rate=rate,
                opened=opened,
                closed=False,
                now=now,
            )
        out.append(BatchJoin(user_id=user_id, view=view, created=bool(created), admits=created and not early))
    return out


def joins_simple(*, event_id: int, user_ids: list[int], now: dt.datetime) -> list[BatchJoin]:
    """``JOIN_BATCH_SQL`` on this thread's connection, in its own transaction (the request path)."""
    with busy_on_lock_timeout(), transaction.atomic():
        sql.execute(JOIN_LOCK_SQL, join_lock_params(event_id))
        rows = sql.rows(JOIN_BATCH_SQL, {"event": event_id, "users": user_ids, "now": now})
    return batch_outcomes(event_id=event_id, rows=rows, now=now)


# The queue's counter row, locked until commit (with a bounded wait), first in the transaction.
# Not waiting for the WAL flush at commit: 2,000 joins would otherwise queue behind 2,000 disk
# flushes, one at a time, each holding the counter. A place in the queue is not money: a crash
# in the next few milliseconds loses those joins and their numbers together (the counter's
# update is in the same transaction, so no number is ever given twice) and the buyers join again.
JOIN_LOCK_SQL = (
    "SELECT set_config('lock_timeout', %(lock_timeout)s, true),"
    " set_config('synchronous_commit', 'off', true),"
    " (SELECT last_number FROM waitlist_eventqueue WHERE event_id = %(event)s FOR UPDATE)"
)


def join_lock_params(event_id: int) -> dict:
    """``JOIN_LOCK_SQL``'s parameters: the event, and the lock wait bound every lock here has."""
    return {"event": event_id, "lock_timeout": lock_timeout_value()}
