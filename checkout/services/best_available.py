"""Best available: the best free block of adjacent seats in a section, locked for a hold.

Concurrent buyers of one section take different blocks instead of queueing: blocks are
tried with ``SKIP LOCKED`` first, each in a savepoint so a half-won block never blocks
anyone, and only then is the best block waited for.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import NamedTuple

from django.db import transaction
from django.utils.translation import gettext

from checkout.errors import SeatsNotFound, SeatsUnavailable
from checkout.models import SeatInventory, SeatStatus
from checkout.selectors.availability import free_sql, row_is_free
from events.models import Event
from ticketing.core import sql
from ticketing.core.errors import Busy
from ticketing.core.locks import lock_rows_sql

# How many blocks to try with SKIP LOCKED before waiting for one, and how many fresh looks
# at the section before answering BUSY (never "sold out" on a guess).
SKIP_LOCKED_TRIES = 12
BEST_AVAILABLE_ROUNDS = 8


class Spot(NamedTuple):
    pk: int
    seat_id: int
    status: str
    hold_expires_at: dt.datetime | None
    row_rank: int
    row_label: str
    position: int


# (event id, section id) -> the section's spots as if every seat were free, and their index by
# inventory id. An event's inventory rows and their seats do not change once it is on sale
# (seats cannot be regenerated then), so each process reads a section's layout once and
# afterwards only the rows that are not available, patching those few into a copy: most
# best-available holds read a handful of rows and build a handful of spots instead of joining
# and building every seat of the section (the largest CPU items of a hold in the profile).
_LAYOUTS: dict[tuple[int, int], tuple[list[Spot], dict[int, int]]] = {}
_LAYOUTS_MAX = 2000


def _section_layout(
    event_id: int, section_id: int, *, fresh: bool = False
) -> tuple[list[Spot], dict[int, int]]:
    """The section's spots, all free, and each spot's index by inventory id."""
    key = (event_id, section_id)
    cached = None if fresh else _LAYOUTS.get(key)
    if cached is None:
        spots = [
            Spot(pk, seat_id, SeatStatus.AVAILABLE, None, rank, label, position)
            for pk, seat_id, rank, label, position in sql.rows(
                """
                SELECT i.id, i.seat_id, s.row_rank, s.row_label, s.position
                  FROM checkout_seatinventory i JOIN events_seat s ON s.id = i.seat_id
                 WHERE i.event_id = %s AND i.section_id = %s
                 ORDER BY i.id
                """,
                [event_id, section_id],
            )
        ]
        cached = (spots, {spot.pk: n for n, spot in enumerate(spots)})
        if spots:
            if len(_LAYOUTS) >= _LAYOUTS_MAX:
                _LAYOUTS.clear()
            _LAYOUTS[key] = cached
    return cached


def _section_spots(event: Event, section_id: int) -> list[Spot]:
    taken = sql.rows(
        """
        SELECT id, status, hold_expires_at FROM checkout_seatinventory
         WHERE event_id = %s AND section_id = %s AND status IN (%s, %s)
        """,
        [event.pk, section_id, SeatStatus.HELD, SeatStatus.SOLD],
    )
    layout, index = _section_layout(event.pk, section_id)
    if any(pk not in index for pk, _, _ in taken):
        # Rows this process has not seen (inventory added since): read the layout again.
        layout, index = _section_layout(event.pk, section_id, fresh=True)
    spots = list(layout)
    for pk, status, expires in taken:
        n = index[pk]
        spots[n] = spots[n]._replace(status=status, hold_expires_at=expires)
    return spots


# One row further from the stage weighs as much as this many seats away from the centre line.
ROW_WEIGHT = 2.0


def block_score(*, row_rank: int, first: int, quantity: int, row_first: int, row_last: int) -> float:
    """How far a block of seats is from the best place in the house: lower is better.

    The best place is the front row (``row_rank`` 0 is the row nearest the stage) on the
    section's centre line. Rows are laid out centred on one axis, so a row's own middle
    (half-way between its first and last seat, taken or not) lies on that line. The score is
    the block's distance from the line in seats plus ``ROW_WEIGHT`` per row back: the aisle
    end of row A loses to the middle of row B, the middle of row A beats both.
    """
    off_centre = abs(first + (quantity - 1) / 2 - (row_first + row_last) / 2)
    return row_rank * ROW_WEIGHT + off_centre


def best_blocks(spots: list[Spot], quantity: int, now: dt.datetime) -> list[list[int]]:
    """Candidate blocks (inventory ids), best first: the one ranking rule of best available.

    Adjacent free seats in one row, ranked by:
    1. no single seat stranded beside the block (a seat alone between taken ones is nearly
       unsellable, so this wins over everything else);
    2. ``block_score``: nearest the section's centre line and the stage;
    3. row, then position (a stable order for equal scores).
    If no row has ``quantity`` adjacent free seats, one last block takes the free seats with
    the best scores wherever they are.
    """
    rows: dict[tuple[int, str], list[Spot]] = defaultdict(list)
    free: list[tuple[float, int, int, int]] = []
    for spot in spots:
        rows[(spot.row_rank, spot.row_label)].append(spot)
    windows: list[tuple[tuple[int, float, int, int], list[int]]] = []
    for (rank, _label), row in rows.items():
        row.sort(key=lambda s: s.position)
        row_first, row_last = row[0].position, row[-1].position
        runs: list[list[Spot]] = []
        run: list[Spot] = []
        previous = None
        for spot in row:
            if row_is_free(spot.status, spot.hold_expires_at, now):
                score = block_score(
                    row_rank=rank, first=spot.position, quantity=1, row_first=row_first, row_last=row_last
                )
                free.append((score, rank, spot.position, spot.pk))
                if run and previous is not None and spot.position == previous + 1:
                    run.append(spot)
                else:
                    if run:
                        runs.append(run)
                    run = [spot]
            else:
                if run:
                    runs.append(run)
                run = []
            previous = spot.position
        if run:
            runs.append(run)
        for run in runs:
            spare = len(run) - quantity
            # Hot in every best-available hold: slice a list of ids, not spots, per window.
            pks = [s.pk for s in run]
            first = run[0].position
            for start in range(spare + 1):
                stranded = (start == 1) + (spare - start == 1)
                score = block_score(
                    row_rank=rank,
                    first=first + start,
                    quantity=quantity,
                    row_first=row_first,
                    row_last=row_last,
                )
                windows.append(((stranded, score, rank, first + start), pks[start : start + quantity]))
    windows.sort(key=lambda w: w[0])
    blocks = [pks for _, pks in windows]
    if not blocks and len(free) >= quantity:
        free.sort()
        blocks.append([pk for _, _, _, pk in sorted(free[:quantity], key=lambda f: (f[1], f[2]))])
    return blocks


_ROW_FIELDS = ["id", "event_id", "seat_id", "section_id", "status", "hold_id", "hold_expires_at"]


def _lock_block(
    pks: list[int], now: dt.datetime, *, skip_locked: bool
) -> tuple[list[SeatInventory], set[int]]:
    """Lock ``pks`` if every one is free; else lock none. Returns (rows, ids that failed)."""
    # A savepoint per try: rolling it back drops the row locks taken in it, so a half-won
    # block never blocks other buyers. A single seat is won or not: it needs none.
    sid = transaction.savepoint() if len(pks) > 1 else None
    found = lock_rows_sql(
        table="checkout_seatinventory",
        columns=", ".join(f"checkout_seatinventory.{f}" for f in _ROW_FIELDS),
        where=f"checkout_seatinventory.id = ANY(%(pks)s) AND {free_sql('checkout_seatinventory')}",
        params={"pks": pks, "now": now},
        skip_locked=skip_locked,
    )
    if len(found) == len(pks):
        if sid:
            transaction.savepoint_commit(sid)
        return [SeatInventory.from_db("default", _ROW_FIELDS, values) for values in found], set()
    if sid:
        transaction.savepoint_rollback(sid)
    return [], set(pks) - {values[0] for values in found}


class Claimed(NamedTuple):
    rows: list[SeatInventory]
    free_after: int  # free seats left in the section once these are held (as read before)


def best_available_lock(*, event: Event, section_id: int, quantity: int, now: dt.datetime) -> Claimed:
    """Lock the best free block of ``quantity`` seats in a section.

    Tries blocks with ``SKIP LOCKED`` (concurrent buyers take different seats instead of
    queueing), then waits for the best one; says "sold out" only when a fresh read shows fewer
    than ``quantity`` free seats (seats other buyers are still deciding on count as free).
    """
    for _ in range(BEST_AVAILABLE_ROUNDS):
        spots = _section_spots(event, section_id)
        if not spots:
            raise SeatsNotFound(gettext("No such section at this event."), extra={"section_id": section_id})
        available = sum(1 for s in spots if row_is_free(s.status, s.hold_expires_at, now))
        if available < quantity:
            raise SeatsUnavailable(
                gettext("Not enough free seats in this section."),
                extra={
                    "seat_ids": [],
                    "section_id": section_id,
                    "available": available,
                    "requested": quantity,
                },
            )
        blocks = best_blocks(spots, quantity, now)
        failed: set[int] = set()
        tries = 0
        for block in blocks:
            if failed.intersection(block):
                continue
            rows, lost = _lock_block(block, now, skip_locked=True)
            if rows:
                return Claimed(rows, available - quantity)
            failed |= lost
            tries += 1
            if tries >= SKIP_LOCKED_TRIES:
                break
        # Every block tried is being taken by someone else: wait for the best one (lock
        # timeout bounded), then look again with what those buyers committed.
        rows, _ = _lock_block(blocks[0], now, skip_locked=False)
        if rows:
            return Claimed(rows, available - quantity)
    raise Busy(gettext("Seats in this section are in high demand; please retry."))
