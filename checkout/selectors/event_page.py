"""The event page's reads: an event with price and availability per section, and its seat
map. They join the catalog (``events``) with the inventory, so they are checkout's.

An event's answers split into a static part (the event, venue, sections, prices, seat
geometry: changes only with the catalog version) and a dynamic part (which seats are
taken: changes with every hold). During an on-sale the inventory version moves many
times a second, so a rebuild must not redo the static part: it is cached on its own,
under the catalog version, and a rebuild only reads the *taken* seats, which the
(event, section, status) index finds directly.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from checkout.selectors.availability import (
    event_versions_read,
    section_totals,
    taken_by_section,
    taken_seats,
)
from events.selectors.cache import PAYLOAD_FORMAT, Snapshot, dumps, snapshot, static_cached
from events.selectors.catalog import (
    local_iso,
    money,
    next_change,
    public_event,
    public_status,
    sections_with_prices,
)


def _detail_static(event_id: int) -> dict[str, Any]:
    event = public_event(event_id)
    totals = section_totals(event_id=event.pk)
    tz = event.tzinfo
    sections = [
        {
            "id": section.id,
            "name": section.name,
            "kind": section.kind,
            "price": money(price.amount) if price else None,
            "currency": price.currency if price else None,
            "total": totals.get(section.id, 0),
        }
        for section, price in sections_with_prices(event)
    ]
    priced = [s for s in sections if s["price"] is not None]
    cheapest = min(priced, key=lambda s: Decimal(s["price"]), default=None)
    venue = event.venue
    return {
        "clock": {
            "status": event.status,
            "starts_at": event.starts_at,
            "ends_at": event.ends_at,
            "sales_open_at": event.sales_open_at,
            "sales_close_at": event.sales_close_at,
        },
        "has_inventory": bool(totals),
        "data": {
            "id": event.id,
            "title": event.title,
            "slug": event.slug,
            "description": event.description,
            "category": event.category,
            "status": None,
            "timezone": event.timezone,
            "starts_at": local_iso(event.starts_at, tz),
            "ends_at": local_iso(event.ends_at, tz),
            "sales_open_at": local_iso(event.sales_open_at, tz),
            "sales_close_at": local_iso(event.sales_close_at, tz),
            "venue": {
                "id": venue.id,
                "name": venue.name,
                "city": venue.city,
                "address": venue.address,
                "country": venue.country,
                # The marker staff drew in the section editor; without one the map infers it.
                "stage": venue.stage or None,
            },
            "lowest_price": cheapest["price"] if cheapest else None,
            "currency": cheapest["currency"] if cheapest else None,
            "total": sum(s["total"] for s in sections),
            "available": None,
            "sections": sections,
        },
    }


def event_detail(
    *, event_id: int, now: dt.datetime | None = None, catalog_version: int | None = None
) -> tuple[dict[str, Any], dt.datetime | None]:
    """An event with per-section price and exact availability at ``now``.

    With ``catalog_version`` the static part comes from (and goes to) the cache under it.
    Raises ``EventNotFound`` for unknown and unpublished events.
    """
    now = now or timezone.now()
    static = static_cached("detail", event_id, catalog_version, lambda: _detail_static(event_id))
    taken, first_expiry = taken_by_section(event_id=event_id, now=now)
    data = dict(static["data"])
    data["sections"] = [{**s, "available": s["total"] - taken.get(s["id"], 0)} for s in data["sections"]]
    data["available"] = sum(s["available"] for s in data["sections"])
    clock = static["clock"]
    data["status"] = public_status(
        **clock, sold_out=static["has_inventory"] and data["available"] == 0, now=now
    )
    valid_until = next_change(
        now,
        clock["sales_open_at"],
        clock["sales_close_at"],
        clock["starts_at"],
        clock["ends_at"],
        first_expiry,
    )
    return data, valid_until


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(v, 2)


def _seat_map_static(event_id: int) -> dict[str, Any]:
    """The seat map without ``free``/``version``, serialised up to the ``free`` string."""
    event = public_event(event_id)
    sections = sections_with_prices(event)
    index = {s.id: i for i, (s, _) in enumerate(sections)}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.id, s.section_id, s.x, s.y, s.row_label, s.label, s.accessible
              FROM checkout_seatinventory i
              JOIN events_seat s ON s.id = i.seat_id
             WHERE i.event_id = %s
             ORDER BY s.section_id, s.row_rank, s.position, s.id
            """,
            [event.pk],
        )
        rows = cursor.fetchall()
    rows.sort(key=lambda r: index.get(r[1], len(index)))  # stable: keeps row/seat order
    head = {
        "event_id": event.pk,
        "sections": [
            {
                "id": s.id,
                "name": s.name,
                "kind": s.kind,
                "geometry": s.geometry,
                "price": money(p.amount) if p else None,
                "currency": p.currency if p else None,
            }
            for s, p in sections
        ],
    }
    columns = {
        "id": [r[0] for r in rows],
        "section": [index.get(r[1], -1) for r in rows],
        "x": [_num(r[2]) for r in rows],
        "y": [_num(r[3]) for r in rows],
        "row": [r[4] for r in rows],
        "label": [r[5] for r in rows],
        "accessible": [n for n, r in enumerate(rows) if r[6]],
    }
    prefix = dumps(head)[:-1] + b',"seats":' + dumps(columns)[:-1] + b',"free":"'
    return {"prefix": prefix, "ids": columns["id"]}


def event_seat_map(
    *,
    event_id: int,
    now: dt.datetime | None = None,
    version: int | None = None,
    catalog_version: int | None = None,
) -> tuple[bytes, dt.datetime | None]:
    """Everything a seat map draws, as JSON bytes, columnar so a 20,000-seat arena stays small.

    ``seats`` holds parallel arrays indexed by seat position: ``id``, ``section`` (index into
    ``sections``), ``x``/``y`` (map units, venue map 1000 wide), ``row``, ``label``, and
    ``free`` as a string of ``"1"``/``"0"``; ``accessible`` lists the indexes of accessible
    seats. ``version`` is the inventory version the map is at least as new as, so live
    updates can be applied on top of it. With ``catalog_version`` the static part is cached.
    Raises ``EventNotFound``.
    """
    now = now or timezone.now()
    static = static_cached("seats", event_id, catalog_version, lambda: _seat_map_static(event_id))
    ids = static["ids"]
    free = bytearray(b"1" * len(ids))
    first_expiry = None
    taken = taken_seats(event_id=event_id, now=now)
    if taken:
        position = {seat_id: n for n, seat_id in enumerate(ids)}
        for seat_id, expiry in taken:
            n = position.get(seat_id)
            if n is not None:
                free[n] = 0x30  # "0"
            if expiry is not None and (first_expiry is None or expiry < first_expiry):
                first_expiry = expiry
    body = static["prefix"] + bytes(free) + b'"},"version":' + dumps(version) + b"}"
    return body, first_expiry


def event_detail_snapshot(
    *, event_id: int, now: dt.datetime | None = None, versions: tuple[int, int] | None = None
) -> Snapshot:
    """``event_detail`` through the cache, keyed by the catalog and inventory versions.

    ``versions``: ``(catalog, inventory)`` read after the request arrived (the prefetch in
    ``ticketing.server.version_prefetch``); without them they are read here. Raises ``EventNotFound``.
    """
    catalog, inventory = versions or event_versions_read(event_id=event_id)
    key = f"ev:{PAYLOAD_FORMAT}:detail:{event_id}:{catalog}:{inventory}"
    return snapshot(key, lambda at: event_detail(event_id=event_id, now=at, catalog_version=catalog), now)


def event_seat_map_snapshot(
    *, event_id: int, now: dt.datetime | None = None, versions: tuple[int, int] | None = None
) -> Snapshot:
    """``event_seat_map`` through the cache, keyed like the detail. Raises ``EventNotFound``."""
    catalog, inventory = versions or event_versions_read(event_id=event_id)
    key = f"ev:{PAYLOAD_FORMAT}:seats:{event_id}:{catalog}:{inventory}"
    return snapshot(
        key,
        lambda at: event_seat_map(event_id=event_id, now=at, version=inventory, catalog_version=catalog),
        now,
    )
