"""Catalog reads for the API, the pages and the seat map, and their version-keyed cache.

Every public read comes in two layers:

* a *builder* (``event_list``, ``event_detail``, ``event_seat_map``, ...) that queries the
  database at ``now`` and returns ``(data, valid_until)``: JSON-ready data and the first
  instant at which the clock alone would change it (sales open, an event starts, a hold
  expires), or ``None``;
* a *snapshot* (``event_list_snapshot`` ...) that reads the versions the data depends on
  (one tiny query), then serves the gzipped JSON bytes and ETag cached under those versions,
  rebuilding when the key is new or ``valid_until`` has passed.

The versions are read *before* the data, so an entry is never older than its key; a change
commits a version bump in its own transaction, so the next read from any process misses.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    Func,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
    Window,
)
from django.db.models.functions import Cast, Least
from django.utils import timezone

from events.errors import EventNotFound
from events.models import Category, Event, EventStatus, Price, Section, Venue

# Bump when the shape of a cached payload changes, so a shared cache (Redis) never serves
# the old shape to new code during a rolling deploy.
PAYLOAD_FORMAT = "b1"
CACHE_SECONDS = 3600
MAX_PAGE_SIZE = 100

# The extreme UTC offsets in the tz database: a local calendar day D lies within
# [D 00:00 UTC - 14h, D+1 00:00 UTC + 12h), which lets the starts_at index narrow a
# local-date filter before the exact per-venue-timezone comparison.
_MAX_EAST = dt.timedelta(hours=14)
_MAX_WEST = dt.timedelta(hours=12)


class PublicStatus:
    ON_SALE = "on_sale"
    SOLD_OUT = "sold_out"
    NOT_OPEN = "not_open"
    SALES_CLOSED = "sales_closed"
    CANCELLED = "cancelled"
    PAST = "past"


# --- versions ---------------------------------------------------------------------------


def catalog_version_read() -> int:
    """The catalog version (0 before any change)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE((SELECT version FROM events_catalogversion WHERE id = 1), 0)")
        return int(cursor.fetchone()[0])


def event_versions_read(*, event_id: int) -> tuple[int, int]:
    """``(catalog version, inventory version of event_id)`` in one round trip.

    The inventory half is ``checkout.services.versions.inventory_version_read``'s query,
    inlined so a cache hit costs one query, not two.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT COALESCE((SELECT version FROM events_catalogversion WHERE id = 1), 0),
                   COALESCE((SELECT SUM(version) FROM checkout_inventoryversion WHERE event_id = %s), 0)
            """,
            [event_id],
        )
        catalog, inventory = cursor.fetchone()
        return int(catalog), int(inventory)


# ``event_versions_read`` for many events at once, for ``ticketing.server.version_prefetch``: $1 is
# a comma-separated list of event ids ('' for none); the answer is the catalog version and
# an array of inventory versions in the order of the ids.
EVENT_VERSIONS_BATCH_SQL = """
SELECT COALESCE((SELECT version FROM events_catalogversion WHERE id = 1), 0),
       ARRAY(SELECT COALESCE(SUM(v.version), 0)
               FROM unnest(string_to_array($1, ',')::bigint[]) WITH ORDINALITY AS e(id, n)
               LEFT JOIN checkout_inventoryversion v ON v.event_id = e.id
              GROUP BY e.n ORDER BY e.n)
"""


# --- derived status ---------------------------------------------------------------------


def public_status(
    *,
    status: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    sales_open_at: dt.datetime | None,
    sales_close_at: dt.datetime | None,
    sold_out: bool,
    now: dt.datetime,
) -> str:
    """What a visitor is told about an event at ``now`` (``sold_out`` already accounts for time)."""
    if status == EventStatus.CANCELLED:
        return PublicStatus.CANCELLED
    if now >= ends_at:
        return PublicStatus.PAST
    if now >= starts_at or (sales_close_at and now >= sales_close_at):
        return PublicStatus.SALES_CLOSED
    if sales_open_at and now < sales_open_at:
        return PublicStatus.NOT_OPEN
    if sold_out:
        return PublicStatus.SOLD_OUT
    return PublicStatus.ON_SALE


def _next_change(now: dt.datetime, *moments: dt.datetime | None) -> dt.datetime | None:
    future = [m for m in moments if m is not None and m > now]
    return min(future) if future else None


def _flag_sold_out(sold_out: bool, until: dt.datetime | None, now: dt.datetime) -> bool:
    return sold_out and (until is None or now < until)


def _local(value: dt.datetime | None, tz: zoneinfo.ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _public_events() -> QuerySet[Event]:
    # Drafts are never public; a cancelled event stays visible (ticket holders look for it)
    # if it had been published.
    return Event.objects.filter(
        Q(status=EventStatus.ON_SALE) | Q(status=EventStatus.CANCELLED, published_at__isnull=False)
    )


# --- the list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilters:
    """Browse filters. Dates are calendar dates in each event's venue's time zone."""

    categories: tuple[str, ...] = ()
    venue_ids: tuple[int, ...] = ()
    city: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str = ""
    available_only: bool = False
    include_past: bool = False

    @classmethod
    def build(
        cls,
        *,
        categories: list[str] | tuple[str, ...] = (),
        venue_ids: list[int] | tuple[int, ...] = (),
        city: str = "",
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        q: str = "",
        available_only: bool = False,
        include_past: bool = False,
    ) -> EventFilters:
        """Normalise, so equal searches share one cache entry whatever order they came in."""
        return cls(
            categories=tuple(sorted({c for c in categories if c in Category.values})),
            venue_ids=tuple(sorted(set(venue_ids))),
            city=" ".join(city.split()).casefold(),
            date_from=date_from,
            date_to=date_to,
            q=" ".join(q.split())[:200],
            available_only=available_only,
            include_past=include_past,
        )

    def cache_key(self) -> str:
        raw = json.dumps(
            [
                self.categories,
                self.venue_ids,
                self.city,
                self.date_from and self.date_from.isoformat(),
                self.date_to and self.date_to.isoformat(),
                self.q,
                self.available_only,
                self.include_past,
            ]
        )
        return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def _local_date():
    # timezone(tz, ts) is PostgreSQL's `ts AT TIME ZONE tz`: the wall-clock time at the
    # venue, so the date comparison is exact across midnight and DST changes.
    return Cast(
        Func(F("timezone"), F("starts_at"), function="timezone", output_field=DateField()),
        DateField(),
    )


def _filtered(filters: EventFilters, now: dt.datetime, *, sold_out_filter: bool = True) -> QuerySet[Event]:
    qs = _public_events()
    if not filters.include_past:
        qs = qs.filter(starts_at__gt=now)
    if filters.categories:
        qs = qs.filter(category__in=filters.categories)
    if filters.venue_ids:
        qs = qs.filter(venue_id__in=filters.venue_ids)
    if filters.city:
        qs = qs.filter(venue__city__iexact=filters.city)
    if filters.date_from or filters.date_to:
        qs = qs.annotate(local_date=_local_date())
    if filters.date_from:
        start = dt.datetime.combine(filters.date_from, dt.time(), dt.UTC) - _MAX_EAST
        qs = qs.filter(starts_at__gte=start, local_date__gte=filters.date_from)
    if filters.date_to:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time(), dt.UTC) + _MAX_WEST
        qs = qs.filter(starts_at__lt=end, local_date__lte=filters.date_to)
    if filters.q:
        qs = qs.filter(search_vector=SearchQuery(filters.q, config="english", search_type="websearch"))
    if filters.available_only:
        # "Tickets can still be had": on sale or opening later, not closed, a free seat left.
        qs = qs.filter(status=EventStatus.ON_SALE, starts_at__gt=now).filter(
            Q(sales_close_at__isnull=True) | Q(sales_close_at__gt=now)
        )
        if sold_out_filter:
            qs = qs.filter(Q(sold_out=False) | Q(sold_out_until__lte=now))
    return qs


def _future(field: str, now: dt.datetime) -> Case:
    return Case(When(**{f"{field}__gt": now}, then=F(field)))


def event_list(
    *, filters: EventFilters, page: int = 1, size: int = 20, now: dt.datetime | None = None
) -> tuple[dict[str, Any], dt.datetime | None]:
    """One page of public events matching ``filters``, sorted by start; and when it goes stale.

    One query whatever the page size: prices come from correlated subqueries, the total and
    the next time-driven change (over the whole filtered set, since an event dropping out
    of "upcoming" shifts every page) from window functions.
    """
    now = now or timezone.now()
    page = max(1, page)
    size = max(1, min(MAX_PAGE_SIZE, size))
    cheapest = Price.objects.filter(event=OuterRef("pk")).order_by("amount", "id")
    rows = list(
        _filtered(filters, now)
        .select_related("venue")
        .annotate(
            lowest_price=Subquery(cheapest.values("amount")[:1]),
            price_currency=Subquery(cheapest.values("currency")[:1]),
            total_count=Window(Count("id")),
            next_change=Window(
                Min(
                    Least(
                        _future("sales_open_at", now),
                        _future("sales_close_at", now),
                        _future("starts_at", now),
                        _future("ends_at", now),
                        _future("sold_out_until", now),
                    )
                )
            ),
        )
        .order_by("starts_at", "id")[(page - 1) * size : page * size]
    )
    if rows:
        total, valid_until = rows[0].total_count, rows[0].next_change
    else:
        # Past the last page (or nothing matches): the window had no row to ride on.
        agg = _filtered(filters, now).aggregate(
            n=Count("id"),
            nxt=Min(
                Least(
                    _future("sales_open_at", now), _future("sales_close_at", now), _future("starts_at", now)
                )
            ),
        )
        total, valid_until = agg["n"], agg["nxt"]
    if filters.available_only:
        # Events hidden only because every seat is held come back when the first hold expires.
        comeback = (
            _filtered(filters, now, sold_out_filter=False)
            .filter(sold_out=True, sold_out_until__gt=now)
            .aggregate(m=Min("sold_out_until"))["m"]
        )
        valid_until = _next_change(now, valid_until, comeback)
    items = []
    for e in rows:
        tz = e.tzinfo
        status = public_status(
            status=e.status,
            starts_at=e.starts_at,
            ends_at=e.ends_at,
            sales_open_at=e.sales_open_at,
            sales_close_at=e.sales_close_at,
            sold_out=_flag_sold_out(e.sold_out, e.sold_out_until, now),
            now=now,
        )
        items.append(
            {
                "id": e.id,
                "title": e.title,
                "slug": e.slug,
                "category": e.category,
                "venue": {"id": e.venue.id, "name": e.venue.name, "city": e.venue.city},
                "starts_at": _local(e.starts_at, tz),
                "ends_at": _local(e.ends_at, tz),
                "timezone": e.timezone,
                "lowest_price": _money(e.lowest_price),
                "currency": e.price_currency,
                "status": status,
                "sales_open_at": _local(e.sales_open_at, tz),
            }
        )
    data = {
        "items": items,
        "page": page,
        "size": size,
        "total": total,
        "pages": (total + size - 1) // size,
    }
    return data, valid_until


def venue_list() -> tuple[dict[str, Any], None]:
    """Every venue, for the filter controls."""
    venues = Venue.objects.order_by("name", "id").values("id", "name", "city", "country", "timezone")
    return {"items": list(venues)}, None


def category_list() -> tuple[dict[str, Any], None]:
    return {"items": [{"value": v, "label": str(label)} for v, label in Category.choices]}, None


# --- one event --------------------------------------------------------------------------
#
# An event's answers split into a static part (the event, venue, sections, prices, seat
# geometry: changes only with the catalog version) and a dynamic part (which seats are
# taken: changes with every hold). During an on-sale the inventory version moves many
# times a second, so a rebuild must not redo the static part: it is cached on its own,
# under the catalog version, and a rebuild only reads the *taken* seats (sold, or held by
# a hold that has not expired), which the (event, section, status) index finds directly.


def _public_event(event_id: int) -> Event:
    event = _public_events().select_related("venue").filter(pk=event_id).first()
    if event is None:
        raise EventNotFound(extra={"event_id": event_id})
    return event


def _sections_with_prices(event: Event) -> list[tuple[Section, Price | None]]:
    prices = {p.section_id: p for p in Price.objects.filter(event=event)}
    sections = Section.objects.filter(venue_id=event.venue_id).order_by("display_order", "id")
    return [(s, prices.get(s.id)) for s in sections]


_TAKEN_SQL = "(status = 'sold' OR (status = 'held' AND hold_expires_at > %(now)s))"


def _static(kind: str, event_id: int, catalog_version: int | None, build: Callable[[], Any]) -> Any:
    if catalog_version is None:
        return build()
    key = f"ev:{PAYLOAD_FORMAT}:static:{kind}:{event_id}:{catalog_version}"
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, CACHE_SECONDS)
    return value


def section_availability(
    *, event_id: int, now: dt.datetime
) -> tuple[dict[int, tuple[int, int]], dt.datetime | None]:
    """``{section_id: (total, free)}`` at ``now``, and the first future hold expiry.

    A seat is free when available, or held by a hold that has expired (swept or not).
    """
    totals = _section_totals(event_id)
    taken, first_expiry = _taken_by_section(event_id, now)
    return {sid: (total, total - taken.get(sid, 0)) for sid, total in totals.items()}, first_expiry


def _section_totals(event_id: int) -> dict[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT section_id, COUNT(*) FROM checkout_seatinventory WHERE event_id = %s GROUP BY section_id",
            [event_id],
        )
        return dict(cursor.fetchall())


def _taken_by_section(event_id: int, now: dt.datetime) -> tuple[dict[int, int], dt.datetime | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT section_id, COUNT(*), MIN(hold_expires_at)
              FROM checkout_seatinventory
             WHERE event_id = %(e)s AND status IN ('held', 'sold') AND {_TAKEN_SQL}
             GROUP BY section_id
            """,
            {"e": event_id, "now": now},
        )
        rows = cursor.fetchall()
    first_expiry = min((r[2] for r in rows if r[2] is not None), default=None)
    return {sid: n for sid, n, _ in rows}, first_expiry


def _detail_static(event_id: int) -> dict[str, Any]:
    event = _public_event(event_id)
    totals = _section_totals(event.pk)
    tz = event.tzinfo
    sections = [
        {
            "id": section.id,
            "name": section.name,
            "kind": section.kind,
            "price": _money(price.amount) if price else None,
            "currency": price.currency if price else None,
            "total": totals.get(section.id, 0),
        }
        for section, price in _sections_with_prices(event)
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
            "starts_at": _local(event.starts_at, tz),
            "ends_at": _local(event.ends_at, tz),
            "sales_open_at": _local(event.sales_open_at, tz),
            "sales_close_at": _local(event.sales_close_at, tz),
            "venue": {
                "id": venue.id,
                "name": venue.name,
                "city": venue.city,
                "address": venue.address,
                "country": venue.country,
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
    static = _static("detail", event_id, catalog_version, lambda: _detail_static(event_id))
    taken, first_expiry = _taken_by_section(event_id, now)
    data = dict(static["data"])
    data["sections"] = [{**s, "available": s["total"] - taken.get(s["id"], 0)} for s in data["sections"]]
    data["available"] = sum(s["available"] for s in data["sections"])
    clock = static["clock"]
    data["status"] = public_status(
        **clock, sold_out=static["has_inventory"] and data["available"] == 0, now=now
    )
    valid_until = _next_change(
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
    event = _public_event(event_id)
    sections = _sections_with_prices(event)
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
                "price": _money(p.amount) if p else None,
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
    prefix = _dumps(head)[:-1] + b',"seats":' + _dumps(columns)[:-1] + b',"free":"'
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
    static = _static("seats", event_id, catalog_version, lambda: _seat_map_static(event_id))
    ids = static["ids"]
    free = bytearray(b"1" * len(ids))
    first_expiry = None
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT seat_id, hold_expires_at FROM checkout_seatinventory
             WHERE event_id = %(e)s AND status IN ('held', 'sold') AND {_TAKEN_SQL}
            """,
            {"e": event_id, "now": now},
        )
        taken = cursor.fetchall()
    if taken:
        position = {seat_id: n for n, seat_id in enumerate(ids)}
        for seat_id, expiry in taken:
            n = position.get(seat_id)
            if n is not None:
                free[n] = 0x30  # "0"
            if expiry is not None and (first_expiry is None or expiry < first_expiry):
                first_expiry = expiry
    body = static["prefix"] + bytes(free) + b'"},"version":' + _dumps(version) + b"}"
    return body, first_expiry


# --- the cache --------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """A serialised answer: gzipped JSON bytes, its ETag and when the clock expires it."""

    gzipped: bytes
    etag: str
    valid_until: float | None

    @property
    def body(self) -> bytes:
        return gzip.decompress(self.gzipped)

    @property
    def data(self) -> Any:
        return json.loads(self.body)

    def fresh(self, now: dt.datetime) -> bool:
        return self.valid_until is None or now.timestamp() < self.valid_until


def _snapshot(
    key: str, build: Callable[[dt.datetime], tuple[Any, dt.datetime | None]], now: dt.datetime | None
) -> Snapshot:
    now = now or timezone.now()
    hit = cache.get(key)
    if hit is not None and hit.fresh(now):
        return hit
    data, valid_until = build(now)
    body = data if isinstance(data, bytes) else _dumps(data)
    snap = Snapshot(
        # mtime=0: equal bodies give equal bytes in every process. Level 1: these payloads
        # are repetitive enough that it is as small as level 6 at a fraction of the CPU.
        gzipped=gzip.compress(body, compresslevel=1, mtime=0),
        etag='"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"',
        valid_until=valid_until.timestamp() if valid_until else None,
    )
    cache.set(key, snap, CACHE_SECONDS)
    return snap


def event_list_snapshot(
    *,
    filters: EventFilters,
    page: int = 1,
    size: int = 20,
    now: dt.datetime | None = None,
    catalog_version: int | None = None,
) -> Snapshot:
    """``event_list`` through the cache, keyed by the catalog version.

    ``catalog_version``: one read after the request arrived (the prefetch), else read here.
    """
    version = catalog_version_read() if catalog_version is None else catalog_version
    key = f"ev:{PAYLOAD_FORMAT}:list:{version}:{filters.cache_key()}:{page}:{size}"
    return _snapshot(key, lambda at: event_list(filters=filters, page=page, size=size, now=at), now)


def event_list_snapshot_for_query(
    *,
    query_string: str,
    parse: Callable[[], tuple[EventFilters, int, int]],
    now: dt.datetime | None = None,
    catalog_version: int | None = None,
) -> Snapshot:
    """``event_list`` keyed by the raw query string: a hit skips validating the parameters.

    ``parse`` turns the query into ``(filters, page, size)`` and raises on invalid input; it
    runs only on a miss, and a failed parse caches nothing, so only valid queries get entries.
    """
    version = catalog_version_read() if catalog_version is None else catalog_version
    digest = hashlib.blake2b(query_string.encode(), digest_size=16).hexdigest()
    key = f"ev:{PAYLOAD_FORMAT}:listq:{version}:{digest}"

    def build(at: dt.datetime) -> tuple[dict[str, Any], dt.datetime | None]:
        filters, page, size = parse()
        return event_list(filters=filters, page=page, size=size, now=at)

    return _snapshot(key, build, now)


def event_detail_snapshot(
    *, event_id: int, now: dt.datetime | None = None, versions: tuple[int, int] | None = None
) -> Snapshot:
    """``event_detail`` through the cache, keyed by the catalog and inventory versions.

    ``versions``: ``(catalog, inventory)`` read after the request arrived (the prefetch in
    ``ticketing.server.version_prefetch``); without them they are read here. Raises ``EventNotFound``.
    """
    catalog, inventory = versions or event_versions_read(event_id=event_id)
    key = f"ev:{PAYLOAD_FORMAT}:detail:{event_id}:{catalog}:{inventory}"
    return _snapshot(key, lambda at: event_detail(event_id=event_id, now=at, catalog_version=catalog), now)


def event_seat_map_snapshot(
    *, event_id: int, now: dt.datetime | None = None, versions: tuple[int, int] | None = None
) -> Snapshot:
    """``event_seat_map`` through the cache, keyed like the detail. Raises ``EventNotFound``."""
    catalog, inventory = versions or event_versions_read(event_id=event_id)
    key = f"ev:{PAYLOAD_FORMAT}:seats:{event_id}:{catalog}:{inventory}"
    return _snapshot(
        key,
        lambda at: event_seat_map(event_id=event_id, now=at, version=inventory, catalog_version=catalog),
        now,
    )


def venue_list_snapshot(*, catalog_version: int | None = None) -> Snapshot:
    version = catalog_version_read() if catalog_version is None else catalog_version
    return _snapshot(f"ev:{PAYLOAD_FORMAT}:venues:{version}", lambda at: venue_list(), None)


def category_list_snapshot() -> Snapshot:
    return _snapshot(f"ev:{PAYLOAD_FORMAT}:categories", lambda at: category_list(), None)
