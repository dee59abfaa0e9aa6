"""Catalog writes: events with their prices, and what keeps browse reads fresh (the catalog
version and the search vectors). Going on sale is checkout's (``checkout.services.sales``):
it creates the inventory.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from events.errors import DuplicateEvent, VenueNotFound
from events.models import Category, Event, Price, Seat, Section, Venue
from ticketing.core.errors import NotFound, Problems, validation_error_from_django
from ticketing.core.venue_time import LocalTimeProblem, venue_localize


def parse_amount(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        return None
    return amount


def event_times_localize(
    *, times: dict[str, dt.datetime | None], tz_name: str, problems: Problems
) -> dict[str, dt.datetime | None]:
    """Each time as an instant; one without an offset is venue wall-clock time.

    A time the daylight-saving change skips or repeats is a problem of its field.
    """
    out: dict[str, dt.datetime | None] = {}
    for name, value in times.items():
        if value is None:
            out[name] = None
            continue
        try:
            out[name] = venue_localize(value, tz_name)
        except LocalTimeProblem as exc:
            problems.add(name, str(exc))
            out[name] = None
    return out


def event_times_check(*, times: dict[str, dt.datetime | None], problems: Problems) -> None:
    """The order of an event's times: ends after it starts, sales close after they open and
    by the start. Times already refused (``None``) are skipped, so one mistake is reported once."""
    starts, ends = times.get("starts_at"), times.get("ends_at")
    opens, closes = times.get("sales_open_at"), times.get("sales_close_at")
    if starts and ends and ends <= starts:
        problems.add("ends_at", "The event must end after it starts.")
    if opens and closes and closes <= opens:
        problems.add("sales_close_at", "Sales must close after they open.")
    if closes and starts and closes > starts:
        problems.add("sales_close_at", "Sales must close by the time the event starts.")


def event_create(
    *,
    venue_id: int,
    title: str,
    category: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    description: str = "",
    slug: str = "",
    sales_open_at: dt.datetime | None = None,
    sales_close_at: dt.datetime | None = None,
    prices: dict[int, Any] | None = None,
    currency: str = "EUR",
    service_fee: Any = 0,
    order_fee: Any = 0,
) -> Event:
    """Create a draft event with its prices (``{section_id: amount}``) and fees (per ticket,
    per order), or nothing at all.

    Times without an offset are the venue's wall-clock time. Every problem of the request
    is reported at once. Raises ``VenueNotFound``, ``ValidationFailed`` or ``DuplicateEvent``.
    """
    venue = Venue.objects.filter(pk=venue_id).first()
    if venue is None:
        raise VenueNotFound(extra={"venue_id": venue_id})
    problems = Problems()
    if category not in Category.values:
        problems.add("category", f"Unknown category '{category}' (one of {', '.join(Category.values)}).")
    raw = {
        "starts_at": starts_at,
        "ends_at": ends_at,
        "sales_open_at": sales_open_at,
        "sales_close_at": sales_close_at,
    }
    for name in ("starts_at", "ends_at"):
        if raw[name] is None:
            problems.add(name, "This time is required.")
    times = event_times_localize(times=raw, tz_name=venue.timezone, problems=problems)
    event_times_check(times=times, problems=problems)
    currency = (currency or "").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        problems.add("currency", "currency must be a three-letter ISO code.")
    section_ids = set(venue.sections.values_list("id", flat=True))
    prices = prices or {}
    unknown = sorted(set(map(int, prices)) - section_ids)
    if unknown:
        problems.add("prices", f"Prices name sections of another venue: {', '.join(map(str, unknown))}.")
    amounts: dict[int, Decimal] = {}
    for sid, value in prices.items():
        amount = parse_amount(value)
        if amount is None:
            problems.add("prices", f"Price of section {sid}: non-negative, at most two decimals.")
        else:
            amounts[int(sid)] = amount

    fees = {"service_fee": parse_amount(service_fee), "order_fee": parse_amount(order_fee)}
    for name, amount in fees.items():
        if amount is None:
            problems.add(name, "A fee is a non-negative amount with at most two decimals.")
    event = Event(
        venue=venue,
        service_fee=fees["service_fee"] or 0,
        order_fee=fees["order_fee"] or 0,
        title=title.strip(),
        slug=slug or slugify(f"{title}-{(times['starts_at'] or timezone.now()):%Y-%m-%d}")[:220],
        description=description,
        category=category,
        starts_at=times["starts_at"],
        ends_at=times["ends_at"],
        timezone=venue.timezone,
        sales_open_at=times["sales_open_at"],
        sales_close_at=times["sales_close_at"],
    )
    try:
        event.full_clean(
            exclude=["venue", *problems.fields, *(f for f in raw if times[f] is None)],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        for name, messages in validation_error_from_django(exc).extra["fields"].items():
            for message in messages:
                problems.add(name, message)
    problems.raise_if_any()
    try:
        with transaction.atomic():
            event.save()
            Price.objects.bulk_create(
                [
                    Price(event=event, venue=venue, section_id=sid, amount=amt, currency=currency)
                    for sid, amt in amounts.items()
                ]
            )
            event_search_refresh(event_ids=[event.pk])
            catalog_version_bump()
    except IntegrityError as exc:
        if "event_unique_venue_start_title" in str(exc):
            raise DuplicateEvent() from exc
        raise
    return event


def event_fees_set(*, event_id: int, service_fee: Any, order_fee: Any) -> Event:
    """Set the event's fees (per ticket, per order). Seats already held or sold keep theirs.
    Raises ``NotFound``, ``ValidationFailed``."""
    problems = Problems()
    fees = {"service_fee": parse_amount(service_fee), "order_fee": parse_amount(order_fee)}
    for name, amount in fees.items():
        if amount is None:
            problems.add(name, "A fee is a non-negative amount with at most two decimals.")
    problems.raise_if_any()
    with transaction.atomic():
        if not Event.objects.filter(pk=event_id).update(**fees):
            raise NotFound(extra={"event_id": event_id})
        catalog_version_bump()
    return Event.objects.get(pk=event_id)


def event_readiness(event: Event) -> list[str]:
    """What stops ``event`` from going on sale; empty when it is ready."""
    problems = []
    section_ids = set(event.venue.sections.values_list("id", flat=True))
    priced = set(event.prices.values_list("section_id", flat=True))
    if not section_ids:
        problems.append("The venue has no sections.")
    missing = section_ids - priced
    if missing:
        names = sorted(Section.objects.filter(id__in=missing).values_list("name", flat=True))
        problems.append(f"Sections without a price: {', '.join(names)}.")
    if not Seat.objects.filter(section__venue_id=event.venue_id).exists():
        problems.append("The venue has no seats.")
    return problems


def catalog_version_bump() -> None:
    """Count one change of the public catalog (events, venues, prices, sold-out flags).

    Precondition: inside the transaction that makes the change, so the bump commits (or rolls
    back) with it. Raises ``RuntimeError`` outside a transaction.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("catalog_version_bump must run inside the changing transaction.")
    with connection.cursor() as cursor:
        # An upsert rather than a plain UPDATE: a flushed test database has no row yet.
        cursor.execute(
            """
            INSERT INTO events_catalogversion (id, version) VALUES (1, 1)
            ON CONFLICT (id) DO UPDATE SET version = events_catalogversion.version + 1
            """
        )


SEARCH_VECTOR_SQL = """
    setweight(to_tsvector('english', coalesce(e.title, '')), 'A')
 || setweight(to_tsvector('english', coalesce(v.name, '') || ' ' || coalesce(v.city, '')), 'B')
 || setweight(to_tsvector('english', coalesce(e.description, '')), 'C')
"""


def event_search_refresh(*, event_ids: list[int] | None = None, venue_id: int | None = None) -> int:
    """Recompute the stored full-text vectors of some events; returns how many were updated.

    Pass ``event_ids`` after an event's title/description changed, ``venue_id`` after a venue
    was renamed (its events carry the venue's name and city). A stored column rather than a
    generated one because the venue's name lives in another table.
    """
    if not event_ids and venue_id is None:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE events_event e SET search_vector = {SEARCH_VECTOR_SQL}
              FROM events_venue v
             WHERE v.id = e.venue_id AND (e.id = ANY(%s) OR e.venue_id = %s)
            """,
            [list(event_ids or []), venue_id],
        )
        return cursor.rowcount


def event_catalog_changed(*, event_ids: list[int] | None = None, venue_id: int | None = None) -> None:
    """Record an edit made outside the services (the admin): refresh search, bump the catalog.

    Precondition: inside the editing transaction (Django's admin runs each change in one).
    """
    event_search_refresh(event_ids=event_ids, venue_id=venue_id)
    catalog_version_bump()
