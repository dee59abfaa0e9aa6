"""Per-event figures for staff: seats, hold outcomes, and the on-sale readiness check."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Avg, Count, F, Q
from django.utils import timezone

from checkout.models import AuditLog, Hold, HoldStatus, SeatInventory
from checkout.selectors.availability import seat_counts
from events.models import Event, Price, Seat


@dataclass(frozen=True)
class EventFigures:
    seats: int
    sold: int
    held: int
    free: int
    holds_total: int
    holds_live: int
    holds_converted: int
    holds_expired: int
    holds_released: int
    conversion_rate: float | None  # of ended holds, share that became an order
    expiry_rate: float | None  # of ended holds, share that ran out
    average_hold_seconds: float | None  # created -> ended, over ended holds
    readiness_problems: list[str] = field(default_factory=list)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def event_readiness_problems(*, event: Event, now: dt.datetime | None = None) -> list[str]:
    """What a staff member should fix before (or while) this event is on sale; empty when ready."""
    now = now or timezone.now()
    problems: list[str] = []
    sections = list(event.venue.sections.order_by("display_order", "id"))
    if not sections:
        problems.append("The venue has no sections.")
    priced = set(Price.objects.filter(event=event).values_list("section_id", flat=True))
    unpriced = [s.name for s in sections if s.pk not in priced]
    if unpriced:
        problems.append(f"Sections without a price: {', '.join(unpriced)}.")
    seat_ids = set(Seat.objects.filter(section__venue_id=event.venue_id).values_list("pk", flat=True))
    if not seat_ids:
        problems.append("The venue has no seats.")
    rows = SeatInventory.objects.filter(event=event)
    inventory_ids = set(rows.values_list("seat_id", flat=True))
    if event.status == "draft" and not inventory_ids:
        problems.append("No inventory yet: publishing creates it.")
    else:
        missing = len(seat_ids - inventory_ids)
        extra = len(inventory_ids - seat_ids)
        if missing:
            problems.append(f"{missing} venue seats have no inventory row (publish again to add them).")
        if extra:
            problems.append(f"{extra} inventory rows point at seats not in the venue.")
        wrong_section = rows.exclude(section_id=F("seat__section_id")).count()
        if wrong_section:
            problems.append(f"{wrong_section} inventory rows have the wrong section.")
    if event.sales_open_at is None:
        problems.append("No sales opening time is set.")
    if event.sales_close_at is None:
        problems.append("No sales closing time is set (sales run until the doors open).")
    elif event.sales_close_at > event.starts_at:
        problems.append("Sales close after the event starts.")
    if event.status == "cancelled":
        problems.append("The event is cancelled.")
    elif event.starts_at <= now:
        problems.append("The event has already started.")
    return problems


def event_figures(*, event: Event, now: dt.datetime | None = None) -> EventFigures:
    """Seats by effective status (an expired hold's seat counts as free) and hold outcomes."""
    now = now or timezone.now()
    seats = seat_counts(event_id=event.pk, now=now)
    holds = Hold.objects.filter(event=event).aggregate(
        total=Count("id"),
        live=Count("id", filter=Q(status__in=[HoldStatus.ACTIVE, HoldStatus.PAYING], expires_at__gt=now)),
        converted=Count("id", filter=Q(status=HoldStatus.CONVERTED)),
        expired=Count(
            "id",
            filter=Q(status=HoldStatus.EXPIRED)
            | Q(status__in=[HoldStatus.ACTIVE, HoldStatus.PAYING], expires_at__lte=now),
        ),
        released=Count("id", filter=Q(status=HoldStatus.RELEASED)),
        avg=Avg(F("ended_at") - F("created_at"), filter=Q(ended_at__isnull=False)),
    )
    ended = holds["converted"] + holds["expired"] + holds["released"]
    return EventFigures(
        seats=seats["total"],
        sold=seats["sold"],
        held=seats["held"],
        free=seats["free"],
        holds_total=holds["total"],
        holds_live=holds["live"],
        holds_converted=holds["converted"],
        holds_expired=holds["expired"],
        holds_released=holds["released"],
        conversion_rate=_rate(holds["converted"], ended),
        expiry_rate=_rate(holds["expired"], ended),
        average_hold_seconds=holds["avg"].total_seconds() if holds["avg"] else None,
        readiness_problems=event_readiness_problems(event=event, now=now),
    )


def event_audit_recent(*, event: Event, limit: int = 25) -> list[AuditLog]:
    """The newest audit rows of the event, for the staff figures page."""
    return list(AuditLog.objects.filter(event=event).select_related("actor").order_by("-at", "-id")[:limit])
