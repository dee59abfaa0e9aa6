"""Catalog writes: venues with their seats, events with their prices, publishing."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import string
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from checkout.models import LIVE_HOLD_STATUSES, AuditAction, AuditLog, Hold, HoldStatus, Order, OrderStatus
from checkout.services.holds import holds_end
from checkout.services.inventory import inventory_create_for_event
from checkout.services.orders import order_cancel
from checkout.services.versions import inventory_version_bump
from events.errors import (
    DuplicateEvent,
    EventCancelled,
    EventNotCancelled,
    EventNotFound,
    EventNotReady,
    VenueNotFound,
    VenueSlugTaken,
)
from events.models import Category, Event, EventStatus, Price, Seat, Section, SectionKind, Venue
from ticketing import realtime
from ticketing.core.errors import ApplicationError, Forbidden, ValidationFailed, validation_error_from_django
from ticketing.core.locks import busy_on_lock_timeout, lock_one, lock_rows, set_lock_timeout
from waitlist import services as waitlist_services

logger = logging.getLogger(__name__)

MAX_SEATS_PER_SECTION = 5000
DEFAULT_GEOMETRY = {"x": 0, "y": 0, "width": 200, "height": 100}


@dataclass(frozen=True)
class SectionSpec:
    """How to build one section: reserved rows or a general-admission capacity."""

    name: str
    kind: str = SectionKind.RESERVED
    display_order: int = 0
    geometry: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, int]] = field(default_factory=list)
    capacity: int | None = None


def parse_row_labels(spec: str) -> list[str]:
    """``"A-T"`` -> A..T, ``"1-20"`` -> 1..20, ``"AA-AC"`` and comma lists (``"A-C,E"``) too."""
    labels: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        m = re.fullmatch(r"([A-Za-z]+|\d+)\s*-\s*([A-Za-z]+|\d+)", part)
        if not m:
            labels.append(part)
            continue
        start, end = m.groups()
        if start.isdigit() and end.isdigit():
            if int(end) < int(start):
                raise ValidationFailed(f"Row range '{part}' runs backwards.")
            labels.extend(str(n) for n in range(int(start), int(end) + 1))
        elif start.isalpha() and end.isalpha() and len(start) == len(end):
            labels.extend(_letter_range(start.upper(), end.upper(), part))
        else:
            raise ValidationFailed(f"Row range '{part}' mixes letters and numbers.")
    if len(set(labels)) != len(labels):
        raise ValidationFailed(f"Row spec '{spec}' repeats a row.")
    return labels


def _letter_range(start: str, end: str, part: str) -> list[str]:
    letters = string.ascii_uppercase

    def to_num(s: str) -> int:
        return sum(letters.index(c) * 26**i for i, c in enumerate(reversed(s)))

    def to_str(n: int, width: int) -> str:
        out = []
        for _ in range(width):
            out.append(letters[n % 26])
            n //= 26
        return "".join(reversed(out))

    a, b = to_num(start), to_num(end)
    if b < a:
        raise ValidationFailed(f"Row range '{part}' runs backwards.")
    return [to_str(n, len(start)) for n in range(a, b + 1)]


def _validate_geometry(geometry: dict[str, Any], where: str) -> dict[str, Any]:
    geo = {**DEFAULT_GEOMETRY, **(geometry or {})}
    for key in ("x", "y", "width", "height"):
        if not isinstance(geo[key], int | float) or isinstance(geo[key], bool):
            raise ValidationFailed(f"{where}: geometry.{key} must be a number.")
    if geo["width"] <= 0 or geo["height"] <= 0:
        raise ValidationFailed(f"{where}: geometry width and height must be positive.")
    return geo


def _validate_section(spec: SectionSpec) -> None:
    where = f"Section '{spec.name}'"
    if not spec.name.strip():
        raise ValidationFailed("Every section needs a name.")
    if spec.kind not in SectionKind.values:
        raise ValidationFailed(f"{where}: kind must be 'reserved' or 'general'.")
    if spec.kind == SectionKind.GENERAL:
        if spec.rows or not spec.capacity or spec.capacity < 1:
            raise ValidationFailed(f"{where}: a general-admission section needs a capacity and no rows.")
        total = spec.capacity
    else:
        if spec.capacity is not None or not spec.rows:
            raise ValidationFailed(f"{where}: a reserved section needs rows, not a capacity.")
        if any(n < 1 for _, n in spec.rows):
            raise ValidationFailed(f"{where}: every row needs at least one seat.")
        if len({label for label, _ in spec.rows}) != len(spec.rows):
            raise ValidationFailed(f"{where}: row labels repeat.")
        total = sum(n for _, n in spec.rows)
    if total > MAX_SEATS_PER_SECTION:
        raise ValidationFailed(f"{where}: at most {MAX_SEATS_PER_SECTION} seats per section.")


def _layout_seats(section: Section, spec: SectionSpec) -> list[Seat]:
    """Place seats on a grid inside the section's rectangle (map units)."""
    geo = section.geometry
    x0, y0, width, height = geo["x"], geo["y"], geo["width"], geo["height"]
    seats: list[Seat] = []
    if spec.kind == SectionKind.GENERAL:
        n = spec.capacity or 0
        cols = max(1, math.ceil(math.sqrt(n * width / height)))
        rows = math.ceil(n / cols)
        for i in range(n):
            r, c = divmod(i, cols)
            seats.append(
                Seat(
                    section=section,
                    row_label="",
                    label=str(i + 1),
                    row_rank=0,
                    position=i,
                    x=round(x0 + (c + 0.5) * width / cols, 2),
                    y=round(y0 + (r + 0.5) * height / rows, 2),
                )
            )
        return seats
    widest = max(n for _, n in spec.rows)
    for rank, (row_label, count) in enumerate(spec.rows):
        offset = (widest - count) / 2  # centre shorter rows
        for i in range(count):
            seats.append(
                Seat(
                    section=section,
                    row_label=row_label,
                    label=str(i + 1),
                    row_rank=rank,
                    position=i,
                    x=round(x0 + (offset + i + 0.5) * width / widest, 2),
                    y=round(y0 + (rank + 0.5) * height / len(spec.rows), 2),
                    # The first row's aisle seats are the accessible ones by default.
                    accessible=rank == 0 and i in (0, count - 1),
                )
            )
    return seats


def section_create(*, venue: Venue, spec: SectionSpec) -> Section:
    """Create a section and its seats. Caller owns the transaction."""
    _validate_section(spec)
    section = Section(
        venue=venue,
        name=spec.name.strip(),
        kind=spec.kind,
        display_order=spec.display_order,
        geometry=_validate_geometry(spec.geometry, f"Section '{spec.name}'"),
    )
    section.full_clean(exclude=["venue"], validate_unique=False)
    section.save()
    Seat.objects.bulk_create(_layout_seats(section, spec), batch_size=2000)
    return section


def section_seats_generate(*, section: Section, spec: SectionSpec) -> int:
    """Replace an unsold section's seats from a row spec (admin's 'generate seats').

    Raises ``ValidationFailed`` when the section's seats are already on sale anywhere.
    """
    with transaction.atomic():
        _validate_section(spec)
        if section.seats.filter(inventory__isnull=False).exists():
            raise ValidationFailed("Seats of a published event cannot be regenerated.")
        section.seats.all().delete()
        section.kind = spec.kind
        section.geometry = _validate_geometry(spec.geometry or section.geometry, f"Section '{section.name}'")
        section.save(update_fields=["kind", "geometry"])
        seats = Seat.objects.bulk_create(_layout_seats(section, spec), batch_size=2000)
        return len(seats)


def venue_create(
    *,
    name: str,
    slug: str = "",
    city: str,
    country: str,
    timezone: str,
    address: str = "",
    sections: list[SectionSpec],
) -> Venue:
    """Create a venue with all its sections and seats, or nothing at all.

    Raises ``ValidationFailed`` (bad field, section or row spec) or ``VenueSlugTaken``.
    """
    venue = Venue(
        name=name.strip(),
        slug=slug or slugify(name),
        city=city.strip(),
        country=country.strip().upper(),
        timezone=timezone,
        address=address,
    )
    try:
        venue.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise validation_error_from_django(exc) from exc
    if not sections:
        raise ValidationFailed("A venue needs at least one section.")
    names = [s.name.strip() for s in sections]
    if len(set(names)) != len(names):
        raise ValidationFailed("Section names must be unique within a venue.")
    for spec in sections:
        _validate_section(spec)
    with transaction.atomic():
        if Venue.objects.filter(slug=venue.slug).exists():
            raise VenueSlugTaken(extra={"slug": venue.slug})
        venue.save()
        for spec in sections:
            section_create(venue=venue, spec=spec)
    return venue


def _parse_amount(value: Any, where: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationFailed(f"{where}: '{value}' is not an amount.") from exc
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(f"{where}: amounts are non-negative with at most two decimals.")
    return amount


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
) -> Event:
    """Create a draft event with its prices (``{section_id: amount}``), or nothing at all.

    Raises ``VenueNotFound``, ``ValidationFailed`` or ``DuplicateEvent``.
    """
    venue = Venue.objects.filter(pk=venue_id).first()
    if venue is None:
        raise VenueNotFound(extra={"venue_id": venue_id})
    if category not in Category.values:
        raise ValidationFailed(
            f"Unknown category '{category}'.", extra={"fields": {"category": list(Category.values)}}
        )
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is None or timezone.is_naive(value):
            raise ValidationFailed(f"{name} needs a time zone offset.")
    if ends_at <= starts_at:
        raise ValidationFailed("The event must end after it starts.")
    if sales_open_at and sales_close_at and sales_close_at <= sales_open_at:
        raise ValidationFailed("Sales must close after they open.")
    if sales_close_at and sales_close_at > starts_at:
        raise ValidationFailed("Sales must close by the time the event starts.")
    currency = (currency or "").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValidationFailed("currency must be a three-letter ISO code.")
    section_ids = set(venue.sections.values_list("id", flat=True))
    prices = prices or {}
    unknown = sorted(set(map(int, prices)) - section_ids)
    if unknown:
        raise ValidationFailed("Prices name sections of another venue.", extra={"section_ids": unknown})
    amounts = {int(sid): _parse_amount(v, f"Price of section {sid}") for sid, v in prices.items()}

    event = Event(
        venue=venue,
        title=title.strip(),
        slug=slug or slugify(f"{title}-{starts_at:%Y-%m-%d}")[:220],
        description=description,
        category=category,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=venue.timezone,
        sales_open_at=sales_open_at,
        sales_close_at=sales_close_at,
    )
    try:
        event.full_clean(exclude=["venue"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise validation_error_from_django(exc) from exc
    try:
        with transaction.atomic():
            event.save()
            Price.objects.bulk_create(
                [
                    Price(event=event, section_id=sid, amount=amt, currency=currency)
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


def event_publish(*, event_id: int, actor=None, now: dt.datetime | None = None) -> Event:
    """Put an event on sale and create its inventory (one row per seat). Idempotent.

    Raises ``EventNotFound``, ``EventCancelled`` or ``EventNotReady`` (with the problems).
    """
    now = now or timezone.now()
    with transaction.atomic():
        event = lock_one(Event.objects.select_related("venue").filter(pk=event_id))
        if event is None:
            raise EventNotFound(extra={"event_id": event_id})
        if event.status == EventStatus.CANCELLED:
            raise EventCancelled()
        problems = event_readiness(event)
        if problems:
            raise EventNotReady(problems[0], extra={"problems": problems})
        created = inventory_create_for_event(event=event, now=now)
        if created:
            inventory_version_bump(event_id=event.pk)
            # New seats can bring a sold-out event back.
            transaction.on_commit(lambda: event_availability_refresh(event_id=event_id))
        if created or event.status != EventStatus.ON_SALE:
            catalog_version_bump()
        if event.status != EventStatus.ON_SALE:
            event.status = EventStatus.ON_SALE
            event.published_at = now
            event.save(update_fields=["status", "published_at", "updated_at"])
            AuditLog.objects.create(
                at=now,
                action=AuditAction.EVENT_PUBLISHED,
                actor=actor if getattr(actor, "pk", None) else None,
                event=event,
                data={"inventory_rows": created},
            )
    return event


# --- Cancellation ------------------------------------------------------------------------

CANCEL_REASON = "event_cancelled"
REFUND_BATCH = 100


@dataclass(frozen=True)
class EventCancellation:
    """What one run of ``event_cancel`` did. ``orders_pending`` counts paid orders still to
    refund (queued for the worker, or left by failed refunds): re-run until it is 0."""

    event_id: int
    newly_cancelled: bool
    holds_released: int
    waitlist_closed: int
    orders_cancelled: list[int]
    refunds_failed: list[int]
    orders_pending: int


def event_cancel(
    *, event_id: int, actor: Any, now: dt.datetime | None = None, refund_inline: bool = False
) -> EventCancellation:
    """Cancel an event: stop sales, end live holds, close the waitlist, refund every paid order.

    Steps, each in its own transaction so one failure never undoes the others, and the whole
    safe to run again (each step skips what is done): mark the event cancelled (holds and
    purchases are refused from that commit on; viewers are told); end every live hold,
    waiting for holds a purchase is completing (a purchase that already converted is found
    among the orders; one still paying is refunded by checkout when it finds the hold gone);
    close the waitlist; cancel and refund each paid order through ``order_cancel``. With
    ``refund_inline`` the refunds run now (``refunds_failed`` lists the orders whose refund
    was refused; they stay paid for the next run); otherwise a worker task runs them.

    Raises ``Forbidden`` (not staff), ``EventNotFound`` and ``Busy``.
    """
    if not getattr(actor, "is_staff", False):
        raise Forbidden("Only staff can cancel an event.")
    now = now or timezone.now()
    with transaction.atomic():
        set_lock_timeout()
        event = lock_one(Event.objects.filter(pk=event_id))
        if event is None:
            raise EventNotFound(extra={"event_id": event_id})
        newly = event.status != EventStatus.CANCELLED
        if newly:
            previous = event.status
            event.status = EventStatus.CANCELLED
            event.save(update_fields=["status", "updated_at"])
            catalog_version_bump()
            AuditLog.objects.create(
                at=now,
                action=AuditAction.EVENT_CANCELLED,
                actor=actor,
                event=event,
                data={"previous_status": previous},
            )
            transaction.on_commit(
                partial(
                    realtime.push,
                    realtime.event_group(event_id),
                    {"type": "event.cancelled", "event_id": event_id},
                )
            )
    holds_released = _event_holds_release(event_id=event_id, actor=actor, now=now)
    waitlist_closed = waitlist_services.waitlist_event_close(event_id=event_id, reason=CANCEL_REASON, now=now)
    cancelled: list[int] = []
    failed: list[int] = []
    if refund_inline:
        cancelled, failed = event_orders_refund(event_id=event_id, actor=actor, now=now)
    else:
        _queue_refunds(event_id=event_id, actor_id=actor.pk)
    return EventCancellation(
        event_id=event_id,
        newly_cancelled=newly,
        holds_released=holds_released,
        waitlist_closed=waitlist_closed,
        orders_cancelled=cancelled,
        refunds_failed=failed,
        orders_pending=Order.objects.filter(event_id=event_id, status=OrderStatus.PAID).count(),
    )


def _event_holds_release(*, event_id: int, actor: Any, now: dt.datetime) -> int:
    with busy_on_lock_timeout(), transaction.atomic():
        set_lock_timeout()
        # Waited for, not skipped: a purchase completing right now commits its order (which
        # the refunds then find) before we end its hold. One hold at a time in pk order, as
        # every checkout path locks at most one hold before seats.
        live = lock_rows(Hold.objects.filter(event_id=event_id, status__in=LIVE_HOLD_STATUSES))
        ended = holds_end(
            hold_ids=[h.pk for h in live],
            status=HoldStatus.RELEASED,
            now=now,
            reason=CANCEL_REASON,
            actor=actor,
        )
    return len(ended)


def _queue_refunds(*, event_id: int, actor_id: int) -> None:
    from django_q.tasks import async_task

    def queue() -> None:
        try:
            async_task(
                "events.tasks.event_refunds_run", event_id, actor_id, task_name=f"event-{event_id}-refunds"
            )
        except Exception:  # staff see orders_pending and can run the cancel again
            logger.exception("could not queue the refunds of cancelled event %s", event_id)

    transaction.on_commit(queue)


def event_orders_refund(
    *, event_id: int, actor: Any, now: dt.datetime | None = None, batch_size: int = REFUND_BATCH
) -> tuple[list[int], list[int]]:
    """Cancel and refund every paid order of a cancelled event; returns (cancelled, failed) ids.

    Orders go in id order, ``batch_size`` ids read at a time, each through ``order_cancel``
    (its own refund call and transaction): a refused refund or a lock timeout on one order
    is logged, leaves that order paid, and the run goes on. Each cancelled buyer is e-mailed.
    Raises ``EventNotCancelled`` when the event still sells (refunding it would be a mistake).
    """
    if not Event.objects.filter(pk=event_id, status=EventStatus.CANCELLED).exists():
        raise EventNotCancelled(extra={"event_id": event_id})
    now = now or timezone.now()
    cancelled: list[int] = []
    failed: list[int] = []
    after = 0
    while True:
        batch = list(
            Order.objects.filter(event_id=event_id, status=OrderStatus.PAID, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            return cancelled, failed
        after = batch[-1]
        for order_id in batch:
            try:
                order = order_cancel(order_id=order_id, actor=actor, now=now, reason=CANCEL_REASON)
            except ApplicationError as exc:  # PaymentFailed (refund refused), Busy
                logger.warning("event %s: order %s not refunded yet (%s)", event_id, order_id, exc.code)
                failed.append(order_id)
                continue
            if order.cancelled_at == now:  # cancelled by this run, not earlier
                cancelled.append(order_id)
                transaction.on_commit(partial(_queue_cancel_mail, order_id))


def _queue_cancel_mail(order_id: int) -> None:
    from django_q.tasks import async_task

    try:
        async_task("checkout.tasks.order_event_cancelled_send", order_id, group="event-cancelled-email")
    except Exception:
        logger.exception("could not queue the cancellation e-mail of order %s", order_id)


# --- Browse support: catalog version, search vectors, sold-out summary ------------------


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


def _sold_out_state(event_id: int, now: dt.datetime) -> tuple[bool, dt.datetime | None]:
    """``(sold_out, until)`` from the inventory: no free seat, and the first live hold's expiry."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXISTS (
                       SELECT 1 FROM checkout_seatinventory
                        WHERE event_id = %(e)s
                          AND (status = 'available' OR (status = 'held' AND hold_expires_at <= %(now)s))
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


def event_availability_refresh(*, event_id: int, now: dt.datetime | None = None) -> bool:
    """Bring ``Event.sold_out``/``sold_out_until`` in line with the inventory; True if they changed.

    Called after every committed inventory change (``checkout.services.hooks.seats_changed``).
    The common case (nothing changed) is two index reads and no write, so buyers do not queue
    on the event row; only a real change takes the event's row lock, re-checks under it (so
    concurrent refreshes cannot leave an older answer behind) and bumps the catalog version.
    Raises ``Busy`` if the event row stays locked past the lock timeout.
    """
    state = _sold_out_state(event_id, now or timezone.now())
    current = Event.objects.filter(pk=event_id).values_list("sold_out", "sold_out_until").first()
    if current is None or tuple(current) == state:
        return False
    with transaction.atomic():
        set_lock_timeout()
        event = lock_one(Event.objects.filter(pk=event_id))
        if event is None:
            return False
        state = _sold_out_state(event_id, now or timezone.now())
        if (event.sold_out, event.sold_out_until) == state:
            return False
        Event.objects.filter(pk=event_id).update(sold_out=state[0], sold_out_until=state[1])
        catalog_version_bump()
    return True
