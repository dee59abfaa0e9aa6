"""The event page's API (availability and seat map, cached) and staff's sale controls
(publish, cancel): the parts of an event that are seats and money, so checkout's.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Router, Schema

from checkout.selectors import event_page
from checkout.selectors import ticket_types as ticket_type_selectors
from checkout.services import sales
from events.api import EventOut, event_out, snapshot_response
from events.selectors.catalog import public_event
from ticketing.accounts.auth import require_staff
from ticketing.core.venue_time import venue_isoformat
from ticketing.server.version_prefetch import prefetched_event

router = Router()


class SectionAvailabilityOut(Schema):
    id: int
    name: str
    kind: str
    price: str | None
    currency: str | None
    total: int
    available: int


class StageOut(Schema):
    """The stage or field marker staff drew, in the sections' map units."""

    x: float
    y: float
    width: float
    height: float
    label: str = "Stage"


class VenueDetail(Schema):
    id: int
    name: str
    city: str
    address: str
    country: str
    stage: StageOut | None = None


class EventDetailOut(Schema):
    id: int
    title: str
    slug: str
    description: str
    category: str
    status: str
    timezone: str
    starts_at: str
    ends_at: str
    sales_open_at: str | None
    sales_close_at: str | None
    venue: VenueDetail
    lowest_price: str | None
    currency: str | None
    total: int
    available: int
    sections: list[SectionAvailabilityOut]


class SeatColumns(Schema):
    id: list[int]
    section: list[int] = Field(description="Index into sections")
    x: list[float]
    y: list[float]
    row: list[str]
    label: list[str]
    accessible: list[int] = Field(description="Indexes of accessible seats")
    free: str = Field(description="'1' free / '0' taken, one character per seat")


class SeatMapSection(Schema):
    id: int
    name: str
    kind: str
    geometry: dict
    price: str | None
    currency: str | None


class SeatMapOut(Schema):
    event_id: int
    version: int | None = Field(description="Inventory version this map is at least as new as")
    sections: list[SeatMapSection]
    seats: SeatColumns


@router.post(
    "/events/{event_id}/publish",
    response=EventOut,
    summary="Put an event on sale (staff)",
    description="EVENT_NOT_READY 409, EVENT_CANCELLED 409, NOT_FOUND 404, FORBIDDEN 403, BUSY 503.",
)
def event_publish(request: HttpRequest, event_id: int):
    require_staff(request)
    return event_out(sales.event_publish(event_id=event_id, actor=request.user))


class CancellationOut(Schema):
    event_id: int
    status: str
    newly_cancelled: bool
    holds_released: int
    waitlist_closed: int
    orders_pending: int = Field(description="Paid orders still to refund; the worker refunds them")


@router.post(
    "/events/{event_id}/cancel",
    response=CancellationOut,
    summary="Cancel an event: stop sales, release holds, close the waitlist, refund every order (staff)",
    description="Safe to repeat: a repeat finishes what is left (refunds a provider refused). "
    "FORBIDDEN 403, NOT_FOUND 404, BUSY 503.",
)
def event_cancel(request: HttpRequest, event_id: int):
    require_staff(request)
    outcome = sales.event_cancel(event_id=event_id, actor=request.auth)
    return {
        "event_id": outcome.event_id,
        "status": "cancelled",
        "newly_cancelled": outcome.newly_cancelled,
        "holds_released": outcome.holds_released,
        "waitlist_closed": outcome.waitlist_closed,
        "orders_pending": outcome.orders_pending,
    }


class PriceRowOut(Schema):
    type: str = Field(description="The ticket type ('Standard': the section's own price)")
    section: str
    price: str
    sold_out: bool
    sales_end: str | None = Field(None, description="When this type stops selling (venue time)")


class PriceListOut(Schema):
    event_id: int
    currency: str
    service_fee: str = Field(description="Per ticket, on top of the price")
    order_fee: str = Field(description="Once per order")
    rows: list[PriceRowOut]


@router.get(
    "/events/{event_id}/prices",
    response=PriceListOut,
    auth=None,
    summary="The public ticket types on sale with their price per section, and the fees",
    description="Presale types are shown only on the hold of a buyer who entered their code. NOT_FOUND 404.",
)
def event_price_list(request: HttpRequest, event_id: int):
    event = public_event(event_id)
    found = ticket_type_selectors.event_price_list(event_id=event.pk)
    return {
        "event_id": event.pk,
        "currency": found["currency"],
        "service_fee": f"{found['service_fee']:.2f}",
        "order_fee": f"{found['order_fee']:.2f}",
        "rows": [
            {
                "type": row["type"],
                "section": row["section"],
                "price": f"{row['price']:.2f}",
                "sold_out": row["sold_out"],
                "sales_end": venue_isoformat(row.get("sales_end"), event.timezone),
            }
            for row in found["rows"]
        ],
    }


# --- Public reads: cached bytes as they are (see events.api) ----------------------------


@router.get("/events/{event_id}", response=EventDetailOut, auth=None, summary="One event with availability")
def event_detail(request: HttpRequest, event_id: int):
    versions = prefetched_event(request, event_id)
    return snapshot_response(request, event_page.event_detail_snapshot(event_id=event_id, versions=versions))


@router.get("/events/{event_id}/seats", response=SeatMapOut, auth=None, summary="Seat map (columnar)")
def event_seat_map(request: HttpRequest, event_id: int):
    versions = prefetched_event(request, event_id)
    return snapshot_response(
        request, event_page.event_seat_map_snapshot(event_id=event_id, versions=versions)
    )
