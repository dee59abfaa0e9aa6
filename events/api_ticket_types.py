"""Staff API of ticket types (with their prices per section) and an event's fees.

What a type does at checkout is ``checkout/services/pricing/``'s; these only write the catalog.
Times without an offset are the venue's wall clock, as for events.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from events.models import Event, TicketType
from events.services import catalog as catalog_services
from events.services import ticket_types as services
from ticketing.accounts.auth import require_staff
from ticketing.core.validation import InputSchema, column_length
from ticketing.core.venue_time import venue_isoformat

router = Router()

_LOCAL = "ISO 8601; without an offset: the venue's wall clock"


class TypePriceIn(InputSchema):
    section_id: int
    amount: Decimal = Field(ge=0, max_digits=10, decimal_places=2)


class TicketTypeIn(InputSchema):
    name: str = Field(min_length=1, max_length=column_length(TicketType, "name"))
    description: str = Field("", max_length=column_length(TicketType, "description"))
    quota: int | None = Field(None, ge=0, le=2**31 - 1, description="Cap across the event (held + sold)")
    sales_start: dt.datetime | None = Field(None, description=_LOCAL)
    sales_end: dt.datetime | None = Field(None, description=_LOCAL)
    per_order_max: int | None = Field(None, ge=1, le=32767)
    visibility: Literal["public", "presale"] = "public"
    sort_order: int = Field(0, ge=0, le=2**31 - 1)
    prices: list[TypePriceIn] = Field(max_length=1000, description="A price per section it is sold in")


class TypePriceOut(Schema):
    section_id: int
    amount: Decimal


class TicketTypeOut(Schema):
    id: int
    event_id: int
    name: str
    description: str
    quota: int | None
    sales_start: str | None
    sales_end: str | None
    per_order_max: int | None
    visibility: str
    sort_order: int
    prices: list[TypePriceOut]


class FeesIn(InputSchema):
    service_fee: Decimal = Field(ge=0, max_digits=10, decimal_places=2, description="Per ticket")
    order_fee: Decimal = Field(ge=0, max_digits=10, decimal_places=2, description="Once per order")


class FeesOut(Schema):
    event_id: int
    service_fee: Decimal
    order_fee: Decimal


def _out(ticket_type: TicketType) -> dict:
    tz = ticket_type.event.timezone
    return {
        "id": ticket_type.pk,
        "event_id": ticket_type.event_id,
        "name": ticket_type.name,
        "description": ticket_type.description,
        "quota": ticket_type.quota,
        "sales_start": venue_isoformat(ticket_type.sales_start, tz),
        "sales_end": venue_isoformat(ticket_type.sales_end, tz),
        "per_order_max": ticket_type.per_order_max,
        "visibility": ticket_type.visibility,
        "sort_order": ticket_type.sort_order,
        "prices": [{"section_id": p.section_id, "amount": p.amount} for p in ticket_type.prices.all()],
    }


def _fields(payload: TicketTypeIn) -> dict:
    data = payload.dict(exclude={"prices"})
    return data | {"prices": {p.section_id: p.amount for p in payload.prices}}


@router.get(
    "/events/{event_id}/ticket-types", response=list[TicketTypeOut], summary="An event's ticket types (staff)"
)
def ticket_type_list(request: HttpRequest, event_id: int):
    require_staff(request)
    types = TicketType.objects.filter(event_id=event_id).select_related("event").prefetch_related("prices")
    return [_out(t) for t in types]


@router.post(
    "/events/{event_id}/ticket-types",
    response={201: TicketTypeOut},
    summary="Add a ticket type with its prices (staff)",
    description="VALIDATION_ERROR 422 (extra.fields), NOT_FOUND 404, FORBIDDEN 403.",
)
def ticket_type_create(request: HttpRequest, event_id: int, payload: TicketTypeIn):
    require_staff(request)
    created = services.ticket_type_create(event_id=event_id, **_fields(payload))
    return Status(201, _out(TicketType.objects.select_related("event").get(pk=created.pk)))


@router.put(
    "/ticket-types/{ticket_type_id}",
    response=TicketTypeOut,
    summary="Replace a ticket type and its prices (staff)",
    description="Seats already held or sold keep the price they got. "
    "VALIDATION_ERROR 422, NOT_FOUND 404, FORBIDDEN 403.",
)
def ticket_type_update(request: HttpRequest, ticket_type_id: int, payload: TicketTypeIn):
    require_staff(request)
    services.ticket_type_update(ticket_type_id=ticket_type_id, **_fields(payload))
    return _out(TicketType.objects.select_related("event").get(pk=ticket_type_id))


@router.delete(
    "/ticket-types/{ticket_type_id}",
    response={204: None},
    summary="Delete a ticket type nobody holds or bought (staff)",
    description="TICKET_TYPE_IN_USE 409, NOT_FOUND 404, FORBIDDEN 403.",
)
def ticket_type_delete(request: HttpRequest, ticket_type_id: int):
    require_staff(request)
    services.ticket_type_delete(ticket_type_id=ticket_type_id)
    return Status(204, None)


@router.put(
    "/events/{event_id}/fees",
    response=FeesOut,
    summary="Set an event's service fee (per ticket) and order fee (staff)",
    description="Seats already held or sold keep their fees. "
    "VALIDATION_ERROR 422, NOT_FOUND 404, FORBIDDEN 403.",
)
def event_fees_set(request: HttpRequest, event_id: int, payload: FeesIn):
    require_staff(request)
    event: Event = catalog_services.event_fees_set(
        event_id=event_id, service_fee=payload.service_fee, order_fee=payload.order_fee
    )
    return {"event_id": event.pk, "service_fee": event.service_fee, "order_fee": event.order_fee}
