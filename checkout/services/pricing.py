"""What each held seat costs: ticket type, price, discount and fee, fixed when it is held.

The one home of these rules (docs/ticket-types.md):

- A seat is sold as exactly one type. No type is the *standard* price: the event's ``Price``
  rows, public, inside the event's own sales window, uncapped. Other types
  (``events.TicketType``) have their own price per section, window, cap, per-order maximum and
  visibility.
- The buyer names a type per seat, or gets the default: the cheapest type on sale for the seat
  (window open, priced in its section, cap and per-order maximum not reached, public or unlocked
  by the buyer's presale code). So an early bird is the default until its date or its cap, then
  the next type takes over.
- Codes (``checkout.Code``) are stored normalised (``code_normalise``). A presale code unlocks
  its types and lets its holder buy before the event's sales open; a promo code takes a percent
  or a fixed amount off each ticket of its types, or once off the order.
- Money is integer minor units (cents) here, ``Decimal`` with two places in the columns; never
  floats. A percentage is rounded half up per ticket; an order discount is split across the
  discounted tickets in proportion to their prices (largest remainder), so the ticket lines sum
  to it exactly. The service fee is per ticket, the order fee once per order. A ticket's line is
  ``price - discount + fee``; the order's total is its lines plus the order fee, and a refund
  gives back the charge, which is that total.
- Caps and code uses are counted race-proof (``quota_take``: one conditional upsert/update
  inside the hold's transaction) and given back when the hold ends (``quota_return_holds``,
  called by ``holds_end``) or its order is cancelled (``quota_return_order``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from checkout.errors import CodeInvalid, CodeUsedUp, PerOrderMax, TypeNotOnSale, TypeSoldOut
from checkout.models import CodeKind, DiscountKind, DiscountScope
from ticketing.core import sql
from ticketing.core.errors import ValidationFailed

CODE_MAX_LENGTH = 40
# A type id the buyer may send for "the standard price" (no type).
STANDARD = 0
CENT = Decimal("0.01")


def to_minor(amount: Decimal | int | str) -> int:
    """An amount in the currency's units as integer minor units (half up at the third place)."""
    return int((Decimal(amount) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def from_minor(minor: int) -> Decimal:
    return (Decimal(minor) / 100).quantize(CENT)


def percent_of(minor: int, percent: Decimal) -> int:
    """``percent`` % of ``minor``, rounded half up to a whole minor unit."""
    return int((Decimal(minor) * Decimal(percent) / 100).to_integral_value(rounding=ROUND_HALF_UP))


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` so the parts sum to it exactly:
    each part rounded down, the cents left over going to the largest remainders (first on ties)."""
    whole = sum(weights)
    if whole <= 0 or total <= 0:
        return [0] * len(weights)
    parts = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def code_normalise(text: str) -> str:
    """A code as stored: trimmed and upper-cased, so a buyer's "early-Bird " finds "EARLY-BIRD"."""
    return (text or "").strip().upper()


@dataclass(frozen=True)
class TypeInfo:
    id: int
    name: str
    quota: int | None
    used: int
    sales_start: dt.datetime | None
    sales_end: dt.datetime | None
    per_order_max: int | None
    visibility: str
    sort_order: int
    prices: Mapping[int, int]  # section id -> minor units
    has_counter: bool = False

    @property
    def counted(self) -> bool:
        """Held and sold seats of the type are counted (``checkout.TicketTypeCount``)."""
        return self.quota is not None or self.has_counter

    def on_sale(self, now: dt.datetime) -> bool:
        if self.sales_start and now < self.sales_start:
            return False
        return not (self.sales_end and now >= self.sales_end)


@dataclass(frozen=True)
class CodeInfo:
    id: int
    kind: str
    code: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    use_limit: int | None
    used: int
    discount_kind: str
    discount_scope: str
    discount_value: Decimal
    type_ids: frozenset[int]

    def valid(self, now: dt.datetime) -> bool:
        if self.valid_from and now < self.valid_from:
            return False
        return not (self.valid_until and now >= self.valid_until)

    def applies_to(self, type_id: int | None) -> bool:
        """A promo code without types discounts every ticket; with types, only those."""
        return not self.type_ids or type_id in self.type_ids


@dataclass(frozen=True)
class Catalog:
    """What pricing needs of one event, read in one statement (``CATALOG_COLUMNS_SQL``)."""

    currency: str
    service_fee: int
    order_fee: int
    standard: Mapping[int, int]  # section id -> minor units (the event's Price rows)
    types: Mapping[int, TypeInfo]
    codes: Mapping[str, CodeInfo]

    @property
    def simple(self) -> bool:
        return not self.types and not self.codes


def _ts(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


# Columns appended to a read of ``events_event e`` (the hold's first statement, so pricing costs
# no round trip): the standard prices, the types with their prices and counters, and the codes
# the buyer entered (one ``%s``: the normalised codes). Amounts leave PostgreSQL as integer
# minor units: json numbers would arrive as floats.
CATALOG_COLUMNS_SQL = """
    (SELECT json_agg(json_build_array(p.section_id, (p.amount * 100)::bigint, p.currency))
       FROM events_price p WHERE p.event_id = e.id),
    (SELECT json_agg(json_build_array(
                t.id, t.name, t.quota, COALESCE(c.used, 0), t.sales_start, t.sales_end,
                t.per_order_max, t.visibility, t.sort_order,
                (SELECT json_agg(json_build_array(tp.section_id, (tp.amount * 100)::bigint))
                   FROM events_tickettypeprice tp WHERE tp.ticket_type_id = t.id),
                c.ticket_type_id IS NOT NULL))
       FROM events_tickettype t LEFT JOIN checkout_tickettypecount c ON c.ticket_type_id = t.id
      WHERE t.event_id = e.id),
    (SELECT json_agg(json_build_array(
                k.id, k.kind, k.code, k.valid_from, k.valid_until, k.use_limit, k.used,
                k.discount_kind, k.discount_scope, k.discount_value::text,
                (SELECT json_agg(kt.tickettype_id) FROM checkout_code_ticket_types kt
                  WHERE kt.code_id = k.id)))
       FROM checkout_code k WHERE k.event_id = e.id AND k.code = ANY(%s)),
    e.service_fee, e.order_fee
"""
CATALOG_COLUMN_COUNT = 5


def catalog_from_row(values: Sequence[Any]) -> Catalog:
    """The ``Catalog`` of the ``CATALOG_COLUMN_COUNT`` values ``CATALOG_COLUMNS_SQL`` read."""
    prices, types, codes, service_fee, order_fee = values
    prices = prices or []
    return Catalog(
        currency=prices[0][2] if prices else "EUR",
        service_fee=to_minor(service_fee or 0),
        order_fee=to_minor(order_fee or 0),
        standard={section: amount for section, amount, _ in prices},
        types={
            t[0]: TypeInfo(
                id=t[0],
                name=t[1],
                quota=t[2],
                used=t[3],
                sales_start=_ts(t[4]),
                sales_end=_ts(t[5]),
                per_order_max=t[6],
                visibility=t[7],
                sort_order=t[8],
                prices={section: amount for section, amount in t[9] or []},
                has_counter=t[10],
            )
            for t in types or []
        },
        codes={
            k[2]: CodeInfo(
                id=k[0],
                kind=k[1],
                code=k[2],
                valid_from=_ts(k[3]),
                valid_until=_ts(k[4]),
                use_limit=k[5],
                used=k[6],
                discount_kind=k[7],
                discount_scope=k[8],
                discount_value=Decimal(k[9]),
                type_ids=frozenset(k[10] or []),
            )
            for k in codes or []
        },
    )


def catalog_read(*, event_id: int, codes: Iterable[str] = ()) -> Catalog:
    """The event's catalog on its own (paths other than ``hold_create``, which reads it with the event)."""
    found = sql.row(
        f"SELECT {CATALOG_COLUMNS_SQL} FROM events_event e WHERE e.id = %s",
        [sorted({code_normalise(c) for c in codes}), event_id],
    )
    return catalog_from_row(found)


@dataclass(frozen=True)
class Choice:
    """What the buyer asked for: a type per seat (``by_seat``) or one for every seat (``all_seats``;
    ``STANDARD`` names the standard price, ``None`` the default), and the codes entered."""

    by_seat: Mapping[int, int] = field(default_factory=dict)
    all_seats: int | None = None
    codes: tuple[str, ...] = ()


DEFAULT_CHOICE = Choice()


def choice_validate(
    *,
    ticket_types: Mapping[int, int] | None = None,
    ticket_type_id: int | None = None,
    codes: Iterable[str] = (),
    seat_ids: Iterable[int] | None = None,
) -> Choice:
    """The buyer's choice, checked before anything is written. ``seat_ids``: the seats asked for
    (a type per seat names only those; ``None``: best available, no seat known yet). Raises
    ``ValidationFailed``."""
    normalised = []
    for raw in codes:
        code = code_normalise(raw)
        if not code:
            continue
        if len(code) > CODE_MAX_LENGTH or not all(ch.isalnum() or ch in "-_" for ch in code):
            raise ValidationFailed(f"A code has at most {CODE_MAX_LENGTH} letters, digits, - or _.")
        normalised.append(code)
    if len(set(normalised)) > 2:
        raise ValidationFailed("Enter at most two codes (a presale code and a promo code).")
    if ticket_types and ticket_type_id is not None:
        raise ValidationFailed("Give a type per seat, or one type for every seat; not both.")
    by_seat = {int(seat): int(kind) for seat, kind in (ticket_types or {}).items()}
    if by_seat and seat_ids is not None and not set(by_seat) <= set(seat_ids):
        raise ValidationFailed("A type per seat names only the seats asked for.")
    return Choice(by_seat=by_seat, all_seats=ticket_type_id, codes=tuple(sorted(set(normalised))))


@dataclass(frozen=True)
class Line:
    row_id: int
    seat_id: int
    section_id: int
    type_id: int | None
    price: int
    discount: int
    fee: int


@dataclass(frozen=True)
class Priced:
    """The hold's lines and what is counted for it (``quota_take``)."""

    lines: list[Line]
    order_fee: int
    currency: str
    promo_code_id: int | None
    access_code_id: int | None
    auto_types: frozenset[int]  # types the default picked (another may take over if they sell out)

    @property
    def capped(self) -> Counter:
        return Counter(line.type_id for line in self.lines if line.type_id is not None)

    @property
    def code_ids(self) -> list[int]:
        return [c for c in (self.promo_code_id, self.access_code_id) if c is not None]

    @property
    def total(self) -> int:
        return sum(line.price - line.discount + line.fee for line in self.lines) + self.order_fee


def _codes(catalog: Catalog, choice: Choice, now: dt.datetime) -> tuple[CodeInfo | None, CodeInfo | None]:
    presale = promo = None
    for text in choice.codes:
        code = catalog.codes.get(text)
        if code is None or not code.valid(now):
            raise CodeInvalid(extra={"code": text})
        if code.use_limit is not None and code.used >= code.use_limit:
            raise CodeUsedUp(extra={"code": text})
        if code.kind == CodeKind.PRESALE:
            if presale is not None:
                raise ValidationFailed("Enter one presale code.")
            presale = code
        else:
            if promo is not None:
                raise ValidationFailed("Enter one promo code.")
            promo = code
    return presale, promo


def allowed_types(
    catalog: Catalog, *, presale: CodeInfo | None, general_sale: bool, now: dt.datetime
) -> list[int | None]:
    """The types a buyer may choose now (``None``: the standard price), cheapest rules apart.

    Before the general sale only a presale code's holder buys: its types, or (a code naming no
    type) every public one.
    """
    unlocked = presale.type_ids if presale else frozenset()
    if not general_sale and presale is not None and unlocked:
        return [t for t in unlocked if t in catalog.types and catalog.types[t].on_sale(now)]
    found: list[int | None] = [None]
    for info in catalog.types.values():
        if info.on_sale(now) and (info.visibility == "public" or info.id in unlocked):
            found.append(info.id)
    return found


def _price_of(catalog: Catalog, type_id: int | None, section_id: int) -> int | None:
    if type_id is None:
        return catalog.standard.get(section_id)
    return catalog.types[type_id].prices.get(section_id)


def _room(info: TypeInfo, counts: Counter) -> bool:
    if info.quota is not None and info.used + counts[info.id] + 1 > info.quota:
        return False
    return info.per_order_max is None or counts[info.id] + 1 <= info.per_order_max


def hold_price(
    *,
    catalog: Catalog,
    rows: Sequence[Any],
    choice: Choice,
    general_sale: bool,
    now: dt.datetime,
    excluded: frozenset[int] = frozenset(),
) -> Priced:
    """Price ``rows`` (inventory rows with ``pk``, ``seat_id``, ``section_id``) for ``choice``.

    ``general_sale``: the event's own window is open (else only a presale code's holder buys).
    ``excluded``: types found sold out under lock; the default skips them. Raises
    ``CodeInvalid``, ``CodeUsedUp``, ``TypeNotOnSale``, ``TypeSoldOut``, ``PerOrderMax``.
    """
    presale, promo = _codes(catalog, choice, now)
    if not general_sale and presale is None:
        raise TypeNotOnSale(extra={"reason": "sales_not_open"})
    allowed = allowed_types(catalog, presale=presale, general_sale=general_sale, now=now)
    counts: Counter = Counter()
    chosen: list[tuple[Any, int | None, int]] = []
    auto: set[int] = set()
    for row in sorted(rows, key=lambda r: r.seat_id):
        wanted = choice.by_seat.get(row.seat_id, choice.all_seats)
        if wanted is None:
            type_id = _default_type(catalog, allowed, row.section_id, counts, excluded)
            if type_id is not None:
                auto.add(type_id)
        else:
            type_id = None if wanted == STANDARD else wanted
            if type_id not in allowed:
                raise TypeNotOnSale(extra={"ticket_type_id": wanted, "seat_id": row.seat_id})
        price = _price_of(catalog, type_id, row.section_id)
        if price is None:
            raise TypeNotOnSale(extra={"ticket_type_id": wanted, "seat_id": row.seat_id})
        if type_id is not None:
            info = catalog.types[type_id]
            if info.per_order_max is not None and counts[type_id] + 1 > info.per_order_max:
                raise PerOrderMax(extra={"ticket_type_id": type_id, "max": info.per_order_max})
            full = info.quota is not None and info.used + counts[type_id] + 1 > info.quota
            if type_id in excluded or full:
                raise TypeSoldOut(extra={"ticket_type_id": type_id})
        counts[type_id] += 1
        chosen.append((row, type_id, price))
    discounts = _discounts(promo, [(type_id, price) for _, type_id, price in chosen])
    lines = [
        Line(
            row_id=row.pk,
            seat_id=row.seat_id,
            section_id=row.section_id,
            type_id=type_id,
            price=price,
            discount=discount,
            fee=catalog.service_fee,
        )
        for (row, type_id, price), discount in zip(chosen, discounts, strict=True)
    ]
    return Priced(
        lines=lines,
        order_fee=catalog.order_fee,
        currency=catalog.currency,
        promo_code_id=promo.id if promo else None,
        access_code_id=presale.id if presale else None,
        auto_types=frozenset(auto),
    )


def _default_type(
    catalog: Catalog, allowed: list[int | None], section_id: int, counts: Counter, excluded: frozenset[int]
) -> int | None:
    """The cheapest allowed type with room for one more seat of ``section_id`` (ties: the standard
    price, then the staff's order). Falls back to the standard price, which the caller checks."""
    best: tuple[tuple[int, int, int], int | None] | None = None
    for type_id in allowed:
        price = _price_of(catalog, type_id, section_id)
        if price is None:
            continue
        if type_id is None:
            key = (price, -1, 0)
        else:
            info = catalog.types[type_id]
            if type_id in excluded or not _room(info, counts):
                continue
            key = (price, info.sort_order, info.id)
        if best is None or key < best[0]:
            best = (key, type_id)
    if best is None:
        # Nothing left for this seat: name the type that sold out, if one did.
        for type_id in allowed:
            if type_id is not None and _price_of(catalog, type_id, section_id) is not None:
                raise TypeSoldOut(extra={"ticket_type_id": type_id})
        raise TypeNotOnSale(extra={"section_id": section_id})
    return best[1]


def _discounts(promo: CodeInfo | None, lines: list[tuple[int | None, int]]) -> list[int]:
    """The discount of each line (minor units), never more than its price."""
    if promo is None or promo.kind != CodeKind.PROMO:
        return [0] * len(lines)
    eligible = [promo.applies_to(type_id) for type_id, _ in lines]
    if promo.discount_scope == DiscountScope.ORDER:
        base = sum(price for (_, price), ok in zip(lines, eligible, strict=True) if ok)
        if promo.discount_kind == DiscountKind.PERCENT:
            total = percent_of(base, promo.discount_value)
        else:
            total = min(to_minor(promo.discount_value), base)
        weights = [price if ok else 0 for (_, price), ok in zip(lines, eligible, strict=True)]
        return allocate(total, weights)
    out = []
    for (_, price), ok in zip(lines, eligible, strict=True):
        if not ok:
            out.append(0)
        elif promo.discount_kind == DiscountKind.PERCENT:
            out.append(min(price, percent_of(price, promo.discount_value)))
        else:
            out.append(min(price, to_minor(promo.discount_value)))
    return out


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


def hold_price_counted(
    *, rows: Sequence[Any], catalog: Catalog, choice: Choice, general_sale: bool, now: dt.datetime
) -> Priced:
    """``hold_price``, then count the capped types and codes (``quota_take``).

    A type the default picked that sells out under lock hands its seats to the next type; one
    the buyer named raises ``TypeSoldOut``. Caller's transaction (a rollback gives it all back).
    """
    taken: Counter = Counter()
    excluded: frozenset[int] = frozenset()
    for attempt in range(TYPE_FALLBACKS + 1):
        priced = hold_price(
            catalog=catalog, rows=rows, choice=choice, general_sale=general_sale, now=now, excluded=excluded
        )
        full = quota_take(priced=priced, catalog=catalog, taken=taken, codes=attempt == 0)
        if not full:
            return priced
        if not set(full) <= priced.auto_types or attempt == TYPE_FALLBACKS:
            raise TypeSoldOut(extra={"ticket_type_id": full[0]})
        excluded |= frozenset(full)
    raise AssertionError("unreachable")


def quota_take(*, priced: Priced, catalog: Catalog, taken: Counter, codes: bool) -> list[int]:
    """Count the counted types of ``priced`` beyond ``taken`` (and its codes, when ``codes``).

    Precondition: inside the hold's transaction (a rollback gives everything back). Returns the
    types whose cap was reached (their seats were not counted); adds what was counted to
    ``taken``. Raises ``CodeUsedUp``.
    """
    want = {
        type_id: n - taken[type_id]
        for type_id, n in priced.capped.items()
        if catalog.types[type_id].counted and n > taken[type_id]
    }
    code_ids = priced.code_ids if codes else []
    if not want and not code_ids:
        return []
    got_types, got_codes = sql.row(
        _QUOTA_TAKE_SQL,
        {"types": list(want), "counts": list(want.values()), "codes": code_ids},
    )
    if len(got_codes) != len(code_ids):
        raise CodeUsedUp(extra={"code_ids": sorted(set(code_ids) - set(got_codes))})
    for type_id in got_types:
        taken[type_id] += want[type_id]
    return sorted(set(want) - set(got_types))


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
