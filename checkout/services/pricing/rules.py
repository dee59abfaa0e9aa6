"""The rules of a hold's lines: which types a buyer may pick, the default type, per-order
maximums, discounts. Pure: reads only the ``Catalog`` it is given."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext

from checkout.errors import CodeInvalid, PerOrderMax, TypeNotOnSale, TypeSoldOut
from checkout.models import CodeKind, DiscountKind, DiscountScope
from checkout.services.pricing.catalog import (
    CODE_MAX_LENGTH,
    STANDARD,
    Catalog,
    CodeInfo,
    TypeInfo,
    code_normalise,
)
from checkout.services.pricing.money import allocate, percent_of, to_minor
from ticketing.core.errors import ValidationFailed


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
            raise ValidationFailed(
                gettext("A code has at most %(n)s letters, digits, - or _.") % {"n": CODE_MAX_LENGTH}
            )
        normalised.append(code)
    if len(set(normalised)) > 2:
        raise ValidationFailed(gettext("Enter at most two codes (a presale code and a promo code)."))
    if ticket_types and ticket_type_id is not None:
        raise ValidationFailed(gettext("Give a type per seat, or one type for every seat; not both."))
    by_seat = {int(seat): int(kind) for seat, kind in (ticket_types or {}).items()}
    if by_seat and seat_ids is not None and not set(by_seat) <= set(seat_ids):
        raise ValidationFailed(gettext("A type per seat names only the seats asked for."))
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
        # A use limit is not judged from this read: uses of holds that expired unswept still show
        # in it. Counting the use (``quota_take``) decides, after retiring such holds.
        if code.kind == CodeKind.PRESALE:
            if presale is not None:
                raise ValidationFailed(gettext("Enter one presale code."))
            presale = code
        else:
            if promo is not None:
                raise ValidationFailed(gettext("Enter one promo code."))
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
            # The cap is judged by counting (``quota_take``), which first retires expired holds
            # still counted against it; the read here may include those.
            if type_id in excluded:
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
