"""Best available: the best free block of adjacent seats in a section, locked for a hold.

Concurrent buyers of one section take different blocks instead of queueing: blocks are
tried with ``SKIP LOCKED`` first, each in a savepoint so a half-won block never blocks
anyone, and only then is the best block waited for.
"""

from __future__ import annotations

import datetime as dt
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


class Layout:
    """A section's seats as the ranking needs them, independent of who holds what.

    Rows (in inventory order), each as its seats in position order cut into *segments* of
    consecutive positions (an aisle gap ends a segment: a block never spans it), and the
    windows of ``quantity`` seats inside the segments ranked once per quantity by
    ``block_score``. The layout of an on-sale event does not change (seats cannot be
    regenerated then), so each process builds it once per section and every best-available
    hold afterwards only walks the ranked windows past the few that touch a taken seat, instead
    of building and sorting every window of the section (the largest CPU item of a hold).
    """

    __slots__ = ("_rank", "_ranked", "_row_of", "_segments", "size")

    def __init__(self, spots: list[Spot]) -> None:
        rows: dict[tuple[int, str], list[Spot]] = {}
        for spot in spots:
            rows.setdefault((spot.row_rank, spot.row_label), []).append(spot)
        self.size = len(spots)
        self._rank: list[int] = []
        # Per segment: (row index, its inventory ids, its positions, the row's first/last position).
        self._segments: list[tuple[int, list[int], list[int], int, int]] = []
        # Inventory id -> (segment index, index in the segment).
        self._row_of: dict[int, tuple[int, int]] = {}
        for row_index, ((rank, _label), row) in enumerate(rows.items()):
            row.sort(key=lambda s: s.position)
            self._rank.append(rank)
            row_first, row_last = row[0].position, row[-1].position
            segment: list[Spot] = []
            for spot in row:
                if segment and spot.position != segment[-1].position + 1:
                    self._add_segment(row_index, segment, row_first, row_last)
                    segment = []
                segment.append(spot)
            self._add_segment(row_index, segment, row_first, row_last)
        self._ranked: dict[int, list[tuple[int, int, tuple[int, ...]]]] = {}

    def _add_segment(self, row_index: int, segment: list[Spot], row_first: int, row_last: int) -> None:
        n = len(self._segments)
        for i, spot in enumerate(segment):
            self._row_of[spot.pk] = (n, i)
        self._segments.append(
            (row_index, [s.pk for s in segment], [s.position for s in segment], row_first, row_last)
        )

    def ranked(self, quantity: int) -> list[tuple[int, int, tuple[int, ...]]]:
        """Every window of ``quantity`` adjacent seats as (segment, start, ids), best score first.

        Ties keep the order of the rule: row rank, then position, then row (inventory order).
        """
        cached = self._ranked.get(quantity)
        if cached is None:
            keyed = []
            for n, (row_index, pks, positions, row_first, row_last) in enumerate(self._segments):
                rank = self._rank[row_index]
                for start in range(len(pks) - quantity + 1):
                    score = block_score(
                        row_rank=rank,
                        first=positions[start],
                        quantity=quantity,
                        row_first=row_first,
                        row_last=row_last,
                    )
                    keyed.append(
                        (
                            (score, rank, positions[start], row_index),
                            n,
                            start,
                            tuple(pks[start : start + quantity]),
                        )
                    )
            keyed.sort(key=lambda w: w[0])
            cached = [(n, start, pks) for _, n, start, pks in keyed]
            self._ranked[quantity] = cached
        return cached

    def contains(self, pk: int) -> bool:
        return pk in self._row_of

    def blocks(self, taken: set[int], quantity: int, *, limit: int | None = None) -> list[list[int]]:
        """``best_blocks``' ranking of the free windows, given the ids of the seats not free.

        With ``limit``, stops once that many blocks that strand no seat are found: they are
        the first ``limit`` of the full ranking, since stranding outranks every score.
        """
        segments = self._segments
        # By how many seats they strand (0, 1 or 2): fewer outranks every score.
        ranked: tuple[list[list[int]], ...] = ([], [], [])
        clean = ranked[0]

        def free(segment: list[int], i: int) -> bool:
            return 0 <= i < len(segment) and segment[i] not in taken

        for n, start, pks in self.ranked(quantity):
            if taken and any(pk in taken for pk in pks):
                continue
            segment = segments[n][1]
            end = start + quantity
            # A single free seat left beside the block, fenced by a taken seat or an edge.
            stranded = (free(segment, start - 1) and not free(segment, start - 2)) + (
                free(segment, end) and not free(segment, end + 1)
            )
            ranked[stranded].append(list(pks))
            if not stranded and limit is not None and len(clean) >= limit:
                return clean
        blocks = ranked[0] + ranked[1] + ranked[2]
        if limit is not None:
            del blocks[limit:]
        if not blocks:
            blocks = self._scattered(taken, quantity)
        return blocks

    def _scattered(self, taken: set[int], quantity: int) -> list[list[int]]:
        """No row has ``quantity`` adjacent free seats: the best-scored free seats anywhere."""
        picked = []
        for n, start, (pk,) in self.ranked(1):
            if pk not in taken:
                picked.append((self._rank[self._segments[n][0]], self._segments[n][2][start], pk))
                if len(picked) == quantity:
                    return [[pk for _, _, pk in sorted(picked)]]
        return []


# (event id, section id) -> the section's layout, per process (see ``Layout``).
_LAYOUTS: dict[tuple[int, int], Layout] = {}
_LAYOUTS_MAX = 2000


def _section_layout(event_id: int, section_id: int, *, fresh: bool = False) -> Layout:
    key = (event_id, section_id)
    cached = None if fresh else _LAYOUTS.get(key)
    if cached is None:
        cached = Layout(
            [
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
        )
        if cached.size:
            if len(_LAYOUTS) >= _LAYOUTS_MAX:
                _LAYOUTS.clear()
            _LAYOUTS[key] = cached
    return cached


def _section_taken(event: Event, section_id: int, now: dt.datetime) -> tuple[Layout, set[int]]:
    """The section's layout and the ids of its seats that are not free at ``now``."""
    rows = sql.rows(
        """
        SELECT id, status, hold_expires_at FROM checkout_seatinventory
         WHERE event_id = %s AND section_id = %s AND status IN (%s, %s)
        """,
        [event.pk, section_id, SeatStatus.HELD, SeatStatus.SOLD],
    )
    layout = _section_layout(event.pk, section_id)
    if any(not layout.contains(pk) for pk, _, _ in rows):
        # Rows this process has not seen (inventory added since): read the layout again.
        layout = _section_layout(event.pk, section_id, fresh=True)
    return layout, {pk for pk, status, expires in rows if not row_is_free(status, expires, now)}


def best_blocks(
    spots: list[Spot], quantity: int, now: dt.datetime, *, limit: int | None = None
) -> list[list[int]]:
    """Candidate blocks (inventory ids), best first: the one ranking rule of best available.

    Adjacent free seats in one row, ranked by:
    1. no single seat stranded beside the block (a seat alone between taken ones is nearly
       unsellable, so this wins over everything else);
    2. ``block_score``: nearest the section's centre line and the stage;
    3. row, then position (a stable order for equal scores).
    If no row has ``quantity`` adjacent free seats, one last block takes the free seats with
    the best scores wherever they are. ``limit`` keeps only the first blocks of the ranking.
    """
    taken = {s.pk for s in spots if not row_is_free(s.status, s.hold_expires_at, now)}
    return Layout(spots).blocks(taken, quantity, limit=limit)


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
        layout, taken = _section_taken(event, section_id, now)
        if not layout.size:
            raise SeatsNotFound(gettext("No such section at this event."), extra={"section_id": section_id})
        available = layout.size - len(taken)
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
        # More candidates than tries: blocks overlapping one lost to another buyer are skipped.
        blocks = layout.blocks(taken, quantity, limit=4 * SKIP_LOCKED_TRIES)
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
