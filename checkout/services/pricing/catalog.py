"""What pricing knows of an event: its standard prices, types (with prices and counters), the
codes a buyer entered, and its fees, read in one statement (``CATALOG_COLUMNS_SQL``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from checkout.services.pricing.money import to_minor
from ticketing.core import sql

CODE_MAX_LENGTH = 40
# A type id the buyer may send for "the standard price" (no type).
STANDARD = 0


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
