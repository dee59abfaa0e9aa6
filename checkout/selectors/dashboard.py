"""The organizer dashboard of one event: seats by section, money, sales over time, holds.

Reads only. Seats come from the availability owner (``availability.section_availability``),
hold outcomes from ``figures.event_figures``; money from the payment rows (what the
provider approved, charges and refunds). Apps above checkout add their own figures
(the waitlist: its size) through ``panel_register``, called from their ``AppConfig.ready()``.
The CSV exports read in primary-key pages of ``EXPORT_PAGE`` rows, so 20,000 orders never
sit in memory at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from checkout.models import Hold, HoldKind, HoldStatus, Order, Payment, PaymentKind, PaymentStatus, Ticket
from checkout.selectors.availability import section_availability
from checkout.selectors.figures import EventFigures, event_figures
from events.models import Event
from ticketing.core.venue_time import venue_display, zone

EXPORT_PAGE = 1000
ONSALE_MINUTES = 120  # the on-sale rush, shown per minute; after it, per day

# Extra figures from apps above checkout: fn(event_id) -> [(label, value)].
_panels: list[Callable[[int], list[tuple[str, object]]]] = []


def panel_register(fn: Callable[[int], list[tuple[str, object]]]) -> None:
    """Add figures to every dashboard (idempotent). Called from an ``AppConfig.ready()``."""
    if fn not in _panels:
        _panels.append(fn)


@dataclass(frozen=True)
class SectionRow:
    name: str
    total: int
    sold: int
    held: int
    free: int


@dataclass(frozen=True)
class Money:
    currency: str
    gross: Decimal
    refunds: Decimal

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunds


@dataclass(frozen=True)
class Dashboard:
    event: Event
    starts: str
    sections: list[SectionRow]
    money: list[Money]
    orders_paid: int
    orders_cancelled: int
    tickets_sold: int
    per_minute: list[tuple[str, int]]
    per_day: list[tuple[str, int]]
    figures: EventFigures
    offers_made: int
    offers_accepted: int
    extra: list[tuple[str, object]]


def _sections(event: Event, now: dt.datetime) -> list[SectionRow]:
    counts = section_availability(event_id=event.pk, now=now)
    rows = []
    for section in event.venue.sections.order_by("display_order", "id"):
        c = counts.get(section.pk, {"total": 0, "free": 0, "sold": 0})
        held = c["total"] - c["free"] - c["sold"]
        rows.append(SectionRow(section.name, c["total"], c["sold"], held, c["free"]))
    return rows


def _money(event: Event) -> list[Money]:
    approved = Payment.objects.filter(
        Q(order__event_id=event.pk) | Q(hold__event_id=event.pk), status=PaymentStatus.APPROVED
    )
    rows = approved.values("currency").annotate(
        gross=Sum("amount", filter=Q(kind=PaymentKind.CHARGE)),
        refunds=Sum("amount", filter=Q(kind=PaymentKind.REFUND)),
    )
    return [
        Money(r["currency"], r["gross"] or Decimal("0"), r["refunds"] or Decimal("0"))
        for r in rows.order_by("currency")
    ]


def sales_series(*, event: Event, now: dt.datetime) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Tickets sold per minute over the on-sale's first ``ONSALE_MINUTES`` (from the sales
    opening, or publishing) and per day over the whole sale, in the venue's time zone."""
    tz = zone(event.timezone)
    tickets = Ticket.objects.filter(event=event)
    start = event.sales_open_at or event.published_at
    per_minute: list[tuple[str, int]] = []
    if start is not None:
        minute0 = start.astimezone(tz).replace(second=0, microsecond=0)
        end = min(minute0 + dt.timedelta(minutes=ONSALE_MINUTES), max(now, minute0 + dt.timedelta(minutes=1)))
        counts = dict(
            tickets.filter(created_at__gte=minute0, created_at__lt=end)
            .annotate(bucket=Trunc("created_at", "minute", tzinfo=tz))
            .values_list("bucket")
            .annotate(n=Count("id"))
            .values_list("bucket", "n")
        )
        counts = {k.astimezone(tz).replace(tzinfo=None): v for k, v in counts.items()}
        minutes = int((end - minute0).total_seconds() // 60) + 1
        for i in range(min(minutes, ONSALE_MINUTES)):
            at = (minute0 + dt.timedelta(minutes=i)).replace(tzinfo=None)
            per_minute.append((f"{at:%H:%M}", counts.get(at, 0)))
    days = (
        tickets.annotate(bucket=Trunc("created_at", "day", tzinfo=tz))
        .values_list("bucket")
        .annotate(n=Count("id"))
        .order_by("bucket")
        .values_list("bucket", "n")
    )
    per_day = [(f"{d.astimezone(tz):%Y-%m-%d}", n) for d, n in days]
    return per_minute, per_day


def event_dashboard(*, event: Event, now: dt.datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    orders = Order.objects.filter(event=event).aggregate(
        paid=Count("id", filter=Q(status="paid")), cancelled=Count("id", filter=Q(status="cancelled"))
    )
    offers = Hold.objects.filter(event=event, kind=HoldKind.OFFER).aggregate(
        made=Count("id"), accepted=Count("id", filter=Q(status=HoldStatus.CONVERTED))
    )
    per_minute, per_day = sales_series(event=event, now=now)
    extra: list[tuple[str, object]] = []
    for panel in _panels:
        extra += panel(event.pk)
    return Dashboard(
        event=event,
        starts=venue_display(event.starts_at, event.timezone),
        sections=_sections(event, now),
        money=_money(event),
        orders_paid=orders["paid"],
        orders_cancelled=orders["cancelled"],
        tickets_sold=Ticket.objects.filter(event=event, order__status="paid").count(),
        per_minute=per_minute,
        per_day=per_day,
        figures=event_figures(event=event, now=now),
        offers_made=offers["made"],
        offers_accepted=offers["accepted"],
        extra=extra,
    )


def _csv_safe(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading ``= + - @`` would be run as a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


ORDER_COLUMNS = [
    "order",
    "created (venue time)",
    "status",
    "buyer name",
    "buyer email",
    "tickets",
    "total",
    "currency",
    "cancelled (venue time)",
]
ATTENDEE_COLUMNS = [
    "ticket",
    "order",
    "buyer name",
    "buyer email",
    "section",
    "row",
    "seat",
    "status",
    "checked in (venue time)",
    "gate",
    # Who was given the ticket (checkout/services/tickets.py: ticket_transfer); blank: the buyer.
    "holder name",
    "holder email",
]


def _local(value: dt.datetime | None, tz) -> str:
    return "" if value is None else f"{value.astimezone(tz):%Y-%m-%d %H:%M:%S}"


def orders_export_page(*, event: Event, after: int) -> tuple[list[list[str]], int | None]:
    """One page of the orders CSV (rows after order id ``after``) and the next ``after``."""
    tz = zone(event.timezone)
    rows = list(
        Order.objects.filter(event=event, pk__gt=after)
        .annotate(n=Count("tickets"))
        .order_by("pk")
        .values_list(
            "pk",
            "created_at",
            "status",
            "buyer_name",
            "buyer_email",
            "n",
            "total",
            "currency",
            "cancelled_at",
        )[:EXPORT_PAGE]
    )
    out = [
        [
            _csv_safe(v)
            for v in (pk, _local(created, tz), status, name, email, n, total, cur, _local(cancelled, tz))
        ]
        for pk, created, status, name, email, n, total, cur, cancelled in rows
    ]
    return out, (rows[-1][0] if len(rows) == EXPORT_PAGE else None)


def attendees_export_page(*, event: Event, after: int) -> tuple[list[list[str]], int | None]:
    """One page of the attendee list (tickets after id ``after``) and the next ``after``."""
    tz = zone(event.timezone)
    rows = list(
        Ticket.objects.filter(event=event, pk__gt=after)
        .order_by("pk")
        .values_list(
            "pk",
            "order_id",
            "order__buyer_name",
            "order__buyer_email",
            "section__name",
            "seat__row_label",
            "seat__label",
            "status",
            "used_at",
            "used_gate",
            "holder_name",
            "holder_email",
        )[:EXPORT_PAGE]
    )
    out = [[_csv_safe(v) for v in (*r[:8], _local(r[8], tz), *r[9:])] for r in rows]
    return out, (rows[-1][0] if len(rows) == EXPORT_PAGE else None)
