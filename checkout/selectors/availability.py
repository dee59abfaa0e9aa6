"""The one owner of seat availability: whether a seat is free, per-section counts, sold-out,
and the inventory version that keys every cached availability read.

The free-seat rule lives here and nowhere else. A seat is free at ``now`` when its inventory
row is ``available``, or ``held`` by a hold whose ``hold_expires_at`` has passed: an expired
hold stops counting the instant it expires, whether or not the sweeper has run (pretix's
``CartPosition.expires``, Saleor's ``Reservation.not_expired()``). Every other state is taken.
The rule comes in three spellings of the same definition, each for where it is needed:

* ``free_q(now)`` / ``taken_q(now)``: queryset filters (most reads and every lock);
* ``taken_sql(alias)`` / ``free_sql(alias)``: the SQL spelling for the few reads that must be
  raw SQL (grouped scans on the on-sale hot path), each the complement of the other as the
  three statuses are exhaustive and the CHECK constraint ties ``held`` to a non-null expiry;
* ``row_is_free(status, hold_expires_at, now)``: for rows already in memory (best-available).

Catalog pages, the waitlist, metrics and reconciliation ask this module; they never spell
the rule themselves (``tests/test_architecture.py`` greps for it).
"""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q

from checkout.models import SeatInventory, SeatStatus
from events.selectors.cache import CATALOG_VERSION_SQL


def free_q(now: dt.datetime) -> Q:
    """Inventory rows a buyer could take at ``now``: available, or held by an expired hold."""
    return Q(status=SeatStatus.AVAILABLE) | Q(status=SeatStatus.HELD, hold_expires_at__lte=now)


def taken_q(now: dt.datetime) -> Q:
    """The complement of ``free_q``: sold, or held by a hold that has not expired."""
    return Q(status=SeatStatus.SOLD) | Q(status=SeatStatus.HELD, hold_expires_at__gt=now)


def taken_sql(alias: str = "") -> str:
    """``taken_q`` as SQL over ``checkout_seatinventory`` (``alias.`` prefixed), ``%(now)s`` bound."""
    p = f"{alias}." if alias else ""
    return (
        f"({p}status = '{SeatStatus.SOLD}' "
        f"OR ({p}status = '{SeatStatus.HELD}' AND {p}hold_expires_at > %(now)s))"
    )


def free_sql(alias: str = "") -> str:
    """``free_q`` as SQL: the same definition as ``taken_sql``, written positively so the
    (event, section, status) index can find an available row without scanning taken ones."""
    p = f"{alias}." if alias else ""
    return (
        f"({p}status = '{SeatStatus.AVAILABLE}' "
        f"OR ({p}status = '{SeatStatus.HELD}' AND {p}hold_expires_at <= %(now)s))"
    )


def row_is_free(status: str, hold_expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    """``free_q`` for one row already read."""
    return status == SeatStatus.AVAILABLE or (
        status == SeatStatus.HELD and hold_expires_at is not None and hold_expires_at <= now
    )


# --- counts -----------------------------------------------------------------------------


def section_totals(*, event_id: int) -> dict[int, int]:
    """``{section_id: inventory rows}``: fixed once an event is on sale, so callers cache it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT section_id, COUNT(*) FROM checkout_seatinventory WHERE event_id = %s GROUP BY section_id",
            [event_id],
        )
        return dict(cursor.fetchall())


def taken_by_section(*, event_id: int, now: dt.datetime) -> tuple[dict[int, int], dt.datetime | None]:
    """``{section_id: taken seats}`` at ``now`` and the first future hold expiry.

    Reads only the taken rows, which the (event, section, status) index finds directly: during
    an on-sale this is the part of a page rebuild that changes with every hold.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT section_id, COUNT(*), MIN(hold_expires_at)
              FROM checkout_seatinventory
             WHERE event_id = %(e)s AND status IN ('held', 'sold') AND {taken_sql()}
             GROUP BY section_id
            """,
            {"e": event_id, "now": now},
        )
        rows = cursor.fetchall()
    first_expiry = min((r[2] for r in rows if r[2] is not None), default=None)
    return {sid: n for sid, n, _ in rows}, first_expiry


def taken_seats(*, event_id: int, now: dt.datetime) -> list[tuple[int, dt.datetime | None]]:
    """``(seat_id, hold_expires_at)`` of every taken seat of the event at ``now`` (the seat map)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT seat_id, hold_expires_at FROM checkout_seatinventory
             WHERE event_id = %(e)s AND status IN ('held', 'sold') AND {taken_sql()}
            """,
            {"e": event_id, "now": now},
        )
        return cursor.fetchall()


# event id -> ``section_totals``: an event's inventory rows are created at once when it goes on
# sale and never change after, so each process counts them once per event.
_TOTALS: dict[int, dict[int, int]] = {}
_TOTALS_MAX = 5000


def _section_totals_cached(event_id: int) -> dict[int, int]:
    totals = _TOTALS.get(event_id)
    if totals is None:
        totals = section_totals(event_id=event_id)
        if totals:  # none yet: not on sale, may still come
            if len(_TOTALS) >= _TOTALS_MAX:
                _TOTALS.clear()
            _TOTALS[event_id] = totals
    return totals


def section_availability(*, event_id: int, now: dt.datetime) -> dict[int, dict[str, int]]:
    """``{section_id: {"free": n, "sold": n, "total": n}}`` for one event at ``now``. Held by a
    live hold is the rest: ``total - free - sold``.

    Reads only the taken rows (the (event, section, status) index finds them) against the
    per-process section totals: after every burst of holds the seat-map push asks this, and
    early in a sale, when the pushes are most frequent, few rows are taken.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT section_id, COUNT(*), COUNT(*) FILTER (WHERE status = '{SeatStatus.SOLD}')
              FROM checkout_seatinventory
             WHERE event_id = %(e)s AND status IN ('held', 'sold') AND {taken_sql()}
             GROUP BY section_id
            """,
            {"e": event_id, "now": now},
        )
        taken = {sid: (n, sold) for sid, n, sold in cursor.fetchall()}
    totals = _section_totals_cached(event_id)
    if not taken.keys() <= totals.keys():
        _TOTALS.pop(event_id, None)
        totals = _section_totals_cached(event_id)
    result = {}
    for sid in sorted(totals):
        n, sold = taken.get(sid, (0, 0))
        result[sid] = {"free": totals[sid] - n, "sold": sold, "total": totals[sid]}
    return result


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


def free_seat_count(*, event_id: int, now: dt.datetime, section_id: int | None = None) -> int:
    qs = SeatInventory.objects.filter(free_q(now), event_id=event_id)
    if section_id is not None:
        qs = qs.filter(section_id=section_id)
    return qs.count()


def event_has_free_seat(*, event_id: int, now: dt.datetime) -> bool:
    return SeatInventory.objects.filter(free_q(now), event_id=event_id).exists()


def seat_states(*, event_id: int, seat_ids: list[int], now: dt.datetime) -> tuple[list[int], list[int]]:
    """Split ``seat_ids`` (``events.Seat`` ids) into (free, taken) as of ``now``."""
    free, taken = [], []
    rows = SeatInventory.objects.filter(event_id=event_id, seat_id__in=seat_ids).values_list(
        "seat_id", "status", "hold_expires_at"
    )
    for seat_id, status, expires in sorted(rows):
        (free if row_is_free(status, expires, now) else taken).append(seat_id)
    return free, taken


def seat_counts(*, event_id: int, now: dt.datetime) -> dict[str, int]:
    """``{"total", "sold", "held", "free"}`` of one event, held meaning held by a live hold."""
    counts = SeatInventory.objects.filter(event_id=event_id).aggregate(
        total=Count("id"),
        sold=Count("id", filter=Q(status=SeatStatus.SOLD)),
        taken=Count("id", filter=taken_q(now)),
    )
    held = counts["taken"] - counts["sold"]
    return {
        "total": counts["total"],
        "sold": counts["sold"],
        "held": held,
        "free": counts["total"] - counts["taken"],
    }


def seat_counts_on_sale(*, now: dt.datetime) -> dict[str, int]:
    """Seats of upcoming on-sale events by effective status (``available``/``held``/``sold``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT CASE WHEN {free_sql("i")} THEN 'available' ELSE i.status END AS s, COUNT(*)
              FROM checkout_seatinventory i
              JOIN events_event e ON e.id = i.event_id
             WHERE e.status = 'on_sale' AND e.ends_at > %(now)s
             GROUP BY 1
            """,
            {"now": now},
        )
        counts = dict(cursor.fetchall())
    return {status: counts.get(status, 0) for status in SeatStatus.values}


def sold_out_state(*, event_id: int, now: dt.datetime) -> tuple[bool, dt.datetime | None]:
    """``(sold_out, until)``: no free seat, and the first live hold's expiry (seats may return).

    An event without inventory is not sold out (it is not on sale yet).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT EXISTS (
                       SELECT 1 FROM checkout_seatinventory WHERE event_id = %(e)s AND {free_sql()}
                   ),
                   EXISTS (SELECT 1 FROM checkout_seatinventory WHERE event_id = %(e)s)
            """,
            {"e": event_id, "now": now},
        )
        any_free, has_inventory = cursor.fetchone()
        if any_free or not has_inventory:
            return False, None
        # Only a sold-out event pays for scanning its holds.
        cursor.execute(
            """
            SELECT MIN(hold_expires_at) FROM checkout_seatinventory
             WHERE event_id = %(e)s AND status = 'held' AND hold_expires_at > %(now)s
            """,
            {"e": event_id, "now": now},
        )
        return True, cursor.fetchone()[0]


# --- versions ---------------------------------------------------------------------------
#
# The inventory version of an event is the sum of its shards (``InventoryVersion``); it is
# read in exactly one way, this subquery, whether for one event or for a batch.

_INVENTORY_VERSION_SQL = (
    "COALESCE((SELECT SUM(version) FROM checkout_inventoryversion WHERE event_id = {}), 0)"
)


def inventory_version_read(*, event_id: int) -> int:
    """The event's current inventory version (0 before any change)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + _INVENTORY_VERSION_SQL.format("%s"), [event_id])
        return int(cursor.fetchone()[0])


def event_versions_read(*, event_id: int) -> tuple[int, int]:
    """``(catalog version, inventory version of event_id)`` in one round trip."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {CATALOG_VERSION_SQL}, " + _INVENTORY_VERSION_SQL.format("%s"), [event_id])
        catalog, inventory = cursor.fetchone()
        return int(catalog), int(inventory)


# ``event_versions_read`` for many events at once, for the event loop's version reader
# (``ticketing.server.version_prefetch``): $1 is a comma-separated list of event ids ('' for
# none); the answer is the catalog version and an array of inventory versions in id order.
EVENT_VERSIONS_BATCH_SQL = f"""
SELECT {CATALOG_VERSION_SQL},
       ARRAY(SELECT {_INVENTORY_VERSION_SQL.format("e.id")}
               FROM unnest(string_to_array($1, ',')::bigint[]) WITH ORDINALITY AS e(id, n)
              ORDER BY e.n)
"""
