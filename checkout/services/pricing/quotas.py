"""Counting caps and code uses race-proof, and giving them back (one statement each)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from checkout.errors import CodeUsedUp, TypeSoldOut
from checkout.services.pricing.catalog import Catalog
from checkout.services.pricing.rules import Choice, Priced, hold_price
from ticketing.core import sql

# Caps and code uses taken in one round trip. A counted type's counter is upserted only while
# ``used + n <= quota`` holds on the row as locked (ON CONFLICT DO UPDATE re-checks its WHERE on
# the latest version, after waiting for a concurrent holder), a code's ``used`` only while under
# its limit: no read-then-write, so concurrent holds cannot overshoot. A type's first counted
# hold starts its counter at the seats already held or sold as that type (it may have had no
# cap until now); a concurrent first hold conflicts and adds only its own seats. Once a type has
# a counter it stays counted, so removing and restoring a cap cannot lose track.
_QUOTA_TAKE_SQL = """
    WITH wanted AS (
        SELECT w.type_id, w.n, t.quota,
               CASE WHEN EXISTS (SELECT 1 FROM checkout_tickettypecount x WHERE x.ticket_type_id = w.type_id)
                    THEN 0
                    ELSE (SELECT count(*) FROM checkout_seatinventory i
                            LEFT JOIN checkout_hold h ON h.id = i.hold_id
                           WHERE i.event_id = t.event_id AND i.ticket_type_id = w.type_id
                             AND (i.status = 'sold'
                                  OR (i.status = 'held' AND h.status IN ('active', 'paying'))))
               END AS base
          FROM unnest(%(types)s::bigint[], %(counts)s::int[]) AS w(type_id, n)
          JOIN events_tickettype t ON t.id = w.type_id
    ), types AS (
        INSERT INTO checkout_tickettypecount AS c (ticket_type_id, used)
        SELECT type_id, n + base FROM wanted WHERE quota IS NULL OR n + base <= quota
        ON CONFLICT (ticket_type_id) DO UPDATE
           SET used = c.used + (SELECT w.n FROM wanted w WHERE w.type_id = EXCLUDED.ticket_type_id)
         WHERE NOT EXISTS (
                SELECT 1 FROM wanted w
                 WHERE w.type_id = EXCLUDED.ticket_type_id AND c.used + w.n > w.quota)
        RETURNING c.ticket_type_id
    ), codes AS (
        UPDATE checkout_code SET used = used + 1
         WHERE id = ANY(%(codes)s) AND (use_limit IS NULL OR used < use_limit)
        RETURNING id
    )
    SELECT (SELECT COALESCE(array_agg(ticket_type_id), '{}') FROM types),
           (SELECT COALESCE(array_agg(id), '{}') FROM codes)
"""


# How many times the default may hand a seat to the next type when the one it picked sold out
# under lock (an early bird's last tickets taken by concurrent holds).
TYPE_FALLBACKS = 4


# Retire expired holds that still count against the given types' caps or codes' uses; True
# when some were retired (then counting again may succeed). Supplied by the hold services.
Reclaim = Callable[..., bool]


def hold_price_counted(
    *,
    rows: Sequence[Any],
    catalog: Catalog,
    choice: Choice,
    general_sale: bool,
    now: dt.datetime,
    reclaim: Reclaim | None = None,
) -> Priced:
    """``hold_price``, then count the capped types and codes (``quota_take``).

    A type the default picked that sells out under lock hands its seats to the next type; one
    the buyer named raises ``TypeSoldOut``; a code used up raises ``CodeUsedUp``. Before either
    answer, ``reclaim`` retires expired holds still counted against them (an expired hold stops
    counting the moment it expires, as its seats do, whether or not the sweeper has run) and
    the count is tried once more. Caller's transaction (a rollback gives it all back).
    """
    taken: Counter = Counter()
    excluded: frozenset[int] = frozenset()
    may_reclaim = reclaim is not None
    for attempt in range(TYPE_FALLBACKS + 1):
        priced = hold_price(
            catalog=catalog, rows=rows, choice=choice, general_sale=general_sale, now=now, excluded=excluded
        )
        full, missing = _count(priced, catalog, taken, list(priced.code_ids) if attempt == 0 else [])
        if (full or missing) and may_reclaim:
            may_reclaim = False
            if reclaim(type_ids=full, code_ids=missing):
                full, missing = _count(priced, catalog, taken, missing)
        if missing:
            raise CodeUsedUp(extra={"code_ids": missing})
        if not full:
            return priced
        if not set(full) <= priced.auto_types or attempt == TYPE_FALLBACKS:
            raise TypeSoldOut(extra={"ticket_type_id": full[0]})
        excluded |= frozenset(full)
    raise AssertionError("unreachable")


def _count(priced: Priced, catalog: Catalog, taken: Counter, codes: list[int]) -> tuple[list[int], list[int]]:
    """``quota_take`` as (types whose cap was reached, codes used up)."""
    try:
        return quota_take(priced=priced, catalog=catalog, taken=taken, codes=codes), []
    except CodeUsedUp as exc:
        return list(exc.extra.get("full_type_ids", [])), list(exc.extra.get("code_ids", []))


def quota_take(*, priced: Priced, catalog: Catalog, taken: Counter, codes: Sequence[int]) -> list[int]:
    """Count the counted types of ``priced`` beyond ``taken``, and a use of each of ``codes``.

    Precondition: inside the hold's transaction (a rollback gives everything back). Returns the
    types whose cap was reached (their seats were not counted); adds what was counted to
    ``taken``. Raises ``CodeUsedUp`` (``extra``: the ``code_ids`` not counted and the
    ``full_type_ids``; the rest was counted).
    """
    want = {
        type_id: n - taken[type_id]
        for type_id, n in priced.capped.items()
        if catalog.types[type_id].counted and n > taken[type_id]
    }
    code_ids = list(codes)
    if not want and not code_ids:
        return []
    got_types, got_codes = sql.row(
        _QUOTA_TAKE_SQL,
        {"types": list(want), "counts": list(want.values()), "codes": code_ids},
    )
    for type_id in got_types:
        taken[type_id] += want[type_id]
    full = sorted(set(want) - set(got_types))
    if len(got_codes) != len(code_ids):
        raise CodeUsedUp(extra={"code_ids": sorted(set(code_ids) - set(got_codes)), "full_type_ids": full})
    return full


# What ended holds give back: their seats' capped types and their codes' uses. Called before
# the seats are freed (every seat of a live hold still points at it).
_RETURN_HOLDS_SQL = """
    WITH lines AS (
        SELECT ticket_type_id, count(*) AS n FROM checkout_seatinventory
         WHERE hold_id = ANY(%(holds)s) AND ticket_type_id IS NOT NULL
         GROUP BY ticket_type_id
    ), types AS (
        UPDATE checkout_tickettypecount c SET used = GREATEST(c.used - lines.n, 0)
          FROM lines WHERE c.ticket_type_id = lines.ticket_type_id
    ), uses AS (
        SELECT code_id, count(*) AS n FROM (
            SELECT promo_code_id AS code_id FROM checkout_hold WHERE id = ANY(%(holds)s)
            UNION ALL
            SELECT access_code_id FROM checkout_hold WHERE id = ANY(%(holds)s)
        ) AS u WHERE code_id IS NOT NULL GROUP BY code_id
    )
    UPDATE checkout_code k SET used = GREATEST(k.used - uses.n, 0) FROM uses WHERE k.id = uses.code_id
"""


def quota_return_holds(*, hold_ids: Sequence[int]) -> None:
    """Give back the caps and code uses of holds being ended (caller's transaction, holds locked)."""
    if hold_ids:
        sql.execute(_RETURN_HOLDS_SQL, {"holds": list(hold_ids)})


_RETURN_ORDER_SQL = """
    WITH lines AS (
        SELECT ticket_type_id, count(*) AS n FROM checkout_ticket
         WHERE order_id = %(order)s AND ticket_type_id IS NOT NULL AND status <> 'void'
         GROUP BY ticket_type_id
    ), types AS (
        UPDATE checkout_tickettypecount c SET used = GREATEST(c.used - lines.n, 0)
          FROM lines WHERE c.ticket_type_id = lines.ticket_type_id
    )
    UPDATE checkout_code k SET used = GREATEST(k.used - 1, 0)
      FROM checkout_order o
     WHERE o.id = %(order)s AND k.id IN (o.promo_code_id, o.access_code_id)
"""


def quota_return_order(*, order_id: int) -> None:
    """Give back the caps and code uses of an order being cancelled. Precondition: the caller's
    transaction holds the order's lock, and its tickets are not voided yet."""
    sql.execute(_RETURN_ORDER_SQL, {"order": order_id})
