"""Catalog reads for the API and the pages: the event list with its filters, venues,
categories, and what a visitor is told about an event (``public_status``).

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
import hashlib
import json
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.postgres.search import SearchQuery
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
from events.selectors.cache import PAYLOAD_FORMAT, Snapshot, catalog_version_read, snapshot

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


def next_change(now: dt.datetime, *moments: dt.datetime | None) -> dt.datetime | None:
    future = [m for m in moments if m is not None and m > now]
    return min(future) if future else None


def _flag_sold_out(sold_out: bool, until: dt.datetime | None, now: dt.datetime) -> bool:
    return sold_out and (until is None or now < until)


def local_iso(value: dt.datetime | None, tz: zoneinfo.ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


def money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount:.2f}"


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


def _upcoming_changes(now: dt.datetime, *fields: str) -> Least:
    return Least(*(_future(f, now) for f in fields))


_CLOCK_FIELDS = ("sales_open_at", "sales_close_at", "starts_at")


def _list_page(filters: EventFilters, now: dt.datetime, page: int, size: int) -> list[Event]:
    """One page of events with their cheapest price, the total count and the next clock change
    over the whole filtered set (an event dropping out of "upcoming" shifts every page)."""
    cheapest = Price.objects.filter(event=OuterRef("pk")).order_by("amount", "id")
    return list(
        _filtered(filters, now)
        .select_related("venue")
        .annotate(
            lowest_price=Subquery(cheapest.values("amount")[:1]),
            price_currency=Subquery(cheapest.values("currency")[:1]),
            total_count=Window(Count("id")),
            next_change=Window(Min(_upcoming_changes(now, *_CLOCK_FIELDS, "ends_at", "sold_out_until"))),
        )
        .order_by("starts_at", "id")[(page - 1) * size : page * size]
    )


def _list_total_and_expiry(
    rows: list[Event], filters: EventFilters, now: dt.datetime
) -> tuple[int, dt.datetime | None]:
    if rows:
        total, valid_until = rows[0].total_count, rows[0].next_change
    else:
        # Past the last page (or nothing matches): the window had no row to ride on.
        agg = _filtered(filters, now).aggregate(
            n=Count("id"), nxt=Min(_upcoming_changes(now, *_CLOCK_FIELDS))
        )
        total, valid_until = agg["n"], agg["nxt"]
    if filters.available_only:
        # Events hidden only because every seat is held come back when the first hold expires.
        comeback = (
            _filtered(filters, now, sold_out_filter=False)
            .filter(sold_out=True, sold_out_until__gt=now)
            .aggregate(m=Min("sold_out_until"))["m"]
        )
        valid_until = next_change(now, valid_until, comeback)
    return total, valid_until


def _list_item(e: Event, now: dt.datetime) -> dict[str, Any]:
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
    return {
        "id": e.id,
        "title": e.title,
        "slug": e.slug,
        "category": e.category,
        "venue": {"id": e.venue.id, "name": e.venue.name, "city": e.venue.city},
        "starts_at": local_iso(e.starts_at, tz),
        "ends_at": local_iso(e.ends_at, tz),
        "timezone": e.timezone,
        "lowest_price": money(e.lowest_price),
        "currency": e.price_currency,
        "status": status,
        "sales_open_at": local_iso(e.sales_open_at, tz),
    }


def event_list(
    *, filters: EventFilters, page: int = 1, size: int = 20, now: dt.datetime | None = None
) -> tuple[dict[str, Any], dt.datetime | None]:
    """One page of public events matching ``filters``, sorted by start; and when it goes stale.

    One query whatever the page size: prices come from correlated subqueries, the total and
    the next time-driven change from window functions.
    """
    now = now or timezone.now()
    page = max(1, page)
    size = max(1, min(MAX_PAGE_SIZE, size))
    rows = _list_page(filters, now, page, size)
    total, valid_until = _list_total_and_expiry(rows, filters, now)
    data = {
        "items": [_list_item(e, now) for e in rows],
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


def public_event(event_id: int) -> Event:
    event = _public_events().select_related("venue").filter(pk=event_id).first()
    if event is None:
        raise EventNotFound(extra={"event_id": event_id})
    return event


def sections_with_prices(event: Event) -> list[tuple[Section, Price | None]]:
    prices = {p.section_id: p for p in Price.objects.filter(event=event)}
    sections = Section.objects.filter(venue_id=event.venue_id).order_by("display_order", "id")
    return [(s, prices.get(s.id)) for s in sections]


# --- through the cache -------------------------------------------------------------------


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
    return snapshot(key, lambda at: event_list(filters=filters, page=page, size=size, now=at), now)


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

    return snapshot(key, build, now)


def venue_list_snapshot(*, catalog_version: int | None = None) -> Snapshot:
    version = catalog_version_read() if catalog_version is None else catalog_version
    return snapshot(f"ev:{PAYLOAD_FORMAT}:venues:{version}", lambda at: venue_list(), None)


def category_list_snapshot() -> Snapshot:
    return snapshot(f"ev:{PAYLOAD_FORMAT}:categories", lambda at: category_list(), None)
